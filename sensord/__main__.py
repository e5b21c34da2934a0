"""`python -m sensord` runs the command line, so tests can start it without an installed script."""

from sensord.cli import main

main()
