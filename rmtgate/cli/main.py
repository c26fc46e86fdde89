"""Command-line interface: ``rmtgate derive | spectrum | density | mft | phase-diagram | verify | sweep | plot | train | reproduce | demo``.

A thin shell: each command group is one module of this package with a ``register`` function;
the domain packages never import this one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rmtgate import __version__
from rmtgate.errors import RmtgateError

#: command modules, in the order ``--help`` lists them
COMMANDS = ("derive", "spectrum", "density", "mft", "phase", "verify", "sweep", "plot", "train", "reproduce", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmtgate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"rmtgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"rmtgate.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except RmtgateError as err:
        print(f"rmtgate: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
