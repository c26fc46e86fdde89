"""Every fixed-point branch of the mean-field equations ([G 10] for the GRU), with its stability.

Given the torn moments of :class:`~rmtgate.mft.system.FixedPointSystem`, the self-consistency is
a scalar ``G(t) = t``; every root is found (``t = 0``, sign changes of ``G(t)/t − 1`` on a
logarithmic grid and close pairs at extrema), refined by ``brentq`` or ``mpmath.findroot`` at
``dps`` digits.  A branch is stable when ``ρ(L(1)) < 1``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import scipy.optimize
import sympy

from rmtgate.errors import ParameterError, expected
from rmtgate.mft.system import FixedPointSystem, fixed_point_system
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.precision import nonfinite_error
from rmtgate.symbolic.architecture import Architecture
from rmtgate.validation import check_integer

# ============================================================================ boundary at λ = 1


class _BoundaryAtOne:
    """``L_kl(1) = a_k² E[T_kl(1)²]`` with ``T(λ) = C (I_λ - A)^{-1} B`` at the fixed point.

    Also the split ``T(λ) = P + Q / (λ - a)`` for single-state architectures, used to decide
    whether the boundary function is radially decreasing (then Cor. 4.6 of [G] applies:
    stable iff the Perron root of ``L(1)`` is below one).
    """

    def __init__(self, system: FixedPointSystem):
        from rmtgate.symbolic.linearization import LAMBDA, linearize

        lin = linearize(system.architecture)
        n = lin.n_state
        A, B, C = lin.A, lin.B, lin.C
        ass = sympy.Matrix(A[:n, :n])
        asf = sympy.Matrix(A[:n, n:])
        operand = LAMBDA * sympy.eye(n) - ass
        # adjugate / determinant: no simplification (sympy's inv() runs trigsimp and is slow)
        resolvent = operand.adjugate(method="berkowitz") / operand.det(method="berkowitz")
        T = sympy.Matrix(C[:, :n]) * resolvent * asf + sympy.Matrix(C[:, n:])
        del B
        self.system = system
        self.k = T.shape[0]
        at_one = T.subs(LAMBDA, 1)
        self.entries = [
            [system._integrand(at_one[i, j] ** 2) if at_one[i, j] != 0 else None for j in range(self.k)]
            for i in range(self.k)
        ]
        self.single_state = n == 1
        if self.single_state:
            self.a = ass[0, 0]
            self.P = sympy.Matrix(C[:, n:])
            self.Q = sympy.Matrix(C[:, :n]) * asf
            variables = (*system.form.state, *system.variables)
            self.monotone_terms = lambdify_local(
                (*variables, *system.params),
                (
                    system.local(self.a),
                    *[system.local(self.P[i, j] * self.Q[i, j]) for i in range(self.k) for j in range(self.k)],
                ),
            )

    def matrix(self, moments: Sequence[float], params: Mapping[str, float]) -> np.ndarray:
        system = self.system
        stds = system.field_stds(moments, params)
        pvals = system._pvals(params)
        scales = system.scales(params)
        out = np.zeros((self.k, self.k))
        for i in range(self.k):
            for j in range(self.k):
                entry = self.entries[i][j]
                if entry is not None:
                    out[i, j] = scales[i] ** 2 * entry.expect(stds, pvals)
        return out

    def radially_monotone(self, moments: Sequence[float], params: Mapping[str, float], seed: int = 0) -> bool:
        """Numerical check on 4096 samples: ``P_kl Q_kl = 0`` and ``0 <= a < 1`` everywhere."""
        if not self.single_state:
            return False
        system = self.system
        stds = system.field_stds(moments, params)
        rng = np.random.default_rng(seed)
        draws = [rng.standard_normal(4096) * stds[v] for v in system.variables]
        state = [np.zeros(4096) for _ in system.form.state]
        values = self.monotone_terms(*state, *draws, *system._pvals(params))
        a = np.broadcast_to(np.asarray(values[0], dtype=float), (4096,))
        products = np.array([np.broadcast_to(np.asarray(v, dtype=float), (4096,)) for v in values[1:]])
        return bool(np.all(a >= 0) and np.all(a < 1) and np.max(np.abs(products), initial=0.0) <= 1e-12)


_BOUNDARIES: dict[str, _BoundaryAtOne] = {}


def _boundary(system: FixedPointSystem) -> _BoundaryAtOne:
    key = system.architecture.spec_hash()
    if key not in _BOUNDARIES:
        _BOUNDARIES[key] = _BoundaryAtOne(system)
    return _BOUNDARIES[key]


# ============================================================================ fixed points


@dataclass(frozen=True)
class FixedPoint:
    """One solution of the fixed-point MFT.

    ``C`` maps each presynaptic vector and each state variable to its second moment
    (``"h"`` for ``E[h²]``; ``"u_h"`` for the input of ``eta_h`` when it is not a state,
    e.g. ``E[(r h)²] = C_y`` of [G 10]).  ``variances`` maps field (and bias-noise) symbols
    to the variance of their Gaussian law.

    ``rho_0`` generalizes the spectral shaping parameter [G 19]: ``rho_0² = 1 - det(I - L(1))``
    with ``L_kl(λ) = a_k² E|T_kl(λ)|²`` the boundary operator of ``docs/explanation/theory.md`` §3 at the
    fixed point; it equals [G 19] for the GRU and the Perron root of ``L(1)`` whenever ``L`` has
    rank one (vanilla, LSTM).  ``perron_root`` is ``ρ(L(1))``: ``λ = 1`` lies in the support iff
    it is ``>= 1``.  ``stable`` is decided by Cor. 4.6 (``perron_root < 1``) when the boundary
    function is radially decreasing (``stability_rule == "cor-4.6"``); ``False`` when
    ``perron_root >= 1`` (``"unit-in-support"``); otherwise ``None`` (``"spectral-radius"``: to
    be decided from the spectral radius).
    """

    architecture: str
    parameters: dict[str, float]
    C: dict[str, float]
    variances: dict[str, float]
    rho_0: float | None
    perron_root: float | None
    stable: bool | None
    stability_rule: str
    residual: float
    dps: int | None = None
    exact: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def is_zero(self) -> bool:
        return all(v == 0 for v in self.C.values())

    def state_moment(self, name: str) -> float:
        return self.C[name]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"C_{k}": v for k, v in self.C.items() if k in self.states}
        out.update({"C": dict(self.C), "variances": dict(self.variances)})
        out.update({"rho_0": self.rho_0, "perron_root": self.perron_root, "stable": self.stable})
        out["stability_rule"] = self.stability_rule
        return out

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(k for k in self.C if not k.startswith("u_"))

    def sample(self, arch: Architecture, n: int, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` draws of the one-time local variables: state symbols and field symbols.

        Fields are drawn from their Gaussian laws; each state is its fixed-point value
        ``s*(eta)``.  Keys are the names of ``arch.local_form`` symbols (``"h"``, ``"eta_z"``, ...).
        """
        n = check_integer(n, "n", 1)
        system = fixed_point_system(arch)
        rng = np.random.default_rng(seed)
        draws = {v: rng.standard_normal(n) * math.sqrt(self.variances[v.name]) for v in system.variables}
        pvals = system._pvals(self.parameters)
        out: dict[str, np.ndarray] = {}
        assert system.state_solution is not None
        for s in system.form.state:
            expr = system.local(s)
            fn = lambdify_local((*system.variables, *system.params), expr)
            out[s.name] = np.broadcast_to(np.asarray(fn(*draws.values(), *pvals), dtype=float), (n,)).copy()
        for v in system.field_symbols:
            out[v.name] = draws[v]
        for v in system.noise:
            out[v.name] = draws[v]
        return out


def _fixed_point_record(
    system: FixedPointSystem,
    moments: Sequence[float],
    params: Mapping[str, float],
    residual: float,
    dps: int | None,
    exact: dict[str, Any] | None,
    stability: Callable[[FixedPoint], tuple[float | None, bool | None]] | None,
) -> FixedPoint:
    pvals = system._pvals(params)
    stds = system.field_stds(moments, params)
    C: dict[str, float] = {}
    for s, integrand in zip(system.form.state, system.state_integrands, strict=True):
        C[s.name] = integrand.expect(stds, pvals)
    for m, value in zip(system.moments, moments, strict=True):
        C[m.name] = float(value)
    variances = {v.name: stds[v] ** 2 for v in system.variables}
    boundary = _boundary(system)
    L = boundary.matrix(moments, params)
    if not np.all(np.isfinite(L)):
        raise nonfinite_error("L(1) at the fixed point", dict(params))
    perron = float(np.max(np.abs(np.linalg.eigvals(L)))) if L.size else 0.0
    # 1 − det(I − L) = e1 − e2 + e3 − … (elementary symmetric functions of L's eigenvalues):
    # summed from the characteristic polynomial it keeps its digits when L is tiny, where
    # 1 − det(…) would cancel to 0 (σ(b_r) a_h = 1e-17 gave ρ_0 = 0)
    shaping = -float(np.real(np.sum(np.poly(L)[1:]))) if L.size else 0.0
    rho_0 = math.sqrt(shaping) if shaping >= 0 else None
    if boundary.radially_monotone(moments, params):
        stable: bool | None = perron < 1.0
        rule = "cor-4.6"
    elif perron >= 1.0:
        stable, rule = False, "unit-in-support"
    else:
        stable, rule = None, "spectral-radius"
    record = FixedPoint(
        architecture=system.architecture.name,
        parameters=dict(params),
        C=C,
        variances=variances,
        rho_0=rho_0,
        perron_root=perron,
        stable=stable,
        stability_rule=rule,
        residual=residual,
        dps=dps,
        exact=exact,
    )
    if stability is not None:
        rho, verdict = stability(record)
        record = FixedPoint(**{**record.__dict__, "rho_0": rho, "stable": verdict, "stability_rule": "custom"})
    return record


#: highest mpmath precision (decimal digits) accepted for refining fixed points
MAX_DPS = 1000


def fixed_points(
    arch: Architecture,
    params: Mapping[str, Any],
    *,
    dps: int | None = None,
    grid: int = 160,
    lower: float = 1e-10,
    upper: float | None = None,
    stability: Callable[[FixedPoint], tuple[float | None, bool | None]] | None = None,
) -> list[FixedPoint]:
    """Every solution branch of the fixed-point MFT of ``arch`` at ``params``, smallest first.

    ``grid`` log-spaced points on ``[lower, upper]`` bracket the roots of the scalar
    self-consistency map (``upper`` defaults to the first power of ten above which the map
    stays below the identity).  Roots below ``lower`` are reported as the zero solution only
    if zero itself is a solution.  ``dps`` refines each root with ``mpmath`` at that precision
    (``FixedPoint.exact`` then holds the torn moments as ``mpf``).  ``stability`` overrides the
    generic ``(rho_0, stable)``.

    Args:
        arch: the architecture.
        params: parameter values by name.
        dps: decimal digits for an mpmath refinement (``None``: double precision only).
        grid: points of the log-spaced scan of the second moment.
        lower: smallest second moment scanned.
        upper: largest second moment scanned (default: found automatically).
        stability: a replacement for the generic stability rule.

    Returns:
        Every :class:`FixedPoint` branch (``C``, ``rho_0``, ``stable``, ``residual``), smallest first.
    """
    values = resolve_parameters(arch, params)
    grid = check_integer(grid, "grid", 8)
    if dps is not None:
        # mpmath's cost grows quickly with the precision: 100000 digits "hangs" for hours
        check_integer(dps, "dps", 15, MAX_DPS)
    if not (lower > 0 and math.isfinite(lower)):
        raise ParameterError(expected("a positive lower end of the scan", "lower", lower))
    system = fixed_point_system(arch)
    if len(system.tear) == 0:
        moments, _ = system.complete([], values)
        return [_fixed_point_record(system, moments, values, 0.0, dps, None, stability)]
    if len(system.tear) > 1:
        return _fixed_points_multi(system, values, dps, lower, upper, stability)

    def image(t: float) -> float:
        return system.complete([t], values)[1][0]

    if upper is None:
        upper = 10.0
        while image(upper) > upper and upper < 1e12:
            upper *= 10.0
    elif not (upper > lower and math.isfinite(upper)):
        raise ParameterError(expected(f"an upper end of the scan above lower={lower}", "upper", upper))
    roots: list[float] = []
    if abs(image(0.0)) <= 1e-300:
        roots.append(0.0)
    us = np.linspace(math.log(lower), math.log(upper), grid)

    def phi(u: float) -> float:
        t = math.exp(u)
        return image(t) / t - 1.0

    vals = np.array([phi(u) for u in us])
    brackets: list[tuple[float, float]] = []
    for i in range(len(us) - 1):
        if vals[i] == 0.0:
            roots.append(math.exp(us[i]))
        elif vals[i] * vals[i + 1] < 0:
            brackets.append((us[i], us[i + 1]))
    # a pair of roots inside one grid cell shows up as a local extremum that nearly touches zero
    for i in range(1, len(us) - 1):
        if vals[i - 1] * vals[i] > 0 and vals[i] * vals[i + 1] > 0:
            if abs(vals[i]) < abs(vals[i - 1]) and abs(vals[i]) < abs(vals[i + 1]):
                sign = math.copysign(1.0, vals[i])
                res = scipy.optimize.minimize_scalar(
                    lambda u, s=sign: s * phi(u),
                    bounds=(us[i - 1], us[i + 1]),
                    method="bounded",
                    options={"xatol": 1e-12},
                )
                if res.fun < 0:
                    brackets.append((us[i - 1], float(res.x)))
                    brackets.append((float(res.x), us[i + 1]))
    for a, b in brackets:
        u = scipy.optimize.brentq(phi, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
        roots.append(math.exp(u))
    roots = sorted(set(roots))
    out = []
    for t in roots:
        exact = None
        if dps is not None and t > 0:
            t, exact = _mp_refine(system, values, t, dps)
        moments, img = system.complete([t], values)
        residual = abs(img[0] - t)
        out.append(_fixed_point_record(system, moments, values, residual, dps, exact, stability))
    return out


def _mp_refine(
    system: FixedPointSystem, values: Mapping[str, float], t: float, dps: int
) -> tuple[float, dict[str, Any]]:
    with mpmath.workdps(dps):

        def f(u: Any) -> Any:
            tt = mpmath.exp(u)
            return system.mp_complete([tt], values, dps)[1][0] / tt - 1

        u0 = mpmath.log(mpmath.mpf(t))
        root = mpmath.findroot(
            f, (u0 - mpmath.mpf("1e-6"), u0 + mpmath.mpf("1e-6")), solver="anderson", tol=mpmath.mpf(10) ** (-dps + 3)
        )
        torn = mpmath.exp(root)
        moments, _ = system.mp_complete([torn], values, dps)
        exact = {system.moments[j].name: moments[j] for j in range(len(moments))}
        return float(torn), exact


def _fixed_points_multi(
    system: FixedPointSystem,
    values: Mapping[str, float],
    dps: int | None,
    lower: float,
    upper: float | None,
    stability: Callable[[FixedPoint], tuple[float | None, bool | None]] | None,
) -> list[FixedPoint]:
    d = len(system.tear)
    hi = 10.0 if upper is None else upper

    def residual(logs: np.ndarray) -> np.ndarray:
        t = np.exp(logs)
        return np.array(system.complete(list(t), values)[1]) / t - 1.0

    found: list[np.ndarray] = []
    zero_moments, zero_img = system.complete([0.0] * d, values)
    if max(abs(v) for v in zero_img) <= 1e-300:
        found.append(np.zeros(d))
    starts = np.linspace(math.log(max(lower, 1e-6)), math.log(hi), 6)
    for start in itertools.product(starts, repeat=d):
        sol = scipy.optimize.root(residual, np.array(start), method="hybr", tol=1e-13)
        if not sol.success:
            continue
        t = np.exp(sol.x)
        if np.max(np.abs(residual(sol.x))) > 1e-9 or np.any(t < lower):
            continue
        if all(np.max(np.abs(t - f) / np.maximum(t, 1e-300)) > 1e-6 for f in found):
            found.append(t)
    del zero_moments
    out = []
    for t in sorted(found, key=lambda v: float(np.sum(v))):
        moments, img = system.complete(list(t), values)
        res = float(np.max(np.abs(np.array(img) - t)))
        out.append(_fixed_point_record(system, moments, values, res, dps, None, stability))
    return out
