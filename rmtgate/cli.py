"""Command-line interface: ``rmtgate derive | demo | ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .architecture import Architecture
from .errors import RmtgateError


def resolve_architecture(name_or_path: str) -> Architecture:
    """A built-in name (``gru``) or a path to a TOML spec file."""
    from .builtins import BUILTINS, builtin
    from .spec import load_spec

    if name_or_path in BUILTINS:
        return builtin(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_spec(path)
    return builtin(name_or_path)  # raises with the list of built-ins


def _cmd_derive(args: argparse.Namespace) -> int:
    from .derive import derive

    derivation = derive(resolve_architecture(args.architecture), cache=not args.no_cache)
    if args.json:
        print(json.dumps(derivation.summary(), indent=2))
    if args.latex or not args.json:
        print(derivation.latex())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .builtins import gru, lstm
    from .derive import derive

    for arch in (gru(), lstm()):
        derivation = derive(arch)
        print(f"=== {arch.name}: {arch.description} ===")
        print(derivation.latex())
        print(f"Schur identity holds: {derivation.schur_identity_holds}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmtgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    derive = commands.add_parser("derive", help="derive Jacobian and linearization; print LaTeX or JSON")
    derive.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    derive.add_argument("--latex", action="store_true", help="print the LaTeX fragment")
    derive.add_argument("--json", action="store_true", help="print a machine-readable summary")
    derive.add_argument("--no-cache", action="store_true", help="ignore the on-disk derivation cache")
    derive.set_defaults(handler=_cmd_derive)

    demo = commands.add_parser("demo", help="the main job on built-in defaults")
    demo.set_defaults(handler=_cmd_demo)
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
