"""electsim: Monte Carlo election simulation from polls to seat and majority probabilities."""

from .config import Election, load_config
from .errors import ConfigError, InputError

__version__ = "0.1.0"
__all__ = ["Election", "load_config", "ConfigError", "InputError", "__version__"]
