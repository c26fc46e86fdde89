"""Eigenvalue density ``μ(λ) = (1/π) ∂_λ̄ G`` and resolvent trace ``G(λ)`` at points and on grids.

From the solved Dyson system (:mod:`rmtgate.numerics.dyson_solver`) ``μ`` follows by implicit
differentiation, never finite differences.  Normalisation: per eigenvalue of the Jacobian
(``n_state N`` eigenvalues; the LSTM's densities are fractions of ``2N``).  Point masses
(atoms) are reported separately.  Masses of disks and marginals: :mod:`rmtgate.numerics.density_masses`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError, ParameterError, expected
from rmtgate.numerics.curves import spectral_curve
from rmtgate.numerics.dyson_coefficients import Atom, DysonCoefficients, DysonTerms, chunk_size, coefficients
from rmtgate.numerics.dyson_solver import Solution, gauge_system, solve
from rmtgate.numerics.samples import LocalSample
from rmtgate.validation import check_integer


@dataclass(frozen=True)
class DensityResult:
    """``G`` (full, atoms included) and continuous density ``mu`` (atoms excluded) at ``points``.

    ``mu_imag`` is the imaginary part of ``∂_λ̄ G / π`` (zero in exact arithmetic: a check);
    ``atoms`` lists the point masses; ``solution`` the solved unknowns.
    """

    points: np.ndarray
    G: np.ndarray
    mu: np.ndarray
    mu_imag: np.ndarray
    atoms: tuple[Atom, ...]
    solution: Solution


def green_and_density(co: DysonCoefficients, sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(G, μ, Im)`` at the solution's points: ``μ`` by implicit differentiation.

    ``∂_λ̄ G = G_λ̄ + G_g · dg/dλ̄`` with ``dg/dλ̄ = −F_g^{-1} F_λ̄`` (gauge row: ``F_λ̄ = 0``).
    """
    lam, K = sol.lam, co.K
    G = np.zeros(lam.size, dtype=complex)
    dbar = np.zeros(lam.size, dtype=complex)
    step = chunk_size(co)
    for start in range(0, lam.size, step):
        part = slice(start, start + step)
        ins = np.nonzero(sol.inside[part])[0]
        out = np.nonzero(~sol.inside[part])[0]
        if out.size:  # outside: u = v = 0 and G is the holomorphic E tr (λ − A_ss)^{-1}
            zero = np.zeros((out.size, K))
            t_out = DysonTerms(co, lam[part][out], zero, zero, transfer_only=True)
            G[part][out] = np.mean(t_out.trace_w, axis=1) / co.n_state
        if ins.size == 0:
            continue
        ti = DysonTerms(co, lam[part][ins], sol.u[part][ins], sol.v[part][ins])
        G[part][ins] = ti.green()
        _F, J, row = gauge_system(ti)
        F_bar = ti.residual_lambda_bar()
        F_bar[np.arange(ins.size), row] = 0.0
        dg = np.linalg.solve(J.astype(complex), -F_bar[..., None])[..., 0]
        # ∂G/∂λ̄ = G_λ̄ + G_g·dg: green_derivative is linear in (δu, δv, δT†), so one call
        dTH = np.conj(np.swapaxes(ti.dT, -1, -2))
        dbar[part][ins] = ti.green_derivative(dg[:, :K], dg[:, K:], dTH)
    for atom in co.atoms:
        gap = lam - atom.location
        G = G + atom.weight / np.where(gap == 0, 1e-300, gap)
    mu = dbar.real / np.pi
    return G, mu, dbar.imag / np.pi


def density(
    boundary_or_derivation: Any,
    sample: LocalSample | str,
    params: Mapping[str, Any],
    points: Any,
    *,
    tol: float = 1e-11,
    atom_tol: float = 1e-9,
    coefficients_: DysonCoefficients | None = None,
) -> DensityResult:
    """``G(λ)`` and the continuous eigenvalue density ``μ(λ)`` at ``points``.

    ``boundary_or_derivation``: Boundary/Derivation/Linearization/Architecture; ``sample``: a
    :class:`LocalSample` or ``"zero"``; ``params``: parameter values; ``points``: complex
    array (any shape); ``tol``: Newton relative residual; ``atom_tol``: see
    :func:`coefficients`.  Outside the support ``μ = 0`` exactly and ``G`` is holomorphic.
    Negative ``μ`` can only come from rounding (the result is checked against
    ``-1e-8 max μ`` and clipped at 0); a larger negative value raises ConvergenceError.
    """
    co = coefficients_ or coefficients(boundary_or_derivation, sample, params, atom_tol=atom_tol)
    pts = np.asarray(points, dtype=complex)
    sol = solve(co, pts.reshape(-1), tol=tol)
    G, mu, imag = green_and_density(co, sol)
    mu = _checked_nonnegative(mu)
    shape = pts.shape
    return DensityResult(pts, G.reshape(shape), mu.reshape(shape), imag.reshape(shape), co.atoms, sol)


def _checked_nonnegative(mu: np.ndarray) -> np.ndarray:
    scale = float(np.max(np.abs(mu))) if mu.size else 0.0
    worst = float(np.min(mu)) if mu.size else 0.0
    if worst < -1e-8 * max(scale, 1e-300):
        raise ConvergenceError(
            f"negative density {worst:.3e} (max {scale:.3e}): the solved branch is not the physical one",
            residual=worst,
            iterations=0,
        )
    return np.maximum(mu, 0.0)


def as_coefficients(
    bnd_or_co: Any, sample: LocalSample | str | None, params: Mapping[str, Any] | None
) -> DysonCoefficients:
    if isinstance(bnd_or_co, DysonCoefficients):
        return bnd_or_co
    if sample is None or params is None:
        raise ParameterError(expected("a sample and params with a boundary", "sample", sample))
    return coefficients(bnd_or_co, sample, params)


def rho_minus_one(co: DysonCoefficients, lam: np.ndarray) -> np.ndarray:
    K = co.K
    out = np.empty(lam.size)
    step = max(1, 2_000_000 // max(1, co.size * K * K))
    for s in range(0, lam.size, step):
        z = lam[s : s + step]
        out[s : s + step] = (
            DysonTerms(co, z, np.zeros((z.size, K)), np.zeros((z.size, K)), transfer_only=True).perron() - 1.0
        )
    return out


# ------------------------------------------------------------------------------ grid


@dataclass(frozen=True)
class DensityGrid:
    """``mu[i, j]`` and ``G[i, j]`` at ``x[j] + i y[i]`` (cell centres), atoms, timing."""

    x: np.ndarray
    y: np.ndarray
    G: np.ndarray
    mu: np.ndarray
    atoms: tuple[Atom, ...]
    seconds: float
    newton_iterations: int

    @property
    def cell_area(self) -> float:
        return float((self.x[1] - self.x[0]) * (self.y[1] - self.y[0]))

    @property
    def continuous_mass(self) -> float:
        """Midpoint-rule mass of the continuous part (O(h) at the edge jump: a rough check only)."""
        return float(np.sum(self.mu) * self.cell_area)


def auto_extent(co: DysonCoefficients, margin: float = 0.05) -> tuple[float, float, float, float]:
    """``(xmin, xmax, ymin, ymax)`` enclosing the support (spectral curve) with a ``margin``."""
    curve = spectral_curve(co.evaluator, n_angles=180)
    pts = np.concatenate([curve.points, np.asarray(curve.real_axis_edges, dtype=complex)])
    if pts.size == 0:
        pts = np.array([curve.center + 0j])
    xmin, xmax = float(np.min(pts.real)), float(np.max(pts.real))
    ymax = float(np.max(np.abs(pts.imag)))
    pad = margin * max(xmax - xmin, 2 * ymax, 1e-12)
    return xmin - pad, xmax + pad, -ymax - pad, ymax + pad


def density_grid(
    bnd_or_co: Any,
    sample: LocalSample | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    grid: int = 200,
    extent: tuple[float, float, float, float] | None = None,
    tol: float = 1e-11,
) -> DensityGrid:
    """``μ`` and ``G`` on a ``grid × grid`` lattice of cell centres over ``extent``.

    Continuation: columns (fixed ``Re λ``) are solved in turn, all rows of a column as one
    batch, each point warm-started from its left neighbour's solution; a point entering the
    support takes the solution of the nearest solved point of its own column, and only a
    column without any solved neighbour is cold-started.  Cell centres never lie on the real
    axis when ``extent`` is symmetric and ``grid`` even (finite samples have poles there).
    """
    grid = check_integer(grid, "grid", 2)
    co = as_coefficients(bnd_or_co, sample, params)
    start = time.perf_counter()
    xmin, xmax, ymin, ymax = extent if extent is not None else auto_extent(co)
    x = xmin + (np.arange(grid) + 0.5) * (xmax - xmin) / grid
    y = ymin + (np.arange(grid) + 0.5) * (ymax - ymin) / grid
    K = co.K
    G = np.zeros((grid, grid), dtype=complex)
    mu = np.zeros((grid, grid))
    previous = np.full((grid, 2 * K), np.nan)
    before = np.full((grid, 2 * K), np.nan)
    iterations = 0
    for j in range(grid):
        lam = x[j] + 1j * y
        # secant predictor 2 g_{j-1} − g_{j-2}: O(h²) start instead of O(h), saves a Newton step
        predicted = 2.0 * previous - before
        usable = np.all(np.isfinite(predicted), axis=1) & np.all(predicted >= 0, axis=1)
        guess = _fill_from_column(np.where(usable[:, None], predicted, previous))
        sol = solve(co, lam, guess=guess, tol=tol)
        Gj, muj, _ = green_and_density(co, sol)
        G[:, j], mu[:, j] = Gj, muj
        g = np.concatenate([sol.u, sol.v], axis=1)
        g[~sol.inside] = np.nan
        before, previous = previous, g
        iterations += int(np.sum(sol.iterations))
    mu = _checked_nonnegative(mu)
    return DensityGrid(x, y, G, mu, co.atoms, time.perf_counter() - start, iterations)


def _fill_from_column(g: np.ndarray) -> np.ndarray:
    """Rows without a solution take the nearest row's solution (or stay NaN if none)."""
    ok = np.all(np.isfinite(g), axis=1)
    if not np.any(ok):
        return g
    rows = np.nonzero(ok)[0]
    nearest = rows[np.argmin(np.abs(np.arange(g.shape[0])[:, None] - rows[None, :]), axis=1)]
    return g[nearest]
