"""The command line: a thin shell over the domain packages (one module per command group)."""
