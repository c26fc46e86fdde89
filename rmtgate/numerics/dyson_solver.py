"""Newton solver of the η → 0⁺ Dyson system (see :mod:`rmtgate.numerics.dyson_coefficients`).

Unknowns ``g = (u, v) ≥ 0`` per point; the gauge ``u → cu, v → v/c`` is fixed by ``Σu = Σv``
(replacing the redundant equation), the trivial root ``g = 0`` is deflated, and points
without a warm start begin at the Perron directions of ``L`` (where the solution bifurcates
from 0).  :func:`damped_fixed_point` is the classical iteration ``g ← ½(g + Φ(g))``, kept as
the cold start's polish and as the benchmark baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError
from rmtgate.numerics.dyson_coefficients import DysonCoefficients, DysonTerms, chunk_size


@dataclass(frozen=True)
class Solution:
    """Solved Dyson system at points: ``u, v`` (``(P, K)``, zero outside), ``inside`` mask,
    relative residual and Newton iterations per point."""

    lam: np.ndarray
    u: np.ndarray
    v: np.ndarray
    inside: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray


def gauge_system(t: DysonTerms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residual, Jacobian and row index with the redundant y-equation replaced by ``Σu = Σv``."""
    F, J = t.residual(), t.jacobian()
    K = t.co.K
    row = K + np.argmax(t.u, axis=1)  # the y-equation with the largest u_k is implied by the others
    idx = np.arange(F.shape[0])
    F[idx, row] = np.sum(t.u, axis=1) - np.sum(t.v, axis=1)
    J[idx, row, :K] = 1.0
    J[idx, row, K:] = -1.0
    return F, J, row


def _relative(F: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.max(np.abs(F), axis=1) / np.maximum(np.max(np.abs(g), axis=1), 1e-300)


def newton(
    co: DysonCoefficients, lam: np.ndarray, g0: np.ndarray, *, tol: float = 1e-11, max_iterations: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton on the gauge-fixed system from ``g0`` (``(P, 2K)``) at points ``lam``.

    Converged when the relative residual ``max|F| / max|g| ≤ tol``.  The trivial root
    ``g = 0`` is deflated (see the step below).  Steps keep ``g ≥ 0``:
    a component that a step would make negative is divided by 10 instead (the unknowns are
    imaginary parts of resolvent blocks: non-negative).  Returns ``(g, residual, iterations)``;
    unconverged points keep their last residual (callers decide).
    """
    K = co.K
    g = np.array(g0, dtype=float)
    residual = np.full(lam.size, np.inf)
    iterations = np.zeros(lam.size, dtype=int)
    active = np.arange(lam.size)
    for it in range(max_iterations + 1):
        if active.size == 0:
            break
        t = DysonTerms(co, lam[active], g[active, :K], g[active, K:])
        F, J, _ = gauge_system(t)
        res = _relative(F, g[active])
        residual[active] = res
        iterations[active] = it
        done = res <= tol
        if it == max_iterations:
            break
        keep = ~done
        active, F, J = active[keep], F[keep], J[keep]
        if active.size == 0:
            break
        try:
            step = np.linalg.solve(J, -F[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(J[0], -F[0], rcond=None)[0][None] if J.shape[0] == 1 else _safe_solve(J, -F)
        # deflation of the trivial root g = 0 (Farrell et al. 2015): Newton on F(g)/n(g), n = Σg,
        # whose step is δ_N / (1 + Σδ_N / n) by Sherman–Morrison.  F/n has no root at 0 inside
        # the support (its limit there is (I − L)·direction), so iterates cannot collapse onto it.
        n_g = np.maximum(np.sum(g[active], axis=1, keepdims=True), 1e-300)
        factor = 1.0 + np.sum(step, axis=1, keepdims=True) / n_g
        step = step / np.where(np.abs(factor) < 1e-3, np.copysign(1e-3, factor), factor)
        # a step larger than 4·max g is shortened: the equations are scale-free near 0
        size = np.max(np.abs(step), axis=1, keepdims=True) / np.maximum(
            np.max(g[active], axis=1, keepdims=True), 1e-300
        )
        step = step * np.minimum(1.0, 4.0 / np.maximum(size, 1e-300))
        trial = g[active] + step
        floor = 1e-13 * np.max(g[active], axis=1, keepdims=True)
        g[active] = np.where(trial >= -floor, np.maximum(trial, 0.0), 0.1 * g[active])
    return g, residual, iterations


def _safe_solve(J: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-point least squares where the batched solve hit a singular matrix."""
    return np.stack([np.linalg.lstsq(j, r, rcond=None)[0] for j, r in zip(J, b, strict=True)])


def cold_start(co: DysonCoefficients, lam: np.ndarray, *, damped_iterations: int = 20) -> np.ndarray:
    """Initial unknowns without a neighbour: Perron directions of ``L``, amplitude by a scan.

    Near the edge the solution bifurcates from 0 along ``v ∝`` right and ``u ∝ a² ⊙`` left
    Perron vectors of ``L``; the amplitude ``s`` minimising the relative residual on a
    logarithmic scan is then polished by ``damped_iterations`` steps of ``g ← ½(g + Φ(g))``
    (which converges from any positive start but slowly: a few steps only tame Newton's start).
    """
    K = co.K
    t = DysonTerms(co, lam, np.zeros((lam.size, K)), np.zeros((lam.size, K)), transfer_only=True)
    L = t.L()
    w, vr = np.linalg.eig(L)
    right = np.abs(np.take_along_axis(vr, np.argmax(np.abs(w), axis=1)[:, None, None], axis=2)[:, :, 0])
    w_l, vl = np.linalg.eig(np.swapaxes(L, -1, -2))
    left = np.abs(np.take_along_axis(vl, np.argmax(np.abs(w_l), axis=1)[:, None, None], axis=2)[:, :, 0])
    left = left * co.scales**2
    right = right / np.maximum(np.sum(right, axis=1, keepdims=True), 1e-300)
    left = left / np.maximum(np.sum(left, axis=1, keepdims=True), 1e-300)
    base = np.concatenate([left, right], axis=1)
    best = np.full(lam.size, np.inf)
    g = base.copy()
    for s in np.geomspace(1e-6, 1e3, 19):
        trial = s * base
        F = DysonTerms(co, lam, trial[:, :K], trial[:, K:]).residual()
        res = _relative(F, trial)
        better = res < best
        best = np.where(better, res, best)
        g[better] = trial[better]
    return damped_fixed_point(co, lam, g, iterations=damped_iterations)[0]


def damped_fixed_point(
    co: DysonCoefficients, lam: np.ndarray, g0: np.ndarray, *, iterations: int, tol: float = 0.0
) -> tuple[np.ndarray, np.ndarray, int]:
    """``g ← ½(g + Φ(g))`` with the gauge renormalised each step (the classical iteration).

    Stops after ``iterations`` steps or when every relative residual is ≤ ``tol``; returns
    ``(g, residual, steps)``.
    """
    K = co.K
    g = np.array(g0, dtype=float)
    res = np.full(lam.size, np.inf)
    for step in range(iterations):
        t = DysonTerms(co, lam, g[:, :K], g[:, K:])
        F = t.residual()
        res = _relative(F, g)
        if np.all(res <= tol):
            return g, res, step
        g = g - 0.5 * F
        # gauge u → c u, v → v / c with Σu = Σv; G is invariant under it
        su, sv = np.sum(g[:, :K], axis=1), np.sum(g[:, K:], axis=1)
        c = np.sqrt(np.where((su > 0) & (sv > 0), sv / np.where(su > 0, su, 1.0), 1.0))
        g[:, :K] *= c[:, None]
        g[:, K:] /= c[:, None]
    return g, res, iterations


def solve(
    co: DysonCoefficients,
    lam: Any,
    *,
    guess: np.ndarray | None = None,
    tol: float = 1e-11,
    max_iterations: int = 40,
) -> Solution:
    """Solve the Dyson system at points ``lam`` (inside the support; zero outside).

    ``guess`` (``(P, 2K)``, rows of NaN = none) warm-starts Newton; points without one get
    :func:`cold_start`.  A point where Newton fails from its warm start is retried from a cold
    start; if it still fails, :class:`ConvergenceError` is raised with the worst residual.
    A point inside the support (``ρ(L) > 1``) whose Newton iterate collapses onto the trivial
    solution ``g = 0`` counts as a failure.
    """
    lam = np.atleast_1d(np.asarray(lam, dtype=complex)).reshape(-1)
    K = co.K
    u = np.zeros((lam.size, K))
    v = np.zeros((lam.size, K))
    inside = np.zeros(lam.size, dtype=bool)
    residual = np.zeros(lam.size)
    iterations = np.zeros(lam.size, dtype=int)
    step = chunk_size(co)
    for start in range(0, lam.size, step):
        part = slice(start, start + step)
        z = lam[part]
        rho = DysonTerms(co, z, np.zeros((z.size, K)), np.zeros((z.size, K)), transfer_only=True).perron()
        ins = np.nonzero(rho >= 1.0)[0]
        inside[part] = rho >= 1.0
        if ins.size == 0:
            continue
        g0 = np.full((ins.size, 2 * K), np.nan) if guess is None else np.array(guess[part][ins], dtype=float)
        cold = np.any(~np.isfinite(g0), axis=1) | (np.max(np.nan_to_num(g0), axis=1) <= 0)
        if np.any(cold):
            g0[cold] = cold_start(co, z[ins[cold]])
        g, res, its = newton(co, z[ins], g0, tol=tol, max_iterations=max_iterations)
        failed = (res > tol) | ((np.max(g, axis=1) <= 0) & (rho[ins] > 1.0 + 1e-12))
        if np.any(failed & ~cold):
            retry = np.nonzero(failed & ~cold)[0]
            g_r, res_r, its_r = newton(
                co, z[ins[retry]], cold_start(co, z[ins[retry]]), tol=tol, max_iterations=max_iterations
            )
            g[retry], res[retry], its[retry] = g_r, res_r, its[retry] + its_r
            failed = (res > tol) | ((np.max(g, axis=1) <= 0) & (rho[ins] > 1.0 + 1e-12))
        if np.any(failed):
            worst = int(np.argmax(np.where(failed, res, -1.0)))
            raise ConvergenceError(
                f"Dyson equation did not converge at λ={complex(z[ins[worst]]):.6g} (tol={tol:g})",
                residual=float(res[worst]),
                iterations=int(its[worst]),
            )
        u[part][ins], v[part][ins] = g[:, :K], g[:, K:]
        residual[part][ins], iterations[part][ins] = res, its
    return Solution(lam, u, v, inside, residual, iterations)
