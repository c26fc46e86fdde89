"""Command-line interface: ``rmtgate derive | demo | ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rmtgate.errors import RmtgateError
from rmtgate.symbolic.architecture import Architecture

if TYPE_CHECKING:
    from rmtgate.numerics.samples import LocalSample


def resolve_architecture(name_or_path: str) -> Architecture:
    """A built-in name (``gru``) or a path to a TOML spec file."""
    from rmtgate.symbolic.builtins import BUILTINS, builtin
    from rmtgate.symbolic.spec import load_spec

    if name_or_path in BUILTINS:
        return builtin(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_spec(path)
    return builtin(name_or_path)  # raises with the list of built-ins


def _cmd_derive(args: argparse.Namespace) -> int:
    from rmtgate.symbolic.derive import derive

    derivation = derive(resolve_architecture(args.architecture), cache=not args.no_cache)
    if args.json:
        print(json.dumps(derivation.summary(), indent=2))
    if args.latex or not args.json:
        print(derivation.latex())
    return 0


def parse_parameters(pairs: Sequence[str] | None) -> dict[str, float]:
    """``["a_h=3", "b_z=0.5"]`` → ``{"a_h": 3.0, "b_z": 0.5}`` (typed errors on bad input)."""
    from rmtgate.errors import ParameterError, expected

    out: dict[str, float] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(expected("-p NAME=VALUE", "parameter", pair))
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ParameterError(expected(f"a number for {name.strip()}", name.strip(), value)) from None
    return out


def _cmd_spectrum(args: argparse.Namespace) -> int:
    from rmtgate.figures import parameter_title, save_spectrum
    from rmtgate.numerics.curves import spectral_curve
    from rmtgate.numerics.evaluators import evaluator
    from rmtgate.numerics.parameters import resolve_parameters
    from rmtgate.numerics.samples import zero_state
    from rmtgate.symbolic.derive import derive
    from rmtgate.verification.compare import compare_with_simulation

    arch = resolve_architecture(args.architecture)
    params = parse_parameters(args.param)
    state = args.state or ("network" if args.simulate else "zero")
    output: dict[str, object] = {"architecture": arch.name, "state": state}
    eigenvalues = None
    if args.simulate:
        sample: str | LocalSample = state
        if state not in ("network", "zero"):
            sample = _state_sample(arch, params, state, args)
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
        output["parameters"] = comparison.params
        output["simulated"] = comparison.summary()
    else:
        resolved = resolve_parameters(arch, params)
        bnd = derive(arch).boundary
        if state == "zero":
            sample = zero_state(bnd, resolved)
        elif state == "network":
            from rmtgate.errors import StateError, expected

            raise StateError(expected("--simulate N with --state network", "state", state))
        else:
            sample = _state_sample(arch, params, state, args)
        curve = spectral_curve(evaluator(bnd, sample, resolved), n_angles=args.angles)
        output["parameters"] = resolved
        if args.bounds:
            from rmtgate.numerics.curves import bounding_evaluators

            inner, outer = bounding_evaluators(bnd, sample, resolved)
            output["bounding_radii"] = {
                "inner": spectral_curve(inner, n_angles=args.angles).spectral_radius,
                "outer": spectral_curve(outer, n_angles=args.angles).spectral_radius,
            }
    output["spectral_radius"] = curve.spectral_radius
    output["center"] = curve.center
    output["rays_with_several_crossings"] = curve.multiple_crossings
    output["curve"] = curve.to_json()
    if args.plot:
        save_spectrum(args.plot, curve, eigenvalues, title=parameter_title(arch.name, output["parameters"]))  # type: ignore[arg-type]
        output["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(output, indent=1))
    else:
        print(f"{arch.name}: spectral radius {curve.spectral_radius:.6g} ({state} statistics)")
        if "simulated" in output:
            sim = output["simulated"]
            print(f"simulated N={sim['N']}: max|eig| {sim['spectral_radius']:.6g}, inside {sim['fraction_inside']:.3f}")  # type: ignore[index]
    return 0


def _state_sample(arch: Architecture, params: dict[str, float], state: str, args: argparse.Namespace) -> LocalSample:
    """A saved ``.npz`` state, or the mean-field steady state (``steady``)."""
    from rmtgate.numerics.samples import LocalSample

    if state == "steady":
        return steady_state_sample(arch, params, seed=args.seed)
    return LocalSample.load(state)


def steady_state_sample(
    arch: Architecture, params: dict[str, float], *, seed: int = 0, size: int = 4000
) -> LocalSample:
    """Pure theory: the joint one-time local variables drawn from the steady-state DMFT."""
    from rmtgate.mft.dmft import steady_state

    return steady_state(arch, params, seed=seed).local_sample(size, seed)


def _cmd_demo(args: argparse.Namespace) -> int:
    from rmtgate.figures import parameter_title, save_panels
    from rmtgate.symbolic.builtins import gru, lstm
    from rmtgate.symbolic.derive import derive
    from rmtgate.verification.checks import GRU_FIG1, LSTM_FIG3
    from rmtgate.verification.compare import compare_with_simulation

    for arch in (gru(), lstm()):
        derivation = derive(arch)
        print(f"=== {arch.name}: {arch.description} ===")
        print(derivation.latex())
        print(f"Schur identity holds: {derivation.schur_identity_holds}\n")
    out = Path(args.out)
    rows = []
    for arch, sets, figure in ((gru(), GRU_FIG1, "gru_fig1.png"), (lstm(), LSTM_FIG3, "lstm_fig3.png")):
        panels = []
        for params in _progress(sets, f"{arch.name} panels (N={args.N})"):
            comparison = compare_with_simulation(arch, params, N=args.N, steps=500, seed=args.seed, n_angles=360)
            panels.append((comparison.curve, comparison.eigenvalues, parameter_title(arch.name, params)))
            rows.append((arch.name, params, comparison))
        print(f"wrote {save_panels(out / figure, panels)}")
    print(f"\n{'arch':5} {'parameters':38} {'theory ρ':>9} {'simulated':>9} {'error':>7} {'inside':>7}")
    for name, params, c in rows:
        shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
        print(
            f"{name:5} {shown:38} {c.theory_radius:9.4f} {c.simulated_radius:9.4f} {c.radius_error:7.2%} {c.fraction_inside:7.3f}"
        )
    return 0


def _progress(items: Sequence, description: str) -> Sequence:  # type: ignore[type-arg]
    from tqdm import tqdm

    return tqdm(items, desc=description, file=sys.stderr)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmtgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    derive = commands.add_parser("derive", help="derive Jacobian and linearization; print LaTeX or JSON")
    derive.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    derive.add_argument("--latex", action="store_true", help="print the LaTeX fragment")
    derive.add_argument("--json", action="store_true", help="print a machine-readable summary")
    derive.add_argument("--no-cache", action="store_true", help="ignore the on-disk derivation cache")
    derive.set_defaults(handler=_cmd_derive)

    spectrum = commands.add_parser("spectrum", help="predicted spectral curve (and simulated eigenvalues)")
    spectrum.add_argument("architecture", help="built-in name or spec.toml")
    spectrum.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="parameter value (repeat)")
    spectrum.add_argument(
        "--state",
        help="statistics: zero (zero fixed point), network (the simulated network), steady (mean-field), or FILE.npz",
    )
    spectrum.add_argument("--simulate", type=int, metavar="N", help="simulate N neurons and overlay their eigenvalues")
    spectrum.add_argument("--steps", type=int, default=500, help="simulation steps (default 500)")
    spectrum.add_argument("--ensemble", type=int, default=1, help="independent networks (default 1)")
    spectrum.add_argument("--seed", type=int, default=0)
    spectrum.add_argument("--angles", type=int, default=720, help="rays for the curve (default 720)")
    spectrum.add_argument("--plot", metavar="FILE", help="write a figure (png/pdf/svg)")
    spectrum.add_argument(
        "--bounds", action="store_true", help="also the radii of the bounding sets Σ(ρ,0) ⊆ Σ ⊆ Σ(ρ,ν) [G 88-90]"
    )
    spectrum.add_argument("--json", action="store_true")
    spectrum.set_defaults(handler=_cmd_spectrum)

    demo = commands.add_parser("demo", help="the main job on built-in defaults")
    demo.add_argument("--out", default="out", help="folder for figures (default out/)")
    demo.add_argument("--N", type=int, default=1000, help="network size (default 1000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_cmd_demo)

    verify = commands.add_parser("verify", help="check every prediction against simulations")
    speed = verify.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="the ci profile (default)")
    speed.add_argument("--thorough", action="store_true", help="bigger N, more checks")
    verify.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    verify.add_argument("--report", metavar="DIR", help="write report.md and figures into DIR")
    verify.add_argument("--only", action="append", metavar="PREFIX", help="run checks whose names start with PREFIX")
    verify.set_defaults(handler=_cmd_verify)

    from rmtgate.cli.mft import add_mft_commands
    from rmtgate.cli.phase import add_phase_commands

    add_mft_commands(commands)
    add_phase_commands(commands)
    from rmtgate.training.bptt import add_training_commands
    from rmtgate.training.lowrank import add_reproduce_commands

    add_training_commands(commands)
    add_reproduce_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except RmtgateError as err:
        print(f"rmtgate: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
