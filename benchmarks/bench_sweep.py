"""Benchmark: a GRU sweep of ``spectral_radius`` from steady-state theory vs from simulation.

Both sweeps run on the same local Dask cluster in one process: theory = steady-state DMFT
sample + spectral curve; simulation = an ``N``-neuron network iterated ``steps`` times and
the eigenvalues of its Jacobian.  Prints both times, the ratio (target: theory >= 10x
faster) and the largest relative disagreement (target: within 3 %).

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--n 21] [--N 1000] [--workers 2]``.
The issue's size is ``--n 21`` (441 points each); the default is a reduced ``--n 3`` so that
``make bench`` finishes in minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rmtgate import gru
from rmtgate.sweep import Axis, SweepSpec, run_sweep


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="points per axis (issue size: 21)")
    parser.add_argument("--N", type=int, default=1000, help="simulated network size")
    parser.add_argument("--steps", type=int, default=500, help="simulation steps")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", metavar="DIR", help="write the two Zarr stores into DIR (default: a temporary one)")
    args, _ = parser.parse_known_args(argv)  # benchmarks/run.py passes its own selection in sys.argv
    axes = (
        Axis("a_r", tuple(np.linspace(0.0, 10.0, args.n).tolist())),
        Axis("a_z", tuple(np.linspace(0.0, 5.0, args.n).tolist())),
    )
    fixed = {"a_h": 3.0}
    theory = SweepSpec(gru(), fixed, axes, ("spectral_radius",), method="theory", state="steady")
    simulation = SweepSpec(gru(), fixed, axes, ("spectral_radius",), method="simulation", N=args.N, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep) if args.keep else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        th = run_sweep(theory, where / "theory.zarr", workers=args.workers).load()
        t_theory = time.perf_counter() - start
        start = time.perf_counter()
        sim = run_sweep(simulation, where / "simulation.zarr", workers=args.workers).load()
        t_sim = time.perf_counter() - start
    rho_t, rho_s = th["spectral_radius"].values, sim["spectral_radius"].values
    rel = np.abs(rho_t - rho_s) / rho_s
    worst = np.unravel_index(np.nanargmax(rel), rel.shape)
    size = f"{args.n}x{args.n}" + ("" if args.n == 21 else " (reduced from the issue's 21x21)")
    print(f"GRU a_h=3 sweep over a_r in [0,10], a_z in [0,5], {size}, {args.workers} workers")
    print(f"  theory (steady state):     {t_theory:8.1f} s  ({t_theory / rho_t.size:.2f} s/point)")
    print(f"  simulation (N={args.N}):     {t_sim:8.1f} s  ({t_sim / rho_s.size:.2f} s/point)")
    verdict = "OK" if t_sim / t_theory >= 10 else "below target 10x"
    print(f"  speed-up theory/simulation: {t_sim / t_theory:.2f}x ({verdict})")
    print(
        f"  largest disagreement: {100 * rel[worst]:.2f} % at a_r={axes[0].values[worst[0]]:.3g}, "
        f"a_z={axes[1].values[worst[1]]:.3g} (theory {rho_t[worst]:.4f}, simulation {rho_s[worst]:.4f}); "
        f"median {100 * np.nanmedian(rel):.2f} %"
    )
    over = np.argwhere(rel > 0.03)
    print(
        f"  points beyond 3 %: {len(over)} of {rel.size}"
        + "".join(
            f"; a_r={axes[0].values[i]:.3g} a_z={axes[1].values[j]:.3g}: {100 * rel[i, j]:.1f} %" for i, j in over[:12]
        )
    )
    print(f"  failed points: theory {int((th['error'] != '').sum())}, simulation {int((sim['error'] != '').sum())}")


if __name__ == "__main__":
    main()
