"""``rmtgate density``: eigenvalue density inside the support (hermitized Dyson equation)."""

from __future__ import annotations

import argparse
from typing import Any

from rmtgate.cli.common import emit_json
from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.symbolic.builtins import resolve_architecture


def _disk(text: str) -> tuple[complex, float]:
    parts = text.split(",")
    if len(parts) != 3:
        raise ParameterError(expected("RE,IM,R", "--disk", text))
    try:
        re, im, r = (float(p) for p in parts)
    except ValueError as err:
        raise ParameterError(expected("RE,IM,R (numbers)", "--disk", text)) from err
    return complex(re, im), r


def _cmd_density(args: argparse.Namespace) -> int:
    from rmtgate.verification.density_report import density_report

    arch = resolve_architecture(args.architecture)
    params = parse_parameters(args.param)
    disks = [_disk(d) for d in args.disk or ()]
    report = density_report(
        arch,
        params,
        state=args.state,
        grid=args.grid,
        disks=disks,
        simulate_N=args.simulate,
        steps=args.steps,
        seed=args.seed,
    )
    output = report.to_json()
    if args.plot:
        from rmtgate.figures import parameter_title, save_density

        save_density(
            args.plot,
            report.grid.x,
            report.grid.y,
            report.grid.mu,
            report.curve,
            report.eigenvalues,
            atoms=[(a.location, a.weight) for a in report.grid.atoms],
            title=parameter_title(arch.name, report.params) + f" ({report.state})",
        )
        output["plot"] = str(args.plot)
    if args.json:
        emit_json(output)
        return 0
    print(
        f"{arch.name} ({report.state} statistics): density on a {args.grid}x{args.grid} grid in {report.grid.seconds:.2f} s"
    )
    print(f"total mass {report.total_mass:.6f} (atoms {report.coefficients.atom_mass:.6f})")
    for atom in report.grid.atoms:
        print(f"atom at {atom.location:.6g}: weight {atom.weight:.6g}")
    simulated = report.simulated_fractions
    for i, ((c, r), f) in enumerate(zip(report.disks, report.fractions, strict=True)):
        line = f"|lambda - ({c.real:g}{c.imag:+g}i)| < {r:g}: theory {f:.6f}"
        if simulated is not None:
            line += f", simulated {simulated[i]:.6f}"
        print(line)
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``density`` command."""
    parser = subparsers.add_parser(
        "density",
        help="eigenvalue density inside the support (Dyson equation); fractions of disks",
        description=(
            "Eigenvalue density mu(lambda) of the Jacobian from the hermitized Dyson equation. "
            "Normalisation: per eigenvalue of the Jacobian (n_state*N of them: the LSTM's fractions "
            "are of 2N eigenvalues); point masses (atoms) are listed separately and included in every fraction."
        ),
    )
    parser.add_argument("architecture", help="built-in name or spec.toml")
    parser.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="parameter value (repeat)")
    parser.add_argument(
        "--state",
        default="zero",
        help="statistics: zero (default), steady (mean-field), network (needs --simulate N), or FILE.npz",
    )
    parser.add_argument("--grid", type=int, default=100, help="grid points per axis (default 100)")
    parser.add_argument(
        "--disk", action="append", metavar="RE,IM,R", help="fraction of eigenvalues in |lambda-(RE+i IM)|<R (repeat)"
    )
    parser.add_argument(
        "--simulate", type=int, metavar="N", help="simulate N neurons; measure the disks on their eigenvalues"
    )
    parser.add_argument("--steps", type=int, default=500, help="simulation steps (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="FILE", help="write the density image with edge and eigenvalues")
    parser.add_argument("--json", action="store_true", help="grid, density, atoms, total_mass, fraction_in_disk")
    parser.set_defaults(handler=_cmd_density)
