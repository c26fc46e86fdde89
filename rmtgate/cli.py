"""Command-line interface: ``rmtgate derive | demo | ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .architecture import Architecture
from .errors import RmtgateError

if TYPE_CHECKING:
    from .spectrum import LocalSample


def resolve_architecture(name_or_path: str) -> Architecture:
    """A built-in name (``gru``) or a path to a TOML spec file."""
    from .builtins import BUILTINS, builtin
    from .spec import load_spec

    if name_or_path in BUILTINS:
        return builtin(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_spec(path)
    return builtin(name_or_path)  # raises with the list of built-ins


def _cmd_derive(args: argparse.Namespace) -> int:
    from .derive import derive

    derivation = derive(resolve_architecture(args.architecture), cache=not args.no_cache)
    if args.json:
        print(json.dumps(derivation.summary(), indent=2))
    if args.latex or not args.json:
        print(derivation.latex())
    return 0


def parse_parameters(pairs: Sequence[str] | None) -> dict[str, float]:
    """``["a_h=3", "b_z=0.5"]`` → ``{"a_h": 3.0, "b_z": 0.5}`` (typed errors on bad input)."""
    from .errors import ParameterError, expected

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
    from .compare import compare_with_simulation
    from .derive import derive
    from .figures import parameter_title, save_spectrum
    from .parameters import resolve_parameters
    from .spectrum import evaluator, spectral_curve, zero_state

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
            from .errors import StateError, expected

            raise StateError(expected("--simulate N with --state network", "state", state))
        else:
            sample = _state_sample(arch, params, state, args)
        curve = spectral_curve(evaluator(bnd, sample, resolved), n_angles=args.angles)
        output["parameters"] = resolved
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
    from .spectrum import LocalSample

    if state == "steady":
        from .mft import steady_state_sample

        return steady_state_sample(arch, params, seed=args.seed)
    return LocalSample.load(state)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .builtins import gru, lstm
    from .derive import derive

    for arch in (gru(), lstm()):
        derivation = derive(arch)
        print(f"=== {arch.name}: {arch.description} ===")
        print(derivation.latex())
        print(f"Schur identity holds: {derivation.schur_identity_holds}\n")
    return 0


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
    spectrum.add_argument("--json", action="store_true")
    spectrum.set_defaults(handler=_cmd_spectrum)

    demo = commands.add_parser("demo", help="the main job on built-in defaults")
    demo.set_defaults(handler=_cmd_demo)
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
