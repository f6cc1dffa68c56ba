"""The ``electsim`` command line: a thin typer skin over documented Python functions.

Each command parses its options, calls one library function, and prints. A user mistake
(:class:`~simulator.errors.InputError`) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .errors import InputError

app = typer.Typer(
    name="electsim",
    help="Monte Carlo election simulator: polls -> seat and majority probabilities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _friendly(func):
    """Turn user mistakes into one line and exit code 2, Ctrl-C into exit code 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            err_console.print(f"electsim: error: {exc}", markup=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("electsim: interrupted; no output files were written", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"electsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Monte Carlo election simulator: polls -> seat and majority probabilities."""


@app.command()
@_friendly
def allocate(
    config: Path = typer.Argument(..., help="Election config (TOML) with a [result] table."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of a table."),
) -> None:
    """Allocate the seats of the config's actual result under its rules."""
    from .allocation import allocate_result
    from .config import load_config
    from .report import allocation_json, allocation_table

    election = load_config(config)
    rows = allocate_result(election)
    if as_json:
        sys.stdout.write(json.dumps(allocation_json(election, rows), indent=2) + "\n")
    else:
        console.print(allocation_table(election, rows))


def main() -> None:
    """Entry point of the ``electsim`` console script."""
    app()
