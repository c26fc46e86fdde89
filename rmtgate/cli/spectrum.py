"""``rmtgate spectrum``: predicted spectral curve, optionally over simulated eigenvalues."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rmtgate.cli.common import emit_json
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.builtins import resolve_architecture
from rmtgate.symbolic.derive import derive
from rmtgate.validation import check_integer


def _check_arguments(args: argparse.Namespace) -> None:
    """Every argument check that costs nothing, before any derivation or simulation."""
    from rmtgate.figures import check_figure_path

    if args.simulate is not None:
        check_integer(args.simulate, "--simulate", 2)
    check_integer(args.steps, "--steps", 1)
    check_integer(args.ensemble, "--ensemble", 1)
    check_integer(args.angles, "--angles", 8)
    if args.plot:
        check_figure_path(args.plot)


def _cmd_spectrum(args: argparse.Namespace) -> int:
    from rmtgate.figures import parameter_title, save_spectrum
    from rmtgate.numerics.curves import spectral_curve
    from rmtgate.numerics.evaluators import evaluator
    from rmtgate.numerics.parameters import resolve_parameters
    from rmtgate.numerics.samples import zero_state
    from rmtgate.verification.compare import compare_with_simulation

    _check_arguments(args)
    arch = resolve_architecture(args.architecture)
    params = parse_parameters(args.param)
    if args.simulate is not None:
        from rmtgate.simulation.simulate import check_memory

        check_memory(arch, args.simulate, ensemble=args.ensemble)
    state = args.state or ("network" if args.simulate is not None else "zero")
    output: dict[str, Any] = {"architecture": arch.name, "state": state}
    eigenvalues = None
    bnd = derive(arch).boundary
    steady = None
    if state == "steady":
        from rmtgate.mft.steady_spectrum import steady_spectrum

        if not args.quiet:
            # the DMFT iteration takes seconds to minutes: say what is running
            print("solving steady-state DMFT ...", file=sys.stderr)
        steady = steady_spectrum(arch, params, seed=args.seed, n_angles=args.angles)
    if args.simulate is not None:
        sample: str | LocalSample = state
        if steady is not None:
            sample = steady.sample
        elif state not in ("network", "zero"):
            sample = LocalSample.load(state)
        if not args.quiet:
            print(f"simulating N={args.simulate} ({args.steps} steps) ...", file=sys.stderr)
        comparison = compare_with_simulation(
            arch,
            params,
            N=args.simulate,
            steps=args.steps,
            seed=args.seed,
            ensemble=args.ensemble,
            state=sample,
            n_angles=args.angles,
        )
        curve, eigenvalues = comparison.curve, comparison.eigenvalues
        resolved = comparison.params
        output["simulated"] = comparison.summary()
        used = comparison.sample
    else:
        resolved = resolve_parameters(arch, params)
        if state == "zero":
            used = zero_state(bnd, resolved)
        elif state == "network":
            from rmtgate.errors import StateError, expected

            raise StateError(expected("--simulate N with --state network", "state", state))
        elif steady is not None:
            used = steady.sample
        else:
            used = LocalSample.load(state)
        curve = (
            steady.curve if steady is not None else spectral_curve(evaluator(bnd, used, resolved), n_angles=args.angles)
        )
    output["parameters"] = resolved
    if args.bounds and used is not None:
        from rmtgate.numerics.curves import bounding_evaluators

        inner, outer = bounding_evaluators(bnd, used, resolved)
        output["bounding_radii"] = {
            "inner": spectral_curve(inner, n_angles=args.angles).spectral_radius,
            "outer": spectral_curve(outer, n_angles=args.angles).spectral_radius,
        }
    output["spectral_radius"] = curve.spectral_radius
    if steady is not None:
        # the steady state is Monte Carlo: its radius carries an error bar (spread of the DMFT replicas)
        summary = steady.summary()
        output.update({k: summary[k] for k in ("spectral_radius_error", "replica_radii", "sample_size", "dmft")})
    # JSON floats are doubles: ρ − 1 ~ e^{−c a_z} and a centre 1 − 1e-18 need decimal strings
    output["spectral_radius_minus_one"] = curve.spectral_radius_minus_one()
    output["center"] = curve.center
    output["center_decimal"] = curve.center_decimal()
    output["support"] = curve.support
    output["support_radius"] = curve.support_radius
    output["precision"] = curve.precision
    output["rays_with_several_crossings"] = curve.multiple_crossings
    output["curve"] = curve.to_json()
    if args.plot:
        written = save_spectrum(args.plot, curve, eigenvalues, title=parameter_title(arch.name, resolved))
        output["plot"] = str(written)
    if args.json:
        emit_json(output)
    else:
        error = "" if output.get("spectral_radius_error") is None else f" ± {output['spectral_radius_error']:.2g}"
        print(
            f"{arch.name}: spectral radius {curve.spectral_radius:.6g}{error} (ρ − 1 = {curve.spectral_radius_minus_one(6)}; "
            f"{curve.support}, {curve.precision}; {state} statistics)"
        )
        if "bounding_radii" in output:
            radii = output["bounding_radii"]
            print(f"bounding sets [G 88-90]: inner radius {radii['inner']:.6g}, outer radius {radii['outer']:.6g}")
        if "simulated" in output:
            sim = output["simulated"]
            print(f"simulated N={sim['N']}: max|eig| {sim['spectral_radius']:.6g}, inside {sim['fraction_inside']:.3f}")
        if "plot" in output:
            print(f"plot written to {output['plot']}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``spectrum`` command."""
    spectrum = subparsers.add_parser("spectrum", help="predicted spectral curve (and simulated eigenvalues)")
    spectrum.add_argument("architecture", help="built-in name or spec.toml")
    spectrum.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="parameter value (repeat; each name once)"
    )
    spectrum.add_argument(
        "--state",
        help="statistics: zero (zero fixed point), network (the simulated network), steady (mean-field), or FILE.npz",
    )
    spectrum.add_argument(
        "--simulate", type=int, metavar="N", help="simulate N >= 2 neurons and overlay their eigenvalues"
    )
    spectrum.add_argument("--steps", type=int, default=500, help="simulation steps (default 500)")
    spectrum.add_argument("--ensemble", type=int, default=1, help="independent networks (default 1)")
    spectrum.add_argument("--seed", type=int, default=0)
    spectrum.add_argument("--angles", type=int, default=720, help="rays for the curve (default 720)")
    spectrum.add_argument("--plot", metavar="FILE", help="write a figure (png/pdf/svg) into an existing folder")
    spectrum.add_argument(
        "--bounds", action="store_true", help="also the radii of the bounding sets Σ(ρ,0) ⊆ Σ ⊆ Σ(ρ,ν) [G 88-90]"
    )
    spectrum.add_argument("--json", action="store_true", help="print one JSON document")
    spectrum.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    spectrum.set_defaults(handler=_cmd_spectrum)
