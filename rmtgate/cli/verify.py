"""``rmtgate verify``: every prediction against simulations."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _cmd_verify(args: argparse.Namespace) -> int:
    from rmtgate.verification.checks import format_table, run_checks, write_report

    profile = "thorough" if args.thorough else ("gpu" if args.backend == "cupy" and not args.quick else "ci")
    report = run_checks(
        profile,
        backend=args.backend,
        only=args.only,
        progress=lambda c: print(f"running {c.name} ...", file=sys.stderr),
    )
    print(format_table(report))
    if args.report:
        print(f"report: {write_report(report, args.report)}")
    print(f"{sum(r.passed for r in report.results)} passed, {sum(not r.passed for r in report.results)} failed")
    return 0 if report.passed else 1


def register(subparsers: Any) -> None:
    """Add the ``verify`` command."""
    verify = subparsers.add_parser("verify", help="check every prediction against simulations")
    speed = verify.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="the ci profile (default)")
    speed.add_argument("--thorough", action="store_true", help="bigger N, more checks")
    verify.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    verify.add_argument("--report", metavar="DIR", help="write report.md and figures into DIR")
    verify.add_argument("--only", action="append", metavar="PREFIX", help="run checks whose names start with PREFIX")
    verify.set_defaults(handler=_cmd_verify)
