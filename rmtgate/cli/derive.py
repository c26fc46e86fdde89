"""``rmtgate derive``: the derivation chain as LaTeX or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from rmtgate.cli.common import emit_json
from rmtgate.symbolic.builtins import resolve_architecture


def _cmd_derive(args: argparse.Namespace) -> int:
    from rmtgate.symbolic.derive import derive

    derivation = derive(resolve_architecture(args.architecture), cache=not args.no_cache)
    if args.json:
        emit_json(derivation.to_json())
    else:
        print(derivation.latex())
    return 0


def register(subparsers: Any) -> None:
    """Add the ``derive`` command."""
    derive = subparsers.add_parser(
        "derive",
        help="derive Jacobian, linearization, boundary and the density's Dyson equation; print LaTeX or JSON",
        description="Print the derivation chain: LaTeX by default, or one JSON document with --json "
        "(the same equations as LaTeX strings plus the architecture summary). One format per call.",
    )
    derive.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    # one output format per call: stdout stays parseable (no JSON followed by LaTeX)
    fmt = derive.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true", help="print the LaTeX fragment (the default)")
    fmt.add_argument("--json", action="store_true", help="print one JSON document: summary and every equation")
    derive.add_argument("--no-cache", action="store_true", help="ignore the on-disk derivation cache")
    derive.set_defaults(handler=_cmd_derive)
