"""`python -m qwthn` runs the CLI."""

from qwthn.cli import main

main()
