"""Simulation-layer benchmark: GRU step throughput and Jacobian eigenvalue time per backend.

Run ``python benchmarks/bench_simulate.py``.  Prints steps/s for N in {1000, 4096} and the
time of ``jacobian_matrices`` / ``jacobian_eigvals`` for N in {1000, 2000}, on numpy and, when
CuPy and a GPU are usable, on cupy.  These sizes are where the paper's figures live
(N = 1000); the step loop is memory-bound (three N×N mat-vecs per step), the eigensolver is the
O(N³) cost of every finite-N spectrum.  Runtime well under two minutes on two CPU cores.

OpenBLAS spins its worker threads: when other processes hold cores, the eigenvalue timings can
inflate several-fold; set ``OPENBLAS_NUM_THREADS`` to the number of free cores for stable numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import rmtgate
from rmtgate.errors import BackendUnavailable
from rmtgate.numerics.compile import compile_step
from rmtgate.simulation.backends import Backend, get_backend
from rmtgate.simulation.simulate import jacobian_eigvals, jacobian_matrices, simulate

PARAMS = {"a_z": 1.0, "a_r": 1.0, "a_h": 3.0, "b_z": 0.0, "b_r": 0.0, "b_h": 0.0}  # Fig. 1c of [G]


def _synchronize(backend: Backend) -> None:
    if backend.name == "cupy":
        backend.xp.cuda.Device().synchronize()


def _timed(backend: Backend, work: Callable[[], Any]) -> tuple[float, Any]:
    _synchronize(backend)
    start = time.perf_counter()
    out = work()
    _synchronize(backend)
    return time.perf_counter() - start, out


def step_throughput(backend: Backend, n: int, steps: int) -> float:
    """Steps per second of the compiled GRU update (draws and compilation excluded)."""
    arch = rmtgate.gru()
    result = simulate(arch, PARAMS, N=n, steps=1, seed=0, backend=backend)
    step = compile_step(arch, backend.name)
    parameters = result.parameter_values()
    state = dict(result.state)

    def run(count: int) -> None:
        nonlocal state
        for _ in range(count):
            state, _ = step(state, result.matrices, parameters)

    run(2)  # warm-up: first BLAS call, kernel compilation on the GPU
    seconds, _ = _timed(backend, lambda: run(steps))
    return steps / seconds


def eigvals_timing(backend: Backend, n: int) -> tuple[float, float]:
    """Seconds for the dense Jacobian and for its eigenvalues, GRU after 50 steps."""
    result = simulate(rmtgate.gru(), PARAMS, N=n, steps=50, seed=1, backend=backend)
    jacobian_matrices(result)  # compile once, outside the timing
    assemble, _ = _timed(backend, lambda: jacobian_matrices(result))
    eigen, _ = _timed(backend, lambda: jacobian_eigvals(result))
    return assemble, eigen - assemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per size (default 100)")
    args = parser.parse_args()
    backends = [get_backend("numpy")]
    try:
        backends.append(get_backend("cupy"))
    except BackendUnavailable as error:
        print(f"cupy: skipped ({error})")
    for backend in backends:
        for n in (1000, 4096):
            rate = step_throughput(backend, n, args.steps)
            print(f"{backend.name:5s} GRU step           N={n:5d}: {rate:9.1f} steps/s")
        for n in (1000, 2000):
            assemble, eigen = eigvals_timing(backend, n)
            print(f"{backend.name:5s} Jacobian + eigvals N={n:5d}: assemble {assemble:7.3f} s, eigvals {eigen:7.3f} s")


if __name__ == "__main__":
    main()
