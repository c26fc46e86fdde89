"""Benchmark: GRU density on a 200 × 200 grid — Newton with warm starts vs damped fixed point.

Sample: a simulated GRU network (a_h=3, a_z=a_r=1, N=200 neurons, 300 steps, seed 0), its own
per-neuron values (state ``network``).  Ours: :func:`rmtgate.numerics.density.density_grid`
(column-wise continuation, secant predictor, Newton with deflation, μ by implicit derivatives).
Baseline: the classical damped iteration ``g ← ½(g + Φ(g))`` from scratch at each point
(start: the Perron directions of ``L`` at amplitude 1) to the same relative residual; it is
too slow for every grid point, so it is timed on a random subsample of inside points (same
batching: all subsample points at once) and extrapolated linearly to the grid's inside
points.  Its μ would still need the implicit derivative: that cost is not counted (it favours
the baseline).

Run: ``.venv/bin/python benchmarks/bench_density.py [--grid 200] [--N 200] [--subsample 200]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rmtgate import derive, gru
from rmtgate.numerics.density import density_grid
from rmtgate.numerics.dyson_coefficients import DysonTerms, coefficients
from rmtgate.numerics.dyson_solver import damped_fixed_point
from rmtgate.simulation.simulate import simulate
from rmtgate.verification.compare import network_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=200)
    parser.add_argument("--N", type=int, default=200)
    parser.add_argument("--subsample", type=int, default=200)
    parser.add_argument("--max-iterations", type=int, default=5000)
    args = parser.parse_args()
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    result = simulate(gru(), params, N=args.N, steps=300, seed=0)
    co = coefficients(derive(gru()), network_sample(result), result.params)
    tol = 1e-11

    start = time.perf_counter()
    grid = density_grid(co, grid=args.grid, tol=tol)
    ours = time.perf_counter() - start
    inside = grid.mu > 0
    n_inside = int(np.sum(inside))
    print(
        f"Newton + warm starts: {args.grid}x{args.grid} grid (N={args.N} neurons, network sample): {ours:.2f} s, "
        f"{n_inside} inside points, {grid.newton_iterations / max(n_inside, 1):.2f} Newton steps per inside point"
    )

    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(inside)
    pick = rng.choice(rows.size, size=min(args.subsample, rows.size), replace=False)
    lam = grid.x[cols[pick]] + 1j * grid.y[rows[pick]]
    K = co.K
    start = time.perf_counter()
    t = DysonTerms(co, lam, np.zeros((lam.size, K)), np.zeros((lam.size, K)), transfer_only=True)
    w, vr = np.linalg.eig(t.L())
    right = np.abs(np.take_along_axis(vr, np.argmax(np.abs(w), axis=1)[:, None, None], axis=2)[:, :, 0])
    g0 = np.concatenate([right, right], axis=1)
    # one damped sweep at a time on the points not yet converged (converged points leave the batch)
    g, active, sweeps = g0, np.arange(lam.size), np.zeros(lam.size, dtype=int)
    for _ in range(args.max_iterations):
        if active.size == 0:
            break
        g_next, res, _n = damped_fixed_point(co, lam[active], g[active], iterations=1)
        done = res <= tol
        sweeps[active] += 1
        g[active] = g_next
        active = active[~done]
    baseline_sub = time.perf_counter() - start
    converged = 1.0 - active.size / lam.size
    steps = f"{np.median(sweeps):.0f} median / {np.max(sweeps)} max"
    baseline = baseline_sub * n_inside / lam.size
    print(
        f"damped fixed point from scratch: {lam.size} random inside points in {baseline_sub:.2f} s "
        f"({steps} sweeps, {100 * converged:.0f}% converged to {tol:g}); extrapolated to {n_inside} points: {baseline:.1f} s"
    )
    print(f"ratio baseline / ours: {baseline / ours:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
