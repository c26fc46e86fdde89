"""``rmtgate derive``: the derivation chain as LaTeX or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rmtgate.symbolic.builtins import resolve_architecture


def _cmd_derive(args: argparse.Namespace) -> int:
    from rmtgate.symbolic.derive import derive

    derivation = derive(resolve_architecture(args.architecture), cache=not args.no_cache)
    if args.json:
        summary = derivation.summary()
        dyson = derivation.dyson
        summary["dyson"] = {
            "latex": dyson.latex().splitlines(),
            "unknowns": [s.name for s in (*dyson.u, *dyson.v)],
            "n_state": dyson.n_state,
            "closed_form": bool(dyson.equations),
        }
        print(json.dumps(summary, indent=2))
    if args.latex or not args.json:
        print(derivation.latex())
    return 0


def register(subparsers: Any) -> None:
    """Add the ``derive`` command."""
    derive = subparsers.add_parser(
        "derive", help="derive Jacobian, linearization, boundary and the density's Dyson equation; print LaTeX or JSON"
    )
    derive.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    derive.add_argument("--latex", action="store_true", help="print the LaTeX fragment")
    derive.add_argument("--json", action="store_true", help="print a machine-readable summary")
    derive.add_argument("--no-cache", action="store_true", help="ignore the on-disk derivation cache")
    derive.set_defaults(handler=_cmd_derive)
