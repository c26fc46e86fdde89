"""The GRU's closed steady-state difference equations [G 50-51] (exact for ``a_z = a_r = 0``).

A cross-check of the Monte Carlo DMFT of :mod:`rmtgate.mft.dmft` where both apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.validation import check_integer

# ============================================================================ GRU closed equations [G 50-51]


@dataclass(frozen=True)
class ClosedDMFT:
    """Solution of the GRU's closed steady-state equations [G 50-51] on lags ``0..K-1``."""

    C_h: np.ndarray
    C_phi: np.ndarray
    C_z: np.ndarray
    kappa: float
    iterations: int
    residual: float

    @property
    def C_h0(self) -> float:
        return float(self.C_h[0])


def _pair_moment(f: Callable[[np.ndarray], np.ndarray], variance: float, cov: np.ndarray, mean: float) -> np.ndarray:
    """``E[f(X) f(X'_k)]`` for jointly Gaussian ``X, X'_k`` (variance ``variance``, covariance ``cov[k]``)."""
    from rmtgate.numerics.quadrature import bivariate_normal_rule

    x, xp, w = bivariate_normal_rule(variance, cov, mean, n=64)
    return (f(xp) * f(x)[None, :]) @ w


def gru_closed_dmft(
    params: Mapping[str, Any],
    *,
    lags: int = 64,
    damping: float = 0.5,
    tol: float = 1e-10,
    max_iter: int = 2000,
    initial: np.ndarray | None = None,
) -> ClosedDMFT:
    """Solve [G 50-51] for the GRU (``v_k = 0``) by damped iteration of a tridiagonal solve.

    Given ``C_h(k)``: ``C_ζ = a_z² C_h``, ``C_ξ = a_r² C_h``, ``C_r(k) = E[σ(ξ)σ(ξ')]``,
    ``C_y = a_h² C_r C_h``, ``C_φ(k) = E[φ(y)φ(y')]``, ``C_z(k)``, ``κ = E[σ(ζ)]``; then
    ``C_h(k) - κ C_h(k-1) - κ C_h(k+1) + C_z(k) C_h(k) = (1 - 2κ + C_z(k)) C_φ(k)`` for
    ``k >= 1`` and ``C_h(0) + C_z(0) C_h(0) - 2κ C_h(1) = (1 - 2κ + C_z(0)) C_φ(0)``, with
    ``C_h(K) = C_h(K-1)``.  The factorization behind [G 50] (``z`` independent of ``h``)
    is exact when ``a_z = a_r = 0``.
    """
    from rmtgate.symbolic.builtins import gru

    values = resolve_parameters(gru(), params)
    lags = check_integer(lags, "lags", 4)
    a_h, a_r, a_z = values["a_h"], values["a_r"], values["a_z"]
    b_h, b_r, b_z = values["b_h"], values["b_r"], values["b_z"]

    def sig(x: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * x))

    C = np.asarray(initial, dtype=float)[:lags].copy() if initial is not None else 0.5 * np.exp(-np.arange(lags) / 8.0)
    residual = math.inf
    for iteration in range(1, max_iter + 1):
        c_xi = a_r**2 * C
        c_r = _pair_moment(lambda x: sig(x), c_xi[0], c_xi, b_r)
        c_y = a_h**2 * c_r * C
        c_phi = _pair_moment(np.tanh, c_y[0], c_y, b_h)
        c_zeta = a_z**2 * C
        c_z = _pair_moment(lambda x: sig(x), c_zeta[0], c_zeta, b_z)
        kappa = float(_pair_moment(lambda x: sig(x), c_zeta[0], np.array([0.0]), b_z)[0] / 1.0)
        # E[σ(ζ)] (κ): the pair moment with zero covariance is κ², take the square root
        kappa = math.sqrt(max(kappa, 0.0))
        rhs = (1.0 - 2.0 * kappa + c_z) * c_phi
        A = np.zeros((lags, lags))
        idx = np.arange(lags)
        A[idx, idx] = 1.0 + c_z
        A[idx[1:], idx[:-1]] = -kappa
        A[idx[:-1], idx[1:]] = -kappa
        A[0, 1] = -2.0 * kappa
        A[-1, -1] -= kappa  # C_h(K) = C_h(K-1)
        new = np.linalg.solve(A, rhs)
        residual = float(np.max(np.abs(new - C)))
        C = (1 - damping) * C + damping * new
        if residual < tol:
            return ClosedDMFT(C, c_phi, c_z, kappa, iteration, residual)
    raise ConvergenceError("GRU closed DMFT [G 50-51] did not converge", residual=residual, iterations=max_iter)
