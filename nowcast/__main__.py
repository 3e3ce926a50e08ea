"""Allow ``python -m nowcast``."""

from nowcast.cli import main

main()
