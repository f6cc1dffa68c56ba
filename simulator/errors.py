"""The one exception type for user mistakes: bad configs, bad options, unwritable outputs.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2; anything else is a bug.
"""

from __future__ import annotations


class InputError(Exception):
    """A mistake in what the user gave us (a file, a key, an option), not a bug in electsim."""


class ConfigError(InputError):
    """A config file that cannot be read or breaks a rule; the message names the file, key and value."""

    def __init__(self, path: object, key: str | None, problem: str):
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)
