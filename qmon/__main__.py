"""`python -m qmon` runs the command line."""

from qmon.cli import main

main()
