"""``rmtgate verify``: every prediction against simulations."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rmtgate.cli.common import progress_bar, show_progress


def _cmd_verify(args: argparse.Namespace) -> int:
    from rmtgate.verification.checks import Check, format_table, run_checks, select_checks, write_report

    profile = "thorough" if args.thorough else ("gpu" if args.backend == "cupy" and not args.quick else "ci")
    total = len(select_checks(profile, args.only))  # also rejects an --only that matches nothing, before any work
    bar = progress_bar("verify", total=total, quiet=args.quiet)
    done = 0

    def report_progress(check: Check) -> None:
        nonlocal done
        if done:
            bar.update(1)  # the previous check has finished
        done += 1
        bar.set_postfix_str(check.name)
        if not args.quiet and not show_progress():
            # no terminal (a CI log): one line per check instead of a bar
            print(f"[{done}/{total}] running {check.name} ...", file=sys.stderr)

    report = run_checks(profile, backend=args.backend, only=args.only, progress=report_progress)
    bar.update(1 if done else 0)
    bar.close()
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
    verify.add_argument("--quiet", action="store_true", help="no progress on stderr")
    verify.set_defaults(handler=_cmd_verify)
