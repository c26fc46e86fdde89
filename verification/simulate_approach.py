"""Simulated spectral radius of steady-state GRU Jacobians against network size (data for [G] Thm 4.8).

The steady-state theory predicts the radius of the Jacobian's support at ``N → ∞``; a network's
largest ``|λ|`` reaches that edge only slowly with ``N`` (the support thins near ``λ = 1``).  This
command records, for each update-gate gain ``a_z`` and network size ``N``, the largest ``|λ|``
(and the largest ``Re λ``) of the Jacobian at several times after a burn-in, for several networks,
so that the approach ``ρ → 1`` can be compared with theory after extrapolating in ``N``
(:mod:`rmtgate.mft.steady_marginal`).

Run: ``python verification/simulate_approach.py --backend cupy --out approach.json`` (the numbers
recorded in ``verification/test_steady_marginal.py`` came from an H200 with CuPy 14).  Every
network is seeded (``seed`` + its index); the JSON is rewritten after every eigen-decomposition, so
a run stopped by ``--budget`` keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate import gru
from rmtgate.simulation.simulate import jacobian_eigvals, simulate

# burn-in and snapshot spacing per a_z: ≥ 5 of the DMFT's correlation times (≈ 6, 63, 200, 760
# steps at a_z = 1, 5, 7, 10 for a_h = 3, a_r = 1), at least 1000 steps
BURN_IN = {1.0: 1000, 2.0: 1000, 3.0: 1000, 5.0: 1500, 7.0: 2500, 10.0: 5000}
SPACING = {1.0: 100, 2.0: 100, 3.0: 100, 5.0: 300, 7.0: 600, 10.0: 1500}


RECORDED = Path(__file__).with_name("data") / "gru_approach_h200.json"


def pooled_radii(records: list[dict[str, Any]], *, minimum_N: int) -> dict[float, tuple[float, float, int]]:
    """Per ``a_z``: mean ``max|λ|`` over every network and snapshot with ``N ≥ minimum_N``, its
    standard error and the number of Jacobians.

    Snapshots of one network share its matrices, so they are not independent draws: the error
    is the larger of the snapshots' standard error and that of the per-network means.
    """
    groups: dict[float, dict[tuple[int, int], list[float]]] = {}
    for record in records:
        if record["N"] >= minimum_N:
            network = groups.setdefault(float(record["a_z"]), {}).setdefault((record["N"], record["seed"]), [])
            network.append(float(record["max_abs"]))
    out = {}
    for a_z, networks in sorted(groups.items()):
        every = [x for v in networks.values() for x in v]
        if len(every) < 2:
            continue
        error = float(np.std(every, ddof=1) / math.sqrt(len(every)))
        if len(networks) >= 2:
            means = [float(np.mean(v)) for v in networks.values()]
            error = max(error, float(np.std(means, ddof=1) / math.sqrt(len(means))))
        out[a_z] = (float(np.mean(every)), error, len(every))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-z", type=float, nargs="+", default=[1.0, 3.0, 5.0, 7.0, 10.0])
    parser.add_argument("--N", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--networks", type=int, nargs="+", default=[4, 3, 2, 1], help="networks per N")
    parser.add_argument("--snapshots", type=int, default=3, help="Jacobians per network")
    parser.add_argument("--a-h", type=float, default=3.0)
    parser.add_argument("--a-r", type=float, default=1.0)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--budget", type=float, default=math.inf, help="seconds; skip what would start later")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if len(args.networks) != len(args.N):
        parser.error(f"--networks needs one count per --N value ({len(args.N)}), got {len(args.networks)}")
    start = time.perf_counter()
    records: list[dict[str, object]] = []
    for N, networks in zip(args.N, args.networks, strict=True):
        for a_z in args.a_z:
            params = {"a_h": args.a_h, "a_z": a_z, "a_r": args.a_r}
            burn = BURN_IN.get(a_z, 5000)
            spacing = SPACING.get(a_z, 1500)
            for network in range(networks):
                for snapshot in range(args.snapshots):
                    if time.perf_counter() - start > args.budget:
                        break
                    t0 = time.perf_counter()
                    run = simulate(
                        gru(),
                        params,
                        N=N,
                        steps=1,
                        transient=burn + snapshot * spacing,
                        seed=args.seed + network,
                        backend=args.backend,
                    )
                    t1 = time.perf_counter()
                    eig = jacobian_eigvals(run)[0]
                    t2 = time.perf_counter()
                    modulus = np.sort(np.abs(eig))[::-1]
                    h = run.backend.asnumpy(run.state["h"])
                    records.append(
                        {
                            "a_z": a_z,
                            "N": N,
                            "network": network,
                            "step": burn + snapshot * spacing,
                            "max_abs": float(modulus[0]),
                            "top_abs": modulus[:16].tolist(),
                            "max_real": float(np.max(eig.real)),
                            "count_outside_unit": int(np.sum(modulus > 1.0)),
                            "mean_h2": float(np.mean(h**2)),
                            "simulate_s": t1 - t0,
                            "eig_s": t2 - t1,
                        }
                    )
                    args.out.write_text(json.dumps({"a_h": args.a_h, "a_r": args.a_r, "records": records}, indent=1))
                    print(
                        f"a_z={a_z:g} N={N} net={network} snap={snapshot}: max|λ| {modulus[0]:.5f} "
                        f"max Re {np.max(eig.real):.5f} (sim {t1 - t0:.1f} s, eig {t2 - t1:.1f} s)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
