"""``rmtgate verify``: every prediction against simulations, and the theory's mutants."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rmtgate.cli.common import emit_json, progress_bar, show_progress


def _progress_line(index: int, total: int, name: str, quiet: bool) -> None:
    """``[k/n] name`` on stderr (a bar on a terminal is drawn by the caller)."""
    if not quiet and not show_progress():
        print(f"[{index}/{total}] running {name} ...", file=sys.stderr, flush=True)


def _cmd_mutants(args: argparse.Namespace) -> int:
    from rmtgate.verification.mutation import Scenario, mutation_report

    profile = "thorough" if args.thorough else "quick"
    progress = lambda i, n, name: _progress_line(i, n, name, args.quiet)  # noqa: E731
    scenarios = None
    if args.architecture:
        from rmtgate.numerics.parameters import parse_parameters, resolve_parameters
        from rmtgate.symbolic.builtins import resolve_architecture

        arch = resolve_architecture(args.architecture)
        params = resolve_parameters(arch, parse_parameters(args.param))
        scenarios = (Scenario(arch.name, args.architecture, params),)
    report = mutation_report(
        profile, backend=args.backend, only=args.only, scenarios=scenarios, N=args.N, progress=progress
    )
    if args.report:
        path = Path(args.report)
        path.mkdir(parents=True, exist_ok=True)
        (path / "mutants.json").write_text(json.dumps(report, indent=2, default=float))
    if args.json:
        emit_json(report)
    else:
        print(f"{'mutant':44} {'effect':>8} {'resolution':>10}  killed by")
        for m in report["mutants"]:
            print(f"{m['name']:44} {m['effect']:8.3g} {m['resolution']:10.3g}  {', '.join(m['killed_by']) or '—'}")
        print(f"mutation score {report['mutation_score']:.3f} (over mutants whose effect exceeds the resolution)")
    return 0 if report["mutation_score"] == 1.0 else 1


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.mutants:
        return _cmd_mutants(args)
    from rmtgate.verification.checks import Check, Report, format_table, run_checks, select_checks, write_report

    profile = "thorough" if args.thorough else ("gpu" if args.backend == "cupy" and not args.quick else "ci")
    total = len(select_checks(profile, args.only))  # also rejects an --only that matches nothing, before any work
    bar = progress_bar("verify", total=total, quiet=args.quiet)
    done = 0

    def progress(check: Check) -> None:
        nonlocal done
        if done:
            bar.update(1)  # the previous check has finished
        done += 1
        bar.set_postfix_str(check.name)
        _progress_line(done, total, check.name, args.quiet)

    def write(report: Report) -> None:
        if args.report:
            write_report(report, args.report)  # after every check: an interrupted run keeps what it did

    report = run_checks(profile, backend=args.backend, only=args.only, progress=progress, on_result=write)
    bar.update(1 if done else 0)
    bar.close()
    if args.json:
        payload = [
            {
                "check": r.check.name,
                "passed": r.passed,
                "theory": None if r.outcome is None else r.outcome.theory,
                "simulation": None if r.outcome is None else r.outcome.simulation,
                "error": None if r.outcome is None else r.outcome.error,
                "tolerance": r.check.tolerance,
                "failure": r.failure,
                "seconds": r.seconds,
            }
            for r in report.results
        ]
        emit_json({"profile": profile, "checks": payload, "passed": report.passed})
    else:
        print(format_table(report))
        if args.report:
            print(f"report: {Path(args.report) / 'report.md'}")
        print(f"{sum(r.passed for r in report.results)} passed, {sum(not r.passed for r in report.results)} failed")
    return 0 if report.passed else 1


def register(subparsers: Any) -> None:
    """Add the ``verify`` command."""
    verify = subparsers.add_parser(
        "verify",
        help="check every prediction against simulations (--mutants: which checks reject wrong theories)",
    )
    verify.add_argument(
        "architecture",
        nargs="?",
        help="with --mutants: a built-in name or spec.toml to run the mutation checks on (default: the profile's)",
    )
    verify.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="parameters of ARCHITECTURE")
    speed = verify.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="the ci profile (default)")
    speed.add_argument("--thorough", action="store_true", help="bigger N, more checks")
    verify.add_argument("--mutants", action="store_true", help="run every check against every theory mutant")
    verify.add_argument(
        "--N", type=int, default=None, help="network size for --mutants (default: 1000 quick, 2000 thorough)"
    )
    verify.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    verify.add_argument("--report", metavar="DIR", help="write report.md (or mutants.json) into DIR as checks finish")
    verify.add_argument("--only", action="append", metavar="PREFIX", help="run checks whose names start with PREFIX")
    verify.add_argument("--json", action="store_true", help="print the results as JSON")
    verify.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    verify.set_defaults(handler=_cmd_verify)
