"""``rmtgate reproduce``: figures of [S]."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rmtgate.errors import ParameterError, expected
from rmtgate.training.lowrank import FIGURES


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Handler of ``rmtgate reproduce s1 ... s5``."""
    names = args.figures
    for name in names:
        if name not in FIGURES:
            raise ParameterError(expected(f"figures among {sorted(FIGURES)}", "figure", name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name in names:
        summary[name] = FIGURES[name](out, full=args.full)
        print(f"wrote {out / (name + '.png')}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return 0


def register(subparsers: Any) -> None:
    """Register ``reproduce s1 ... s5 [--full] [--out DIR]``."""
    parser = subparsers.add_parser("reproduce", help="figures like [S] Fig. S1-S5 (small N unless --full)")
    parser.add_argument("figures", nargs="+", help="any of s1 s2 s3 s4 s5")
    parser.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    parser.add_argument("--out", default="figures", help="output directory (default ./figures)")
    parser.set_defaults(handler=cmd_reproduce)
