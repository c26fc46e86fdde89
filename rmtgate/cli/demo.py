"""``rmtgate demo``: the main job on built-in defaults ([G] Fig. 1 and Fig. 3 panels)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rmtgate.cli.common import progress
from rmtgate.errors import ParameterError, expected
from rmtgate.simulation.simulate import check_memory
from rmtgate.validation import check_integer


def _output_folder(name: str) -> Path:
    """The figure folder: created if missing (only its last level: a missing parent is a typo)."""
    out = Path(name)
    if out.exists() and not out.is_dir():
        raise ParameterError(expected("a folder for the figures", "--out", name))
    if not out.parent.is_dir():
        raise ParameterError(
            expected(f"a folder inside an existing directory ({out.parent} does not exist)", "--out", name)
        )
    out.mkdir(exist_ok=True)
    return out


def _cmd_demo(args: argparse.Namespace) -> int:
    from rmtgate.figures import parameter_title, save_panels
    from rmtgate.symbolic.builtins import gru, lstm
    from rmtgate.symbolic.derive import derive
    from rmtgate.verification.checks import GRU_FIG1, LSTM_FIG3
    from rmtgate.verification.compare import compare_with_simulation

    # arguments first: a bad --N must not cost the 170 lines of derivations printed below
    N = check_integer(args.N, "--N", 2)
    for arch in (gru(), lstm()):
        check_memory(arch, N)
    out = _output_folder(args.out)
    for arch in (gru(), lstm()):
        derivation = derive(arch)
        print(f"=== {arch.name}: {arch.description} ===")
        print(derivation.latex())
        print(f"Schur identity holds: {derivation.schur_identity_holds}\n")
    rows = []
    for arch, sets, figure in ((gru(), GRU_FIG1, "gru_fig1.png"), (lstm(), LSTM_FIG3, "lstm_fig3.png")):
        panels = []
        for params in progress(sets, f"{arch.name} panels (N={N})", quiet=args.quiet):
            comparison = compare_with_simulation(arch, params, N=N, steps=500, seed=args.seed, n_angles=360)
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


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    demo = subparsers.add_parser("demo", help="the main job on built-in defaults")
    demo.add_argument("--out", default="out", help="folder for figures (default out/)")
    demo.add_argument("--N", type=int, default=1000, help="network size (default 1000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    demo.set_defaults(handler=_cmd_demo)
