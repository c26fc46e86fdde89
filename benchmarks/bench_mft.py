"""Benchmark: GRU steady-state DMFT to max|ΔC| < 1e-3 (target < 10 s on 2 cores), and fixed points.

Run: ``.venv/bin/python benchmarks/bench_mft.py``.  Prints wall-clock times and the results.
"""

from __future__ import annotations

import time

from rmtgate import gru
from rmtgate.mft.closed import gru_closed_dmft
from rmtgate.mft.dmft import steady_state
from rmtgate.mft.fixed_points import fixed_points
from rmtgate.mft.system import fixed_point_system


def main() -> None:
    params = {"a_h": 3.0, "a_r": 1.0, "a_z": 1.0}
    start = time.perf_counter()
    fixed_point_system(gru())
    print(f"symbolic fixed-point system (GRU): {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    solutions = fixed_points(gru(), params)
    elapsed = time.perf_counter() - start
    print(f"fixed points {params}: {elapsed:.3f} s, C_h = {[round(fp.C['h'], 8) for fp in solutions]}")

    start = time.perf_counter()
    state = steady_state(gru(), params, tol=1e-3, seed=0)
    elapsed = time.perf_counter() - start
    verdict = "OK" if elapsed < 10 else "SLOW"
    print(
        f"steady-state DMFT {params}: {elapsed:.2f} s ({verdict}, target < 10 s), "
        f"C_h(0) = {state.C_h0:.5f}, {state.iterations} iterations, residual {state.residual:.2e}"
    )

    start = time.perf_counter()
    closed = gru_closed_dmft(params, tol=1e-8)
    print(f"closed equations [G 50-51]: {time.perf_counter() - start:.2f} s, C_h(0) = {closed.C_h0:.5f}")


if __name__ == "__main__":
    main()
