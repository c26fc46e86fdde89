"""[G] figures built from sweeps: Fig. 1e (spectral radius vs ``a_r`` and ``a_z``) and Fig. 2 (phase diagram).

Each figure function writes ``<name>.png`` into a folder and returns a JSON-friendly summary.
The sweeps behind Fig. 1e are Zarr stores next to the figure, so an interrupted
``rmtgate reproduce g-fig1e`` resumes where it stopped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.figures import _pyplot, save_figure
from rmtgate.sweep.engine import Progress, run_sweep
from rmtgate.sweep.grid import Axis, SweepSpec
from rmtgate.symbolic.builtins import gru


def g_fig1e(out: str | Path, *, full: bool = False, callback: Progress | None = None) -> dict[str, Any]:
    """[G] Fig. 1e at ``a_h = 3``: ``ρ`` grows like ``√a_r`` (``a_z = 0``) and decays to 1 in ``a_z`` (``a_r = 0``).

    Steady-state theory (DMFT sample + spectral curve) as lines, simulated ``max|λ|`` as dots;
    ``ρ ≈ A + B√a_r`` and ``ρ - 1 ≈ C e^{-k a_z}`` are fitted to the theory and drawn dashed.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 13 if full else 7
    a_r = Axis("a_r", tuple(float(v) for v in np.linspace(0.0, 40.0 if full else 20.0, n)))
    a_z = Axis("a_z", tuple(float(v) for v in np.linspace(0.0, 12.0 if full else 8.0, n)))
    theory_kw = {"trajectories": 1000 if full else 600, "samples": 4000 if full else 2000, "angles": 360}
    sim_kw = {"N": 1000 if full else 400, "steps": 500 if full else 300, "ensemble": 1}
    data = {}
    for key, fixed, axis in (("ar", {"a_h": 3.0, "a_z": 0.0}, a_r), ("az", {"a_h": 3.0, "a_r": 0.0}, a_z)):
        for method, kw in (("theory", theory_kw), ("simulation", sim_kw)):
            spec = SweepSpec(gru(), fixed, (axis,), ("spectral_radius",), method=method, seed=0, **kw)  # type: ignore[arg-type]
            store = out / f"g-fig1e-{key}-{method}{'-full' if full else ''}.zarr"
            data[key, method] = run_sweep(spec, store, callback=callback).load()

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    summary: dict[str, Any] = {}
    # √a_r growth: fit on the upper half of the a_r range, where the growth dominates the offset
    x = np.asarray(a_r.values)
    rho = data["ar", "theory"]["spectral_radius"].values
    ok = np.isfinite(rho) & (x >= x.max() / 2)
    B, A = np.polyfit(np.sqrt(x[ok]), rho[ok], 1) if ok.sum() >= 2 else (math.nan, math.nan)
    fine = np.linspace(0, x.max(), 200)
    left.plot(x, rho, "r-o", ms=3, label="theory (steady state)")
    left.plot(
        x,
        data["ar", "simulation"]["spectral_radius"].values,
        "ks",
        ms=4,
        mfc="none",
        label=f"simulation N={sim_kw['N']}",
    )
    left.plot(fine, A + B * np.sqrt(fine), "b--", lw=1, label=rf"${A:.2f} + {B:.3f}\sqrt{{a_r}}$")
    left.set_xlabel(r"$a_r$")
    left.set_ylabel(r"spectral radius $\max|\lambda|$")
    left.set_title(r"$a_h = 3,\ a_z = 0$", fontsize=10)
    left.legend(fontsize=8)
    summary["sqrt_fit"] = {"A": float(A), "B": float(B)}
    # exponential approach to 1 in a_z
    z = np.asarray(a_z.values)
    rho_z = data["az", "theory"]["spectral_radius"].values
    excess = rho_z - 1.0
    good = np.isfinite(excess) & (excess > 1e-6)
    slope, intercept = np.polyfit(z[good], np.log(excess[good]), 1) if good.sum() >= 2 else (math.nan, math.nan)
    fine_z = np.linspace(0, z.max(), 200)
    right.plot(z, rho_z, "r-o", ms=3, label="theory (steady state)")
    right.plot(z, data["az", "simulation"]["spectral_radius"].values, "ks", ms=4, mfc="none", label="simulation")
    right.plot(
        fine_z,
        1 + math.exp(intercept) * np.exp(slope * fine_z),
        "b--",
        lw=1,
        label=rf"$1 + {math.exp(intercept):.2f}\,e^{{{slope:.2f} a_z}}$",
    )
    right.axhline(1.0, color="0.6", lw=0.8, ls=":")
    right.set_xlabel(r"$a_z$")
    right.set_ylabel(r"spectral radius $\max|\lambda|$")
    right.set_title(r"$a_h = 3,\ a_r = 0$", fontsize=10)
    right.legend(fontsize=8)
    summary["exp_fit"] = {"C": float(math.exp(intercept)), "k": float(-slope)}
    summary["a_r"] = {
        "values": x.tolist(),
        "theory": rho.tolist(),
        "simulation": data["ar", "simulation"]["spectral_radius"].values.tolist(),
    }
    summary["a_z"] = {
        "values": z.tolist(),
        "theory": rho_z.tolist(),
        "simulation": data["az", "simulation"]["spectral_radius"].values.tolist(),
    }
    save_figure(fig, out / "g-fig1e.png", dpi=150)
    return summary


def g_fig2(
    out: str | Path,
    *,
    full: bool = False,
    a_h: tuple[float, float] = (1.0, 3.0),
    a_r: tuple[float, float] = (0.0, 10.0),
) -> dict[str, Any]:
    """[G] Fig. 2 (left): GRU fixed-point regions, marginal region and the exact bifurcation curve
    ``a_r*(a_h)`` computed over the requested ``a_h`` range."""
    from rmtgate.mft.phase import phase_diagram, plot_phase_diagram

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 81 if full else 41
    data = phase_diagram(np.linspace(*a_h, n), np.linspace(*a_r, n), curve_points=48 if full else 24)
    plot_phase_diagram(data, str(out / "g-fig2.png"))
    return {"bifurcation_curve": data.bifurcation_curve, "grid": [n, n], "a_h": list(a_h), "a_r": list(a_r)}
