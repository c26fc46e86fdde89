"""Figure and table: the GRU steady state's ρ − 1 against a_z, theory against the recorded large networks.

Run: ``.venv/bin/python -m verification.approach_figure --out docs/results/gru-approach`` (writes
``.png`` and ``.json``; with the default three solves per point the theory takes 8-15 min on
2 cores, a_z = 10 dominates).  Theory: the
steady-state DMFT's spectral radius, warm-started along a_z; simulation: the recorded H200 runs
(:mod:`verification.simulate_approach`), pooled over N ≥ 8000 and, to show how far a small network
is from the edge, over N = 1000-2000.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rmtgate import gru
from rmtgate.mft.steady_marginal import approach_figure, fit_exponential_decay, steady_approach
from verification.simulate_approach import RECORDED, pooled_radii


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-z", type=float, nargs="+", default=[1.0, 3.0, 5.0, 7.0, 10.0])
    parser.add_argument("--fit-from", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3, help="independent solves per point (see steady_approach)")
    parser.add_argument("--out", type=Path, required=True, help="path without extension")
    args = parser.parse_args()
    records = json.loads(RECORDED.read_text())["records"]
    large = pooled_radii(records, minimum_N=8000)
    small = pooled_radii([r for r in records if r["N"] <= 2000], minimum_N=1000)
    approach = steady_approach(
        gru(),
        {"a_h": 3.0, "a_r": 1.0},
        "a_z",
        args.a_z,
        seed=0,
        repeats=args.repeats,
        progress=lambda line: print(line, flush=True),
    )
    summary = approach.summary(minimum_gain=args.fit_from)
    gains = [g for g in sorted(large) if g >= args.fit_from]
    sim_fit = fit_exponential_decay(gains, [large[g][0] - 1 for g in gains], [large[g][1] for g in gains])
    summary["simulated"] = {
        "N >= 8000": {str(g): {"mean": m, "error": e, "jacobians": n} for g, (m, e, n) in large.items()},
        "N 1000-2000": {str(g): {"mean": m, "error": e, "jacobians": n} for g, (m, e, n) in small.items()},
        "fit": {"gains": gains, "rate": sim_fit.rate, "rate_error": sim_fit.rate_error},
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    approach_figure(
        approach,
        args.out.with_suffix(".png"),
        simulated={g: (m, e) for g, (m, e, _) in large.items()},
        simulated_label=f"simulation N ≥ 8000 (κ = {sim_fit.rate:.3f} ± {sim_fit.rate_error:.3f})",
        small_networks={g: (m, e) for g, (m, e, _) in small.items()},
        minimum_gain=args.fit_from,
    )
    for point in summary["points"]:
        g = point["a_z"]
        print(
            f"a_z = {g:g}: theory {point['spectral_radius']:.4f} ± {point['spectral_radius_error']:.4f} "
            f"(C_h0 {point['C0']:.4f}, tau {point['correlation_time']:.0f}, window {point['window']}, "
            f"{point['seconds']:.0f} s, radii {point.get('radii')}, windows {point.get('windows')}) | N >= 8000: {large[g][0]:.4f} ± {large[g][1]:.4f} | "
            f"N <= 2000: {small[g][0]:.4f} ± {small[g][1]:.4f}"
        )
    print("theory fit", summary["fit"], "\nsimulation fit", summary["simulated"]["fit"])


if __name__ == "__main__":
    main()
