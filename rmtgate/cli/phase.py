"""``rmtgate phase-diagram``: the GRU phase diagram [G Fig. 2]."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from rmtgate.cli.common import emit_json
from rmtgate.errors import ParameterError, expected
from rmtgate.figures import check_figure_path
from rmtgate.mft.phase import bifurcation_ar, phase_diagram, plot_phase_diagram
from rmtgate.symbolic.builtins import gru, resolve_architecture
from rmtgate.validation import check_integer, check_real


def _check_grid(args: argparse.Namespace, axis: str) -> None:
    """``--{axis}-min < --{axis}-max``, both finite and >= 0, and a grid of at least one point."""
    low = check_real(getattr(args, f"{axis}_min"), f"--{axis}-min", minimum=0.0)
    high = check_real(getattr(args, f"{axis}_max"), f"--{axis}-max", minimum=0.0)
    if not low < high:
        raise ParameterError(expected(f"--{axis}-min < --{axis}-max (got --{axis}-min={low:g})", f"--{axis}-max", high))
    check_integer(getattr(args, f"n_{axis}"), f"--n-{axis}", 2)


def _cmd_phase(args: argparse.Namespace) -> int:
    # every check before the (minute-long) scan of the plane
    _check_grid(args, "ah")
    _check_grid(args, "ar")
    check_integer(args.curve_points, "--curve-points", 1)
    check_real(args.b_r, "--b-r")
    check_real(args.beta, "--beta")
    if args.plot:
        check_figure_path(args.plot)
    arch = resolve_architecture(args.architecture)
    if arch.spec_hash() != gru().spec_hash():
        raise ParameterError(
            expected("the built-in GRU (the phase diagram is a GRU result)", "architecture", arch.name)
        )
    if args.bifurcation_at is not None:
        a_r_star = bifurcation_ar(args.bifurcation_at, b_r=args.b_r)
        if args.json:
            emit_json({"a_h": args.bifurcation_at, "a_r_star": a_r_star})
        else:
            print(f"a_r*({args.bifurcation_at:g}) = {a_r_star:.10g}")
        return 0
    ah = np.linspace(args.ah_min, args.ah_max, args.n_ah)
    ar = np.linspace(args.ar_min, args.ar_max, args.n_ar)
    data = phase_diagram(ah, ar, b_r=args.b_r, beta=args.beta, curve_points=args.curve_points)
    payload = data.summary()
    if args.plot:
        payload["plot"] = str(plot_phase_diagram(data, args.plot))
    if args.json:
        emit_json(payload)
    else:
        print("bifurcation curve a_r*(a_h):")
        for h, r in data.bifurcation_curve:
            print(f"  a_h={h:.4f}  a_r*={r:.6f}")
        if args.plot:
            print(f"plot written to {payload['plot']}")
    return 0


def register(subparsers: Any) -> None:
    """Register ``phase-diagram gru [--plot FILE] [--json]`` on an argparse subparsers object."""
    p = subparsers.add_parser("phase-diagram", help="GRU fixed-point phase diagram in (a_h, a_r) [G Fig. 2]")
    p.add_argument("architecture", help="gru (the phase diagram is specific to the GRU)")
    p.add_argument("--plot", metavar="FILE", help="write the figure (PNG, PDF, SVG)")
    p.add_argument("--json", action="store_true", help="print the data as JSON")
    p.add_argument("--b-r", dest="b_r", type=float, default=0.0, help="reset-gate bias b_r (default 0)")
    p.add_argument("--beta", type=float, default=0.0, help="b_z / a_z for the marginal-stability region [G 28]")
    p.add_argument("--ah-min", type=float, default=1.0)
    p.add_argument("--ah-max", type=float, default=3.0)
    p.add_argument("--n-ah", type=int, default=21)
    p.add_argument("--ar-min", type=float, default=0.0)
    p.add_argument("--ar-max", type=float, default=10.0)
    p.add_argument("--n-ar", type=int, default=21)
    p.add_argument("--curve-points", type=int, default=8, help="points on the bifurcation curve (within the a_h range)")
    p.add_argument("--bifurcation-at", type=float, metavar="A_H", help="print only a_r*(A_H) (needs sqrt(2) < A_H < 2)")
    p.set_defaults(handler=_cmd_phase)
