"""[G] Fig. 1f: the mass of eigenvalues near λ = 1 (slow modes) against the update-gate gain.

For each ``a_z`` (``a_h = 3``, ``a_r = 0``) a network is simulated; the theory is the density of
the hermitized Dyson equation on that network's own per-neuron values, its mass in
``|λ − 1| < r`` from the contour integral (atoms included); the simulation is the share of the
network's Jacobian eigenvalues in the same disk.  The theory is fitted by ``c₁ erfc(c₂ / a_z)``,
the form of [G] eqs. 100-112.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.figures import _pyplot, save_figure
from rmtgate.numerics.density_masses import fraction_in_disk
from rmtgate.symbolic.builtins import gru
from rmtgate.verification.density_report import density_report


def erfc_fit(a_z: np.ndarray, mass: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(c₁, c₂)`` of ``mass ≈ c₁ erfc(c₂ / a_z)``."""
    from scipy.optimize import curve_fit
    from scipy.special import erfc

    (c1, c2), _ = curve_fit(lambda a, c1, c2: c1 * erfc(c2 / a), a_z, mass, p0=(0.5, 5.0), maxfev=20000)
    return float(c1), float(c2)


def slow_mode_mass(
    a_z: np.ndarray, *, radius: float = 0.05, N: int = 400, steps: int = 400, seed: int = 0
) -> dict[str, Any]:
    """Theory and simulated ``P(|λ − 1| < radius)`` at each ``a_z`` (GRU, ``a_h = 3``, ``a_r = 0``)."""
    theory, simulated = [], []
    for value in a_z:
        params = {"a_h": 3.0, "a_z": float(value), "a_r": 0.0}
        report = density_report(gru(), params, state="network", grid=2, simulate_N=N, steps=steps, seed=seed)
        theory.append(fraction_in_disk(report.coefficients, center=1.0, radius=radius))
        simulated.append(float(np.mean(np.abs(report.eigenvalues - 1.0) < radius)))
    c1, c2 = erfc_fit(np.asarray(a_z, dtype=float), np.asarray(theory))
    return {
        "a_z": [float(v) for v in a_z],
        "radius": radius,
        "N": N,
        "theory": theory,
        "simulated": simulated,
        "erfc_fit": {"c1": c1, "c2": c2},
    }


def g_fig1f(out: str | Path, *, full: bool = False) -> dict[str, Any]:
    """Draw [G] Fig. 1f into ``out/g-fig1f.png``; returns the numbers."""
    from scipy.special import erfc

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    a_z = np.array([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 100.0] if full else [1.0, 3.0, 10.0, 30.0, 100.0])
    data = slow_mode_mass(a_z, N=1000 if full else 400)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    fine = np.geomspace(a_z.min(), a_z.max(), 200)
    c1, c2 = data["erfc_fit"]["c1"], data["erfc_fit"]["c2"]
    ax.plot(a_z, data["theory"], "r-o", ms=4, label="theory (Dyson density)")
    ax.plot(a_z, data["simulated"], "ks", mfc="none", ms=5, label=f"simulation N={data['N']}")
    ax.plot(fine, c1 * erfc(c2 / fine), "b--", lw=1, label=rf"${c1:.2f}\,\mathrm{{erfc}}({c2:.2f}/a_z)$")
    ax.set_xscale("log")
    ax.set_xlabel(r"update-gate gain $a_z$")
    ax.set_ylabel(r"$P(|\lambda - 1| < 0.05)$")
    ax.set_title(r"[G] Fig. 1f: slow modes, GRU $a_h = 3$, $a_r = 0$", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "g-fig1f.png", dpi=120)
    return data
