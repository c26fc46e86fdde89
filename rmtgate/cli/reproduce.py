"""``rmtgate reproduce``: figures of [S] (``s1`` ... ``s5``) and of [G] (``g-fig1e``, ``g-fig1f``, ``g-fig2``, ``g-fig4``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rmtgate.errors import ParameterError, expected
from rmtgate.training.s_figures import FIGURES as S_FIGURES


def _figure_g4(out: Path, *, full: bool = False) -> dict[str, Any]:
    from rmtgate.training.gfig4 import figure_g4  # imported on use: it pulls in the training stack

    return figure_g4(out, full=full)


FIGURES = {**S_FIGURES, "g-fig4": _figure_g4}


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Handler of ``rmtgate reproduce s1 ... s5 g-fig4``."""
    names = args.figures
    figures = {**FIGURES, **_g_figures()}
    for name in names:
        if name not in figures:
            raise ParameterError(expected(f"figures among {sorted(figures)}", "figure", name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name in names:
        summary[name] = figures[name](out, full=args.full)
        print(f"wrote {out / (name + '.png')}", file=sys.stderr if args.json else sys.stdout)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    if args.json:
        # one figure: its own summary at top level (``reproduce s5 --json`` → {"final_loss": ...})
        print(json.dumps(summary[names[0]] if len(names) == 1 else summary, indent=2, default=float))
    return 0


def _g_figures() -> dict[str, Any]:
    """[G] figures, built from sweeps (imported lazily: they need the ``sweep`` extra)."""

    def fig1e(out: Path, *, full: bool) -> dict[str, Any]:
        from rmtgate.sweep.figures import g_fig1e

        return g_fig1e(out, full=full)

    def fig2(out: Path, *, full: bool) -> dict[str, Any]:
        from rmtgate.sweep.figures import g_fig2

        return g_fig2(out, full=full)

    def fig1f(out: Path, *, full: bool) -> dict[str, Any]:
        from rmtgate.verification.slow_modes import g_fig1f

        return g_fig1f(out, full=full)

    return {"g-fig1e": fig1e, "g-fig1f": fig1f, "g-fig2": fig2}


def register(subparsers: Any) -> None:
    """Register ``reproduce s1 ... s5 g-fig1e g-fig2 g-fig4 [--full] [--out DIR] [--json]``."""
    parser = subparsers.add_parser(
        "reproduce", help="figures like [S] Fig. S1-S5 and [G] Fig. 1e, 2, 4 (small sizes unless --full)"
    )
    parser.add_argument("figures", nargs="+", help="any of s1 s2 s3 s4 s5 g-fig1e g-fig1f g-fig2 g-fig4")
    parser.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    parser.add_argument("--out", default="figures", help="output directory (default ./figures)")
    parser.add_argument("--json", action="store_true", help="print the figures' numbers as JSON")
    parser.set_defaults(handler=cmd_reproduce)
