"""``rmtgate mft``: mean-field fixed points and steady-state DMFT."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import mpmath

from rmtgate.cli.common import emit_json
from rmtgate.errors import ParameterError, expected
from rmtgate.figures import check_figure_path
from rmtgate.mft.dmft import steady_state
from rmtgate.mft.fixed_points import MAX_DPS, fixed_points
from rmtgate.mft.steady_marginal import approach_figure, steady_approach
from rmtgate.mft.system import fixed_point_system
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.symbolic.builtins import resolve_architecture
from rmtgate.validation import check_integer


def _dmft_options(args: argparse.Namespace) -> dict[str, Any]:
    """The steady-state DMFT settings the command line sets, for ``--steady-state`` and ``--approach`` alike."""
    return {
        "trajectories": args.trajectories,
        "replicas": args.replicas,
        "steps": args.steps,
        "lags": args.lags,
        "max_lags": args.max_lags,
    }


def _parse_approach(text: str) -> tuple[str, list[float]]:
    """``"a_z=3,5,7,10"`` → ``("a_z", [3.0, 5.0, 7.0, 10.0])`` (typed errors on bad input)."""
    name, sep, listed = text.partition("=")
    name = name.strip()
    if not sep or not name or not listed.strip():
        raise ParameterError(expected("--approach NAME=V1,V2,...", "approach", text))
    values = []
    for item in listed.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise ParameterError(expected(f"comma-separated numbers for {name}", name, item)) from None
    if len(values) < 2:
        raise ParameterError(expected(f"at least two values of {name} (a decay is fitted)", name, listed))
    return name, values


def _cmd_approach(args: argparse.Namespace, arch: Any, params: dict[str, float]) -> int:
    gain, values = _parse_approach(args.approach)
    if args.plot is not None:
        check_figure_path(args.plot)  # before minutes of solving
    if gain in params:
        raise ParameterError(expected(f"{gain} set by --approach only, not also by -p", "parameter", gain))
    result = steady_approach(
        arch,
        params,
        gain,
        values,
        seed=args.seed,
        repeats=args.repeats,
        **_dmft_options(args),
        progress=None if args.quiet else (lambda line: print(line, file=sys.stderr)),
    )
    summary = result.summary(minimum_gain=args.fit_from)
    if args.plot is not None:
        approach_figure(result, args.plot, minimum_gain=args.fit_from)
    if args.json:
        emit_json(summary)
        return 0
    moment = f"C_{summary['state']}(0)"
    for point in summary["points"]:
        print(
            f"{gain} = {point[gain]:g}: spectral radius {point['spectral_radius']:.5f} ± "
            f"{point['spectral_radius_error']:.1g}, rho - 1 = {point['excess']:.4g}; {moment} = {point['C0']:.4f}, "
            f"correlation time {point['correlation_time']:.3g}, window {point['window']} ({point['seconds']:.0f} s)"
        )
    fit = summary["fit"]
    if "error" in fit:
        print(f"no decay fitted: {fit['error']}")
    else:
        print(
            f"rho - 1 ~ exp(-kappa {gain}) over {gain} in {fit['gains']}: kappa = {fit['rate']:.4f} ± "
            f"{fit['rate_error']:.2g}; kappa / mean sqrt({moment}) = {fit['exponent_c']:.4f} ± {fit['exponent_c_error']:.2g}"
        )
    return 0


def _cmd_mft(args: argparse.Namespace) -> int:
    if args.dps is not None:  # checked before any work (the domain checks it again)
        check_integer(args.dps, "--dps", 15, MAX_DPS)
    arch = resolve_architecture(args.architecture)
    params = parse_parameters(args.param)
    if args.approach is not None:
        return _cmd_approach(args, arch, params)
    if args.steady_state:
        if not args.quiet:
            print("solving steady-state DMFT ...", file=sys.stderr)
        result = steady_state(arch, params, seed=args.seed, **_dmft_options(args))
        payload: dict[str, Any] = {"architecture": arch.name, "parameters": result.parameters}
        payload.update(result.summary())
        if args.json:
            emit_json(payload)
        else:
            errors = result.C0_error
            moments = ", ".join(f"C_{k}(0) = {v:.5g} ± {errors[k]:.2g}" for k, v in result.C0.items())
            print(
                f"{arch.name}: steady state {moments} ({result.replicas} replicas); window {len(result.lags)} lags, "
                f"correlation time {result.correlation_time:.3g} steps, {result.iterations} iterations"
                + (
                    ""
                    if result.polished
                    else "; stopped at the Monte Carlo noise (too few paths per replica, or too rough a map, "
                    "to iterate below it): the moments may be biased beyond their error bars"
                )
            )
        return 0
    solutions = fixed_points(arch, params, dps=args.dps)
    rows = []
    for fp in solutions:
        row = fp.summary()
        if args.dps is not None and fp.exact is not None:
            row["exact"] = {k: mpmath.nstr(v, args.dps) for k, v in fp.exact.items()}
        rows.append(row)
    if args.json:
        first = arch.local_form.state[0].name
        for row in rows:
            row.setdefault("C_h", row[f"C_{first}"])
        emit_json({"architecture": arch.name, "parameters": solutions[0].parameters, "solutions": rows})
    else:
        print(fixed_point_system(arch).latex())
        for row in rows:
            moments = ", ".join(f"C_{k}={v:.10g}" for k, v in row["C"].items())
            print(f"  {moments}  rho_0={row['rho_0']}  stable={row['stable']} ({row['stability_rule']})")
    return 0


def register(subparsers: Any) -> None:
    """Register ``mft ARCH -p name=value ... [--fixed-point | --steady-state] [--json]``."""
    p = subparsers.add_parser("mft", help="mean-field theory: fixed points (default) or steady-state DMFT")
    p.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fixed-point", action="store_true", help="all fixed-point solutions (default)")
    mode.add_argument("--steady-state", action="store_true", help="steady-state DMFT by Monte Carlo")
    mode.add_argument(
        "--approach",
        metavar="NAME=V1,V2,...",
        default=None,
        help="steady-state spectral radius at each value of one gain (e.g. a_z=3,5,7,10), warm-started in "
        "that order, and the fit rho - 1 ~ exp(-kappa NAME) ([G] Thm 4.8 from DMFT statistics)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--dps", type=int, default=None, help=f"refine fixed points with mpmath at this many digits (15-{MAX_DPS})"
    )
    p.add_argument("--trajectories", type=int, default=2048, help="DMFT Monte Carlo paths, all replicas together")
    p.add_argument(
        "--replicas",
        type=int,
        default=4,
        help="independent self-consistent DMFT solutions (their spread: the error bar)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="DMFT stationary steps per path (default: 4 x window, at least 512)"
    )
    p.add_argument(
        "--lags",
        type=int,
        default=None,
        help="fixed DMFT memory window in steps (at most steps/2; a window the dynamics outlast is refused); "
        "default: doubled from 64 until the correlation function levels off",
    )
    p.add_argument("--max-lags", type=int, default=8192, help="largest adaptive DMFT window before giving up")
    p.add_argument("--seed", type=int, default=0, help="DMFT random seed")
    p.add_argument(
        "--fit-from", type=float, default=float("-inf"), help="with --approach: fit only gains at or above this"
    )
    p.add_argument("--plot", default=None, metavar="FILE", help="with --approach: figure of rho - 1 (png/pdf/svg)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="with --approach: independent solves per point (seeds SEED, SEED+1, ...); their spread enters the "
        "error bar (slow dynamics: which window confirms varies between solves)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(handler=_cmd_mft)
