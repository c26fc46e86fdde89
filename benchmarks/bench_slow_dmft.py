"""Benchmark (issue 10): pure theory per GRU point against simulating the network, fast and slow gates.

Theory: the adaptive-window steady-state DMFT (default settings) + the spectral curve from its
one-time sample (:func:`steady_sample_size` draws).  Baseline, in the same run: simulate one N = 2000 network for five of the
DMFT's measured correlation times (at least 1000 steps) and take the Jacobian's eigenvalues.
Targets from the issue: theory ≥ 20× faster than the baseline at a_z = 1 and at a_z = 10, and
under 1 s at a_z = 1.

Run: ``.venv/bin/python benchmarks/bench_slow_dmft.py [--a-z 1 10]``.  Prints absolute times,
the ratio baseline/theory, C_h0 with its error bar and the spectral radii.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from rmtgate import gru
from rmtgate.mft.dmft import steady_sample_size, steady_state
from rmtgate.numerics.curves import theory
from rmtgate.simulation.simulate import jacobian_eigvals, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-z", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--N", type=int, default=2000)
    args = parser.parse_args()
    for a_z in args.a_z:
        params = {"a_h": 3.0, "a_r": 1.0, "a_z": a_z}
        start = time.perf_counter()
        state = steady_state(gru(), params, seed=0)
        t_dmft = time.perf_counter() - start
        start = time.perf_counter()
        _, curve = theory(gru(), state.local_sample(steady_sample_size(gru()), 0), params, n_angles=180)
        t_curve = time.perf_counter() - start
        t_theory = t_dmft + t_curve
        steps = max(1000, math.ceil(5 * state.correlation_time))
        start = time.perf_counter()
        run = simulate(gru(), params, N=args.N, steps=1, transient=steps, seed=1)
        radius = float(np.max(np.abs(jacobian_eigvals(run))))
        t_sim = time.perf_counter() - start
        print(
            f"a_z={a_z:g}: theory {t_theory:.2f} s (DMFT {t_dmft:.2f} s: window {len(state.lags)}, "
            f"tau_c {state.correlation_time:.0f}, {state.iterations} it; curve {t_curve:.2f} s), "
            f"C_h0 = {state.C_h0:.4f} ± {state.C_h0_error:.4f}, radius {curve.spectral_radius:.4f} | "
            f"baseline N={args.N}, {steps} steps + eigvals: {t_sim:.2f} s, radius {radius:.4f} | "
            f"ratio baseline/theory = {t_sim / t_theory:.2f} (target >= 20)"
        )


if __name__ == "__main__":
    main()
