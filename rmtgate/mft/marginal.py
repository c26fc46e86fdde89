"""Marginal stability of GRU fixed points at large update-gate gain ([G] Thm 4.8).

``ρ(J_0)`` from ``1 = ρ_0² E[(1-z)²/|λ-z|²]`` ([G 88] with ``ν = 0``) in mpmath at ``dps``
digits — ``ρ − 1 ~ e^{-c √C_h a_z}`` falls below double precision — and the pinching
exponent ``c`` of [G 27].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mpmath

from rmtgate.errors import ConvergenceError, ParameterError, expected
from rmtgate.mft.fixed_points import FixedPoint, fixed_points
from rmtgate.mft.phase import SQRT2
from rmtgate.numerics.quadrature import mp_expect
from rmtgate.symbolic.builtins import gru
from rmtgate.symbolic.functions import mp_sigmoid
from rmtgate.validation import check_integer

# ============================================================================ Thm 4.8


def gru_rho0_squared_mp(C_h: Any, params: Mapping[str, float], dps: int) -> Any:
    """``ρ_0² = a_h² E[φ'(y)²] (E[r²] + a_r² E[r'²] C_h)`` [G 19] at a GRU fixed point, in mpmath."""
    with mpmath.workdps(dps):
        C = mpmath.mpf(C_h)
        a_h, a_r = mpmath.mpf(params["a_h"]), mpmath.mpf(params["a_r"])
        b_h, b_r = mpmath.mpf(params.get("b_h", 0)), mpmath.mpf(params.get("b_r", 0))
        sig = mp_sigmoid
        er2 = mp_expect(lambda x: sig(x + b_r) ** 2, a_r * mpmath.sqrt(C), dps=dps)
        erp2 = mp_expect(lambda x: (sig(x + b_r) * (1 - sig(x + b_r))) ** 2, a_r * mpmath.sqrt(C), dps=dps)
        c_y = C * er2
        ephi2 = mp_expect(lambda x: (1 - mpmath.tanh(x + b_h) ** 2) ** 2, a_h * mpmath.sqrt(c_y), dps=dps)
        return a_h**2 * ephi2 * (er2 + a_r**2 * erp2 * C)


def pinching_exponent(rho_0: float, C_h: float, beta: float = 0.0) -> float:
    """``c`` solving ``erf((c - β/√C_h)/√2) = 2/ρ_0² - 1`` [G 27] (needs ``1 < ρ_0² < 1/α``)."""
    target = 2.0 / rho_0**2 - 1.0
    if not -1.0 < target < 1.0:
        raise ParameterError(expected("1 < rho_0^2 (so that erf(...) = 2/rho_0^2 - 1 is solvable)", "rho_0", rho_0))
    c = beta / math.sqrt(C_h) + SQRT2 * float(mpmath.erfinv(target))
    if c <= 0:
        raise ParameterError(expected("rho_0^2 < 1/alpha [G 28] (positive c)", "rho_0", rho_0))
    return c


def fixed_point_spectral_radius(C_h: Any, rho0_squared: Any, a_z: float, b_z: float = 0.0, *, dps: int) -> mpmath.mpf:
    """Largest real ``λ > 1`` with ``1 = ρ_0² E[(1-z)²/(λ-z)²]``, ``z = σ(a_z √C_h x + b_z)``.

    The fixed-point boundary ``S_{ρ,0}`` of [G 88].  The unknown is ``s = -log(λ-1)`` and the
    integrand is written as ``1/(1 + e^{-s}(1 + e^{u}))²`` (``u = a_z √C_h x + b_z``), so no
    cancellation occurs however close ``λ`` is to one; ``dps`` digits throughout (local
    ``workdps``).  Returns ``ρ(J_0)`` as an ``mpf``; use :func:`log_excess` for ``log(ρ - 1)``.
    """
    return 1 + mpmath.exp(-_excess_exponent(C_h, rho0_squared, a_z, b_z, dps))


def log_excess(C_h: Any, rho0_squared: Any, a_z: float, b_z: float = 0.0, *, dps: int) -> mpmath.mpf:
    """``log(ρ(J_0) - 1)`` computed without forming ``ρ(J_0)`` (see :func:`fixed_point_spectral_radius`)."""
    return -_excess_exponent(C_h, rho0_squared, a_z, b_z, dps)


def _excess_exponent(C_h: Any, rho0_squared: Any, a_z: float, b_z: float, dps: int) -> mpmath.mpf:
    dps = check_integer(dps, "dps", 15)
    if not a_z > 0:
        raise ParameterError(expected("a positive update-gate scale", "a_z", a_z))
    with mpmath.workdps(dps):
        C = mpmath.mpf(C_h)
        rho2 = mpmath.mpf(rho0_squared)
        if not C > 0:
            raise ParameterError(expected("a nonzero fixed point (C_h > 0)", "C_h", C_h))
        if not rho2 > 1:
            raise ParameterError(expected("rho_0^2 > 1 (otherwise rho(J_0) < 1)", "rho0_squared", rho0_squared))
        scale = mpmath.mpf(a_z) * mpmath.sqrt(C)
        bz = mpmath.mpf(b_z)

        def g(s: Any) -> Any:
            x0 = (s - bz) / scale
            w = 1 / scale
            bps = sorted({x0 + k * w for k in (-40, -10, -3, 0, 3, 10, 40)} | {-bz / scale})

            def integrand(x: Any) -> Any:
                u = scale * x + bz
                return 1 / (1 + mpmath.exp(-s) * (1 + mpmath.exp(u))) ** 2

            return rho2 * mp_expect(integrand, 1, dps=dps, breakpoints=bps) - 1

        # bracket around the asymptotic exponent c a_z sqrt(C_h) of [G 26-27] when it exists
        try:
            guess = mpmath.mpf(pinching_exponent(float(mpmath.sqrt(rho2)), float(C), float(bz / a_z))) * scale
        except ParameterError:
            guess = mpmath.mpf(0)
        lo, hi = guess - 6, guess + 6
        while g(hi) < 0:
            lo, hi = hi, hi * 2
            if hi > 10 * dps:
                raise ConvergenceError(
                    f"rho(J_0) - 1 below 1e-{dps // 2}: raise dps", residual=float(g(hi)), iterations=0
                )
        while g(lo) > 0:
            lo, hi = lo * 2, lo
        return mpmath.findroot(g, (lo, hi), solver="anderson", tol=mpmath.mpf(10) ** (-dps + 5))


def gru_nonzero_fixed_point(params: Mapping[str, float], *, dps: int | None = None, branch: int = -1) -> FixedPoint:
    """The nonzero GRU fixed point (largest by default) at ``params``."""
    nonzero = [fp for fp in fixed_points(gru(), params, dps=dps) if not fp.is_zero]
    if not nonzero:
        raise ParameterError(expected("parameters with a nonzero GRU fixed point", "parameters", dict(params)))
    return nonzero[branch]
