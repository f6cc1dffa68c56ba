"""``python -m simulator`` runs the electsim command line."""

from .cli import main

main()
