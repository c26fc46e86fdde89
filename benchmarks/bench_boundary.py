"""Benchmark (issues 3 and 4): theory curves against the simulation they replace.

* boundary curve, 720 angles, from a 10⁴-sample GRU state (target < 0.5 s); ratio against
  simulating an N = 1000 GRU for 2000 steps plus ``numpy.linalg.eigvals`` (same run);
* steady-state DMFT + theory curve (pure theory) against the same simulation + eigvals.
"""

from __future__ import annotations

import time

import numpy as np

import rmtgate
from rmtgate.mft.dmft import steady_state
from rmtgate.numerics.curves import spectral_curve
from rmtgate.numerics.evaluators import evaluator
from rmtgate.numerics.samples import LocalSample
from rmtgate.simulation.simulate import jacobian_eigvals, simulate
from rmtgate.symbolic.derive import derive

PARAMS = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    arch = rmtgate.gru()
    bnd = derive(arch).boundary
    result, t_sim = timed(lambda: simulate(arch, PARAMS, N=1000, steps=2000, seed=0))
    _, t_eig = timed(lambda: jacobian_eigvals(result))
    baseline = t_sim + t_eig
    print(f"baseline: simulate N=1000 x 2000 steps {t_sim:.2f} s + eigvals {t_eig:.2f} s = {baseline:.2f} s")

    # a 10^4-sample state: ten independent N = 1000 networks pooled
    pooled = simulate(arch, PARAMS, N=1000, steps=300, seed=1, ensemble=10)
    sample = LocalSample.from_arrays(
        {k: np.asarray(v).reshape(-1) for k, v in pooled.local_sample(as_numpy=True).items()}
    )
    ev = evaluator(bnd, sample, PARAMS)
    times = []
    for _ in range(3):
        curve, t = timed(lambda: spectral_curve(ev, n_angles=720))
        times.append(t)
    t_curve = min(times)
    print(
        f"curve: 720 angles, {sample.size} samples: {t_curve:.3f} s (target 0.5 s, ratio to target {t_curve / 0.5:.2f}); "
        f"ratio to baseline {t_curve / baseline:.3f}; spectral radius {curve.spectral_radius:.4f}"
    )

    solution, t_dmft = timed(lambda: steady_state(arch, PARAMS, seed=0))
    steady = solution.local_sample(4000, 0)
    curve2, t_curve2 = timed(lambda: spectral_curve(evaluator(bnd, steady, PARAMS), n_angles=720))
    theory = t_dmft + t_curve2
    print(
        f"pure theory: DMFT {t_dmft:.2f} s + curve {t_curve2:.2f} s = {theory:.2f} s; ratio to baseline {theory / baseline:.3f}; "
        f"radius {curve2.spectral_radius:.4f}"
    )


if __name__ == "__main__":
    main()
