"""GRU fixed-point phase diagram, perturbation theory and marginal stability ([G] §4.4-4.5, App. C.1, E).

Everything here is GRU-specific by design (the phase diagram is a result about the GRU), but
built on the generic machinery: the fixed-point equations and their roots come from
:mod:`rmtgate.mft` applied to :func:`rmtgate.builtins.gru`, and the perturbative series is
the Gaussian-moment expansion ``E[f(b + eta)] = Σ_n f^{(2n)}(b) q^n / (2^n n!)`` of the
integrands that :class:`~rmtgate.mft.FixedPointSystem` derives from the architecture.

* :func:`perturbative_series` — the fixed-point equation in powers of ``C_h`` [G 128-131]
  and the branches [G 24-25] with ``f(a_r)`` [G 132], as SymPy expressions (LaTeX printable).
* :func:`bifurcation_ar` / :func:`bifurcation_curve` — the bifurcation curve ``a_r*(a_h)`` on ``(√2, 2)``.
* :func:`phase_diagram` / :func:`plot_phase_diagram` — regions of Fig. 2 (left).
* :func:`fixed_point_spectral_radius` — ``ρ(J_0)`` at a fixed point from
  ``1 = ρ_0² E[(1-z)²/|λ-z|²]`` ([G 88] with ``ν = 0``) in ``mpmath`` at ``dps`` digits, and
  :func:`pinching_exponent` — ``c`` of [G 27] (Thm. 4.8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import sympy

from rmtgate.errors import ConvergenceError, ParameterError, expected
from rmtgate.mft.fixed_points import FixedPoint, fixed_points
from rmtgate.mft.integrands import latex
from rmtgate.mft.system import fixed_point_system
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.builtins import gru

SQRT2 = math.sqrt(2.0)

# ============================================================================ perturbation theory


def gaussian_series(expr: sympy.Expr, variable: sympy.Symbol, variance: sympy.Expr, order: int) -> sympy.Expr:
    """``E[expr]`` for ``variable ~ N(0, variance)`` to ``O(variance^(order+1))`` (moment expansion)."""
    out = sympy.Integer(0)
    derivative = expr
    for n in range(order + 1):
        out += derivative.subs(variable, 0) * variance**n / (2**n * sympy.factorial(n))
        derivative = sympy.diff(derivative, variable, 2)
    return out


@dataclass(frozen=True)
class PerturbativeSeries:
    """The GRU fixed-point equation ``C_h = Σ_n k_n C_h^n`` and its small-``C_h`` branches.

    ``rhs`` is [G 130] (``b_r`` symbolic); ``reduced`` is ``rhs / C_h`` at ``b_r = 0`` [G 131];
    ``branches`` holds [G 24] (``a_h = 2 + ε``): ``"small"`` ``4ε/(8-a_r²)``, ``"large"``
    ``C_0(a_r) + f(a_r) ε/(a_r²-8)``, and ``"f"`` [G 132].
    """

    C_h: sympy.Symbol
    a_h: sympy.Symbol
    a_r: sympy.Symbol
    b_r: sympy.Symbol
    epsilon: sympy.Symbol
    rhs: sympy.Expr
    reduced: sympy.Expr
    branches: dict[str, sympy.Expr] = field(default_factory=dict)

    def latex(self) -> str:
        lines = [
            rf"C_h &= {latex(self.rhs)} + O(C_h^4)",
            rf"1 &= {latex(self.reduced)} + O(C_h^3) \quad (b_r = 0)",
            rf"C_h &\approx {latex(self.branches['small'])} \quad (a_h = 2 + \epsilon,\ a_r < \sqrt{{8}})",
            rf"C_h &\approx {latex(self.branches['large'])} \quad (a_h = 2 + \epsilon,\ a_r > \sqrt{{8}})",
            rf"f(a_r) &= {latex(self.branches['f'])}",
        ]
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def perturbative_series(arch: Architecture | None = None, order: int = 3) -> PerturbativeSeries:
    """Derive [G 128-132] from the GRU's fixed-point integrands (``v_h = v_r = b_h = 0``)."""
    arch = gru() if arch is None else arch
    if order < 3:
        raise ParameterError(expected("a series order >= 3 (the branches need the C_h^3 term)", "order", order))
    system = fixed_point_system(arch)
    names = {s.name: s for s in system.params}
    state_moment = next(j for j, m in enumerate(system.moments) if m.name == "h")
    gated_moment = next(j for j, m in enumerate(system.moments) if m.name != "h")
    phi_integrand = system.integrands[state_moment].expr  # tanh(b_h + eta_h)^2
    gated = system.integrands[gated_moment].expr  # tanh(b_h + eta_h)^2 sigmoid(b_r + eta_r)^2
    eta = {s.name: s for s in system.field_symbols}
    gate_integrand = sympy.simplify(gated / phi_integrand)  # sigmoid(b_r + eta_r)^2
    a_h, a_r = (sympy.Symbol("a_h", positive=True), sympy.Symbol("a_r", positive=True))
    b_r = names["b_r"]
    C_h, C_y, eps = sympy.symbols("C_h C_y epsilon", positive=True)
    c_phi = gaussian_series(phi_integrand.subs(names["b_h"], 0), eta["eta_h"], a_h**2 * C_y, order)
    c_r = gaussian_series(gate_integrand, eta["eta_r"], a_r**2 * C_h, order - 1)
    c_r = sympy.expand(c_r.rewrite(sympy.exp))
    rhs = sympy.expand(c_phi.subs(C_y, C_h * c_r))
    rhs = sum(sympy.simplify(rhs.coeff(C_h, n)) * C_h**n for n in range(1, order + 1))
    reduced = sympy.expand(sympy.simplify((rhs / C_h).subs(b_r, 0)))
    # branches at a_h = 2 + eps from the quadratic truncation of `reduced`
    equation = sympy.expand(reduced - 1)
    at_two = sympy.expand(equation.subs(a_h, 2))
    roots = [r for r in sympy.solve(at_two, C_h) if r != 0]
    large0 = sympy.factor(roots[0])
    shifted = equation.subs(a_h, 2 + eps)
    slope = -sympy.diff(shifted, eps).subs(eps, 0) / sympy.diff(shifted, C_h).subs(eps, 0)
    large1 = sympy.factor(sympy.simplify(slope.subs(C_h, large0)))
    kappa = sympy.Symbol("kappa")
    leading = sympy.expand(shifted.subs(C_h, eps * kappa)).coeff(eps, 1)
    small = sympy.factor(sympy.solve(leading, kappa)[0] * eps)
    f_ar = sympy.factor(sympy.simplify(large1 * (a_r**2 - 8)))
    branches = {"small": small, "large": large0 + f_ar * eps / (a_r**2 - 8), "C0": large0, "f": f_ar}
    return PerturbativeSeries(C_h, a_h, a_r, b_r, eps, rhs, reduced, branches)


# ============================================================================ phase diagram


def _gru_params(a_h: float, a_r: float, b_r: float = 0.0, a_z: float = 1.0) -> dict[str, float]:
    return {"a_h": a_h, "a_r": a_r, "a_z": a_z, "b_h": 0.0, "b_r": b_r, "b_z": 0.0}


def _max_gain(a_h: float, a_r: float, b_r: float = 0.0) -> float:
    """``max_t G(t)/t - 1`` of the GRU's scalar fixed-point map over ``t > 0``."""
    system = fixed_point_system(gru())
    params = _gru_params(a_h, a_r, b_r)

    def phi(u: float) -> float:
        t = math.exp(u)
        return system.complete([t], params)[1][0] / t - 1.0

    us = np.linspace(math.log(1e-9), math.log(2.0), 48)
    vals = np.array([phi(u) for u in us])
    i = int(np.argmax(vals))
    lo, hi = us[max(i - 1, 0)], us[min(i + 1, len(us) - 1)]
    res = scipy.optimize.minimize_scalar(lambda u: -phi(u), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return max(float(vals[i]), float(-res.fun))


def bifurcation_ar(a_h: float, *, b_r: float = 0.0, a_r_max: float = 1e4) -> float:
    """``a_r*(a_h)``: the smallest ``a_r`` with a nonzero fixed point, for ``√2 < a_h < 2``."""
    if not (SQRT2 < a_h < 2.0):
        raise ParameterError(expected("a_h in (sqrt(2), 2), where the bifurcation curve exists", "a_h", a_h))
    lo, hi = 0.0, 4.0
    while _max_gain(a_h, hi, b_r) <= 0:
        lo, hi = hi, hi * 2.0
        if hi > a_r_max:
            raise ConvergenceError(
                f"no nonzero fixed point for a_r <= {a_r_max} at a_h={a_h}",
                residual=_max_gain(a_h, hi, b_r),
                iterations=0,
            )
    return float(scipy.optimize.brentq(lambda ar: _max_gain(a_h, ar, b_r), lo, hi, xtol=1e-9, rtol=1e-10))


#: the curve is computed inside (√2, 2): a_r* → ∞ at √2 (already ≈ 266 at 1.45), a_r* → √8 at 2
CURVE_EDGES = (1.45, 1.99)


def bifurcation_curve(a_h_min: float, a_h_max: float, points: int, *, b_r: float = 0.0) -> list[tuple[float, float]]:
    """``(a_h, a_r*(a_h))`` at ``points`` values of ``a_h`` in the part of ``[a_h_min, a_h_max]``
    where the curve exists (inside ``(√2, 2)``); empty if the range misses it."""
    lo, hi = max(a_h_min, CURVE_EDGES[0]), min(a_h_max, CURVE_EDGES[1])
    if points <= 0 or lo > hi:
        return []
    return [(float(h), bifurcation_ar(float(h), b_r=b_r)) for h in np.linspace(lo, hi, points)]


def count_nonzero_fixed_points(a_h: float, a_r: float, b_r: float = 0.0, grid: int = 80) -> list[FixedPoint]:
    """Nonzero fixed points of the GRU MFT at ``(a_h, a_r)`` (zero biases except ``b_r``)."""
    return [fp for fp in fixed_points(gru(), _gru_params(a_h, a_r, b_r), grid=grid) if not fp.is_zero]


REGIONS = {0: "zero-only", 1: "one-nonzero", 2: "two-nonzero"}


@dataclass(frozen=True)
class PhaseDiagram:
    """Fig. 2 (left) data: region and marginal-stability flag on an ``(a_h, a_r)`` grid.

    ``regions[i, j]`` is the number of nonzero fixed points at ``(a_h[j], a_r[i])`` (0: only
    the zero FP, blue; 2: green; 1: orange).  ``marginal[i, j]`` marks a nonzero FP with
    ``ρ_0² < 1/α`` [G 28].  ``zero_unstable_above`` is ``1 + e^{-b_r}`` (zero FP unstable
    and a single nonzero FP for ``a_h`` above it).
    """

    a_h: np.ndarray
    a_r: np.ndarray
    regions: np.ndarray
    marginal: np.ndarray
    rho_0: np.ndarray
    bifurcation_curve: list[tuple[float, float]]
    b_r: float
    beta: float
    zero_unstable_above: float

    def summary(self) -> dict[str, Any]:
        return {
            "a_h": self.a_h.tolist(),
            "a_r": self.a_r.tolist(),
            "regions": self.regions.tolist(),
            "region_names": REGIONS,
            "marginal": self.marginal.tolist(),
            "bifurcation_curve": [[a, b] for a, b in self.bifurcation_curve],
            "b_r": self.b_r,
            "beta": self.beta,
            "zero_unstable_above": self.zero_unstable_above,
        }


def marginal_alpha(C_h: float, beta: float) -> float:
    """``α = ½ erfc(β / √(2 C_h))`` [G 28]: fraction of closed update gates as ``a_z → ∞``."""
    return 0.5 * math.erfc(beta / math.sqrt(2.0 * C_h))


def phase_diagram(
    a_h: Sequence[float] | None = None,
    a_r: Sequence[float] | None = None,
    *,
    b_r: float = 0.0,
    beta: float = 0.0,
    curve_points: int = 12,
    grid: int = 60,
) -> PhaseDiagram:
    """Classify the ``(a_h, a_r)`` plane by the GRU's fixed points (Fig. 2 left)."""
    ah = np.linspace(1.0, 3.0, 41) if a_h is None else np.asarray(a_h, dtype=float)
    ar = np.linspace(0.0, 10.0, 41) if a_r is None else np.asarray(a_r, dtype=float)
    for name, values in (("a_h", ah), ("a_r", ar)):
        # describe the grid instead of printing it: a numpy array in a one-line error is noise
        if values.ndim != 1 or values.size == 0:
            shape = "x".join(map(str, values.shape)) or "scalar"
            raise ParameterError(expected("non-empty 1-D grids of scales a_h/a_r", name, f"grid of shape {shape}"))
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ParameterError(
                expected("finite non-negative scales in the a_h/a_r grids", name, f"min {values.min():g}")
            )
    regions = np.zeros((ar.size, ah.size), dtype=int)
    marginal = np.zeros((ar.size, ah.size), dtype=bool)
    rho = np.full((ar.size, ah.size), np.nan)
    for i, r in enumerate(ar):
        for j, h in enumerate(ah):
            nonzero = count_nonzero_fixed_points(float(h), float(r), b_r, grid)
            regions[i, j] = min(len(nonzero), 2)
            if nonzero:
                rho[i, j] = min(fp.rho_0 for fp in nonzero if fp.rho_0 is not None)
                marginal[i, j] = any(
                    fp.rho_0 is not None and fp.rho_0**2 < 1.0 / marginal_alpha(fp.C["h"], beta) for fp in nonzero
                )
    curve = bifurcation_curve(float(ah.min()), float(ah.max()), curve_points) if b_r == 0.0 else []
    return PhaseDiagram(ah, ar, regions, marginal, rho, curve, b_r, beta, 1.0 + math.exp(-b_r))


def plot_phase_diagram(data: PhaseDiagram, path: str | Path) -> Path:
    """Fig. 2 (left): regions, marginal-stability shading and the bifurcation curve (PNG/PDF/SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    fig, ax = plt.subplots(figsize=(7, 4))
    cmap = ListedColormap(["#4c72b0", "#dd8452", "#55a868"])
    ax.pcolormesh(data.a_h, data.a_r, data.regions, cmap=cmap, vmin=0, vmax=2, shading="nearest")
    if data.marginal.any():
        ax.contourf(data.a_h, data.a_r, data.marginal.astype(float), levels=[0.5, 1.5], colors="k", alpha=0.35)
    if data.bifurcation_curve:
        xs, ys = zip(*data.bifurcation_curve, strict=True)
        ax.plot(xs, ys, "b--", label=r"$a_r^*(a_h)$")
    ax.axvline(data.zero_unstable_above, color="k", lw=1.0, ls=":")  # black: visible in the outside legend too
    ax.set_xlabel(r"$a_h$")
    ax.set_ylabel(r"$a_r$")
    ax.set_ylim(float(data.a_r.min()), float(data.a_r.max()))
    ax.set_title(rf"GRU fixed points ($b_r$ = {data.b_r:g})", fontsize=10)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(color="#4c72b0", label="zero FP only"),
        Patch(color="#dd8452", label="one nonzero branch"),
        Patch(color="#55a868", label="two nonzero branches"),
        Patch(color="k", alpha=0.35, label=r"marginal: $\rho_0^2 < 1/\alpha$"),
        Line2D([], [], color="k", ls=":", label=rf"zero FP unstable: $a_h > {data.zero_unstable_above:.3g}$"),
    ]
    if data.bifurcation_curve:
        handles.append(Line2D([], [], color="b", ls="--", label=r"$a_r^*(a_h)$"))
    # outside the axes, so that no region or curve is hidden under it
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    from rmtgate.figures import save_figure

    return save_figure(fig, path)
