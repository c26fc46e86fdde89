"""Mean-field theory of any architecture: static fixed points and the steady-state DMFT.

The field list of :attr:`Architecture.local_form` drives everything (``shared/THEORY.md`` §4):
field ``eta_k = U_k u_k`` is a zero-mean Gaussian (biases stay inside the local
expressions) with covariance ``a_k² C_{u_k}(t, t')``, independent of the other fields; a
declared bias variance ``(b, v)`` adds a static ``N(0, v)`` to the bias ``b``.

Fixed points (:func:`fixed_points`)
    At a fixed point each neuron solves ``s = F(s, eta)``.  The solution ``s*(eta)`` is
    derived symbolically (state by state with SymPy; a Newton/iteration fallback handles
    equations SymPy cannot invert).  The unknowns are the second moments ``C_j = E[u_j²]``
    of the distinct presynaptic vectors.  A minimal *tear set* of these moments is chosen
    such that, given the torn moments, all others follow explicitly in sequence; for the
    GRU, the vanilla RNN, the LSTM and the MGU one moment suffices, and the self-consistency
    becomes a scalar equation ``G(t) = t``.  All of its roots are found: ``t = 0`` when it
    solves the equation, and every sign change of ``G(t)/t - 1`` on a logarithmic grid
    (plus close pairs of roots found at local extrema), refined with ``brentq`` — or with
    ``mpmath.findroot`` at ``dps`` digits.  For the GRU this is [G 10].

Steady-state DMFT (:func:`steady_state`)
    The single-site process driven by Gaussian processes whose covariances are iterated to
    self-consistency by Monte Carlo (common random numbers, so that successive iterates
    differ by the map, not by sampling noise).  :func:`gru_closed_dmft` solves the GRU's
    closed difference equations [G 50-51] as a cross-check.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
import scipy.optimize
import sympy
from sympy.printing.latex import LatexPrinter

from .architecture import Architecture, local_symbol
from .compile import lambdify_local
from .errors import ConvergenceError, DerivationError, ParameterError, expected
from .functions import boxcar, hardtanh, relu, step
from .parameters import check_integer, resolve_parameters
from .quadrature import expect_nd, mp_expect

if TYPE_CHECKING:
    from .spectrum import LocalSample

# ============================================================================ symbolic system


class _Printer(LatexPrinter):
    """LaTeX printer that parenthesizes powers of functions with a custom ``_latex``."""

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base = expr.base
        if isinstance(base, sympy.Function) and hasattr(base, "_latex"):
            return rf"\left({self._print(base)}\right)^{{{self._print(expr.exp)}}}"
        return super()._print_Pow(expr)


def latex(expr: sympy.Basic) -> str:
    """LaTeX of ``expr`` (works around ``_latex`` methods that take no ``exp`` argument)."""
    return _Printer().doprint(expr)


_KINKS: dict[type, tuple[int, ...]] = {hardtanh: (-1, 1), boxcar: (-1, 1), relu: (0,), step: (0,)}


def _kink_atoms(expr: sympy.Expr) -> list[tuple[sympy.Expr, tuple[int, ...]]]:
    """``(argument, kink values)`` of every non-smooth nonlinearity in ``expr``."""
    out: list[tuple[sympy.Expr, tuple[int, ...]]] = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Function):
            for cls, kinks in _KINKS.items():
                if isinstance(node, cls):
                    out.append((node.args[0], kinks))
            if isinstance(node, sympy.Abs | sympy.Heaviside | sympy.sign):
                out.append((node.args[0], (0,)))
    return out


@dataclass(frozen=True)
class _Factor:
    """One factor of an integrand that depends on a group of Gaussian variables."""

    variables: tuple[sympy.Symbol, ...]
    expr: sympy.Expr
    numeric: Callable[..., Any]
    kinks: tuple[tuple[int, Callable[..., Any], Callable[..., Any], tuple[int, ...]], ...]


class _Integrand:
    """``E[expr]`` over independent Gaussian variables, factorized by variable groups."""

    def __init__(self, expr: sympy.Expr, variables: Sequence[sympy.Symbol], params: Sequence[sympy.Symbol]):
        self.expr = expr
        self.params = tuple(params)
        self.variables = tuple(v for v in variables if v in expr.free_symbols)
        groups: list[tuple[set[sympy.Symbol], list[sympy.Expr]]] = []
        constant: list[sympy.Expr] = []
        for factor in sympy.Mul.make_args(sympy.powsimp(expr)):
            syms = factor.free_symbols & set(self.variables)
            if not syms:
                constant.append(factor)
                continue
            merged = [g for g in groups if g[0] & syms]
            for g in merged:
                groups.remove(g)
                syms |= g[0]
            groups.append((syms, [f for g in merged for f in g[1]] + [factor]))
        self.constant = lambdify_local(self.params, sympy.Mul(*constant))
        self.factors: list[_Factor] = []
        for syms, parts in groups:
            group_vars = tuple(v for v in self.variables if v in syms)
            group_expr = sympy.Mul(*parts)
            kinks = []
            for arg, values in _kink_atoms(group_expr):
                arg_vars = [v for v in group_vars if v in arg.free_symbols]
                if len(arg_vars) != 1:
                    continue
                poly = sympy.Poly(arg, arg_vars[0]) if arg.is_polynomial(arg_vars[0]) else None
                if poly is None or poly.degree() != 1:
                    continue
                slope, offset = poly.all_coeffs()
                kinks.append(
                    (
                        group_vars.index(arg_vars[0]),
                        lambdify_local(self.params, slope),
                        lambdify_local(self.params, offset),
                        values,
                    )
                )
            self.factors.append(
                _Factor(group_vars, group_expr, lambdify_local((*group_vars, *self.params), group_expr), tuple(kinks))
            )
        self._mp_cache: dict[int, tuple[Callable[..., Any], Callable[..., Any]]] = {}

    def _breakpoints(self, factor: _Factor, pvals: Sequence[float]) -> list[list[float]]:
        bps: list[list[float]] = [[] for _ in factor.variables]
        for axis, slope, offset, values in factor.kinks:
            a = float(slope(*pvals))
            b = float(offset(*pvals))
            if a != 0:
                bps[axis].extend((k - b) / a for k in values)
        return bps

    def expect(self, stds: Mapping[sympy.Symbol, float], pvals: Sequence[float]) -> float:
        value = float(self.constant(*pvals))
        for factor in self.factors:
            if value == 0.0:
                return 0.0
            sd = [stds[v] for v in factor.variables]
            bps = self._breakpoints(factor, pvals)

            def fn(*xs: Any, _f: _Factor = factor) -> Any:
                return _f.numeric(*xs, *pvals)

            value *= expect_nd(fn, sd, breakpoints=bps)
        return value

    def mp_expect(self, stds: Mapping[sympy.Symbol, Any], pvals: Sequence[Any], dps: int) -> Any:
        with mpmath.workdps(dps):
            value = mpmath.mpf(self.constant_mp()(*pvals))
            for index, factor in enumerate(self.factors):
                fn = self._mp_function(index)
                sd = [stds[v] for v in factor.variables]
                bps = self._breakpoints(factor, [float(p) for p in pvals])
                value *= _nested_mp_expect(lambda *xs, _fn=fn: _fn(*xs, *pvals), sd, bps, dps)
            return value

    def constant_mp(self) -> Callable[..., Any]:
        if -1 not in self._mp_cache:
            const = sympy.Mul(
                *[f for f in sympy.Mul.make_args(sympy.powsimp(self.expr)) if not f.free_symbols & set(self.variables)]
            )
            self._mp_cache[-1] = (lambdify_local(self.params, const, "mpmath"), lambda: None)
        return self._mp_cache[-1][0]

    def _mp_function(self, index: int) -> Callable[..., Any]:
        if index not in self._mp_cache:
            factor = self.factors[index]
            self._mp_cache[index] = (
                lambdify_local((*factor.variables, *self.params), factor.expr, "mpmath"),
                lambda: None,
            )
        return self._mp_cache[index][0]


def _nested_mp_expect(fn: Callable[..., Any], stds: Sequence[Any], bps: Sequence[Sequence[float]], dps: int) -> Any:
    if len(stds) == 1:
        return mp_expect(fn, stds[0], dps=dps, breakpoints=bps[0])
    return mp_expect(
        lambda x: _nested_mp_expect(lambda *rest: fn(x, *rest), stds[1:], bps[1:], dps),
        stds[0],
        dps=dps,
        breakpoints=bps[0],
    )


def _solve_fixed_state(arch: Architecture) -> dict[sympy.Symbol, sympy.Expr] | None:
    """``s*(eta)`` solving ``s = F(s, eta)`` state by state, or None if SymPy cannot invert it."""
    form = arch.local_form
    pending = dict(zip(form.state, form.new_state, strict=True))
    solved: dict[sympy.Symbol, sympy.Expr] = {}
    for _ in range(len(pending) + 1):
        progress = False
        for s, rhs in list(pending.items()):
            rhs = rhs.xreplace(solved)
            others = (rhs.free_symbols & set(form.state)) - {s}
            if others:
                continue
            if s not in rhs.free_symbols:
                solutions = [rhs]
            else:
                try:
                    solutions = sympy.solve(sympy.Eq(s, rhs), s)
                except (NotImplementedError, ValueError):
                    return None
            if len(solutions) != 1:
                return None
            solved[s] = solutions[0]
            solved = {k: v.xreplace({s: solutions[0]}) for k, v in solved.items()}
            del pending[s]
            progress = True
        if not pending:
            return solved
        if not progress:
            return None
    return None


@dataclass(frozen=True)
class _Moment:
    """A distinct presynaptic vector ``u_j`` and the fields that multiply it."""

    name: str
    input: sympy.Expr  # in state symbols (before substituting the fixed point)
    fields: tuple[int, ...]


class FixedPointSystem:
    """The fixed-point MFT of an architecture: symbolic equations and their numeric map.

    ``moments[j]`` is a presynaptic vector ``u_j``; the equations are
    ``C_j = E[u_j(s*(eta), eta)²]`` with ``eta_k ~ N(0, a_k² C_{j(k)})`` independent.
    """

    def __init__(self, arch: Architecture):
        self.architecture = arch
        form = arch.local_form
        self.form = form
        self.params = arch.parameters
        names = {p.name: p for p in self.params}
        # bias noise: b -> b + eps_b, eps_b ~ N(0, v)
        self.noise: dict[sympy.Symbol, sympy.Expr] = {}
        self.noise_subs: dict[sympy.Symbol, sympy.Expr] = {}
        for bias, variance in arch.bias_variances:
            eps = local_symbol(f"epsilon_{bias}")
            self.noise[eps] = variance.xreplace({s: names.get(s.name, s) for s in variance.free_symbols})
            self.noise_subs[names[bias]] = names[bias] + eps
        self.field_symbols = form.field_symbols
        self.variables = (*self.field_symbols, *self.noise)
        solution = _solve_fixed_state(arch)
        self.state_solution = solution
        moments: list[_Moment] = []
        for k, fld in enumerate(form.fields):
            for j, m in enumerate(moments):
                if sympy.simplify(m.input - fld.input) == 0:
                    moments[j] = _Moment(m.name, m.input, (*m.fields, k))
                    break
            else:
                if fld.input in form.state:
                    name = str(fld.input)
                else:
                    name = "u_" + fld.symbol.name.removeprefix("eta_")
                moments.append(_Moment(name, fld.input, (k,)))
        self.moments = tuple(moments)
        self.field_moment = {k: j for j, m in enumerate(moments) for k in m.fields}
        if solution is None:
            raise DerivationError(
                expected(
                    "a fixed-point equation s = F(s, eta) that SymPy can solve for the state",
                    "architecture",
                    arch.name,
                )
            )
        self.integrands = tuple(self._integrand(m.input**2) for m in self.moments)
        self.state_integrands = tuple(self._integrand(s**2) for s in form.state)
        # dependency graph between moments and a minimal tear set
        deps = []
        for integrand in self.integrands:
            used = {
                self.field_moment[self.field_symbols.index(v)] for v in integrand.variables if v in self.field_symbols
            }
            deps.append(used)
        self.dependencies = tuple(frozenset(d) for d in deps)
        self.tear, self.order = _tear(self.dependencies)

    def local(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` (state, fields, parameters) at the fixed point, with bias noise."""
        assert self.state_solution is not None
        return expr.xreplace(self.state_solution).xreplace(self.noise_subs)

    def _integrand(self, expr: sympy.Expr) -> _Integrand:
        return _Integrand(self.local(expr), self.variables, self.params)

    # ------------------------------------------------------------------ printing
    def equations(self) -> list[sympy.Eq]:
        """``C_j = E[u_j²]`` with the field variances written out (for printing)."""
        out = []
        for m, integrand in zip(self.moments, self.integrands, strict=True):
            out.append(sympy.Eq(sympy.Symbol(f"C_{{{m.name}}}"), sympy.Function("E")(integrand.expr)))
        return out

    def variance_expressions(self) -> dict[sympy.Symbol, sympy.Expr]:
        """Field variance ``a_k² C_{j(k)}`` per field symbol, and ``v`` per bias-noise symbol."""
        out: dict[sympy.Symbol, sympy.Expr] = {}
        for k, fld in enumerate(self.form.fields):
            out[fld.symbol] = fld.variance**2 * sympy.Symbol(f"C_{{{self.moments[self.field_moment[k]].name}}}")
        out.update(self.noise)
        return out

    def latex(self) -> str:
        lines = [latex(e) for e in self.equations()]
        lines += [
            rf"{latex(s)} \sim \mathcal{{N}}\left(0, {latex(v)}\right)" for s, v in self.variance_expressions().items()
        ]
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    # ------------------------------------------------------------------ numerics
    def _pvals(self, params: Mapping[str, float]) -> list[float]:
        return [params[p.name] for p in self.params]

    def _noise_stds(self, params: Mapping[str, float]) -> dict[sympy.Symbol, float]:
        out = {}
        for eps, v in self.noise.items():
            value = float(v.xreplace({p: params[p.name] for p in self.params}))
            if value < 0:
                raise ParameterError(expected("a non-negative bias variance", str(v), value))
            out[eps] = math.sqrt(value)
        return out

    def scales(self, params: Mapping[str, float]) -> list[float]:
        out = []
        for fld in self.form.fields:
            value = float(sympy.sympify(fld.variance).xreplace({p: params[p.name] for p in self.params}))
            out.append(value)
        return out

    def field_stds(self, moments: Sequence[float], params: Mapping[str, float]) -> dict[sympy.Symbol, float]:
        stds = self._noise_stds(params)
        for k, a in enumerate(self.scales(params)):
            stds[self.field_symbols[k]] = a * math.sqrt(max(moments[self.field_moment[k]], 0.0))
        return stds

    def complete(self, torn: Sequence[float], params: Mapping[str, float]) -> tuple[list[float], list[float]]:
        """Given the torn moments, compute every moment in order; return ``(moments, G(torn))``."""
        pvals = self._pvals(params)
        moments = [math.nan] * len(self.moments)
        for j, t in zip(self.tear, torn, strict=True):
            moments[j] = float(t)
        for j in self.order:
            moments[j] = self.integrands[j].expect(self.field_stds(moments, params), pvals)
        stds = self.field_stds(moments, params)
        image = [self.integrands[j].expect(stds, pvals) for j in self.tear]
        return moments, image

    def mp_complete(self, torn: Sequence[Any], params: Mapping[str, float], dps: int) -> tuple[list[Any], list[Any]]:
        with mpmath.workdps(dps):
            pvals = [mpmath.mpf(params[p.name]) for p in self.params]
            moments: list[Any] = [None] * len(self.moments)
            for j, t in zip(self.tear, torn, strict=True):
                moments[j] = mpmath.mpf(t)

            def stds() -> dict[sympy.Symbol, Any]:
                out = {eps: mpmath.sqrt(mpmath.mpf(s) ** 2) for eps, s in self._noise_stds(params).items()}
                for k, a in enumerate(self.scales(params)):
                    if moments[self.field_moment[k]] is None:
                        continue
                    out[self.field_symbols[k]] = mpmath.mpf(a) * mpmath.sqrt(max(moments[self.field_moment[k]], 0))
                return out

            for j in self.order:
                moments[j] = self.integrands[j].mp_expect(stds(), pvals, dps)
            s = stds()
            image = [self.integrands[j].mp_expect(s, pvals, dps) for j in self.tear]
            return moments, image


def _tear(deps: Sequence[frozenset[int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Smallest set of moments that, once given, lets all others be computed in sequence."""
    n = len(deps)
    for size in range(n + 1):
        for tear in itertools.combinations(range(n), size):
            known = set(tear)
            order: list[int] = []
            remaining = [j for j in range(n) if j not in known]
            while remaining:
                for j in remaining:
                    if deps[j] <= known:
                        order.append(j)
                        known.add(j)
                        remaining.remove(j)
                        break
                else:
                    break
            if not remaining:
                return tear, tuple(order)
    raise DerivationError("no tear set found")  # pragma: no cover - size n always works


_SYSTEMS: dict[str, FixedPointSystem] = {}


def fixed_point_system(arch: Architecture) -> FixedPointSystem:
    """The (cached) :class:`FixedPointSystem` of ``arch``."""
    key = arch.spec_hash()
    if key not in _SYSTEMS:
        _SYSTEMS[key] = FixedPointSystem(arch)
    return _SYSTEMS[key]


# ============================================================================ boundary at λ = 1


class _BoundaryAtOne:
    """``L_kl(1) = a_k² E[T_kl(1)²]`` with ``T(λ) = C (I_λ - A)^{-1} B`` at the fixed point.

    Also the split ``T(λ) = P + Q / (λ - a)`` for single-state architectures, used to decide
    whether the boundary function is radially decreasing (then Cor. 4.6 of [G] applies:
    stable iff the Perron root of ``L(1)`` is below one).
    """

    def __init__(self, system: FixedPointSystem):
        from .linearization import LAMBDA, linearize

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
    with ``L_kl(λ) = a_k² E|T_kl(λ)|²`` the boundary operator of ``shared/THEORY.md`` §3 at the
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
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ParameterError(expected("a positive integer sample size", "n", n))
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
    perron = float(np.max(np.abs(np.linalg.eigvals(L)))) if L.size else 0.0
    shaping = 1.0 - float(np.linalg.det(np.eye(L.shape[0]) - L)) if L.size else 0.0
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
    """
    values = resolve_parameters(arch, params)
    grid = check_integer(grid, "grid", 8)
    if dps is not None:
        check_integer(dps, "dps", 15)
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


# ============================================================================ steady-state DMFT


def _stationary_sampler(n_steps: int) -> int:
    """FFT length of the circulant embedding for ``n_steps`` samples."""
    return 1 << max(4, math.ceil(math.log2(2 * n_steps)))


def _taper(n: int) -> np.ndarray:
    """Cosine taper on the last quarter of ``n`` lags (keeps the embedded covariance smooth)."""
    w = np.ones(n)
    q = max(1, n // 4)
    w[n - q :] = 0.5 * (1 + np.cos(np.pi * (np.arange(q) + 1) / q))
    return w


def _split_static(cov: np.ndarray) -> tuple[float, np.ndarray]:
    """``cov(τ) = c_∞ + c̃(τ)``: ``c_∞`` is the mean over the last quarter of lags, clipped to ``[0, cov(0)]``."""
    q = max(1, len(cov) // 4)
    static = float(np.clip(np.mean(cov[-q:]), 0.0, max(cov[0], 0.0)))
    return static, (cov - static) * _taper(len(cov))


def _gaussian_paths(cov: np.ndarray, normals: np.ndarray, static_normals: np.ndarray, n_steps: int) -> np.ndarray:
    """Paths ``(M, n_steps)`` of a stationary Gaussian process with autocovariance ``cov(τ)``.

    Circulant embedding of the fluctuating part (negative eigenvalues clipped) plus a static
    Gaussian of variance ``c_∞`` per path.  ``normals`` is complex ``(ceil(M/2), P)``; the real
    and imaginary parts of one FFT are two independent paths.  The draws are fixed across
    iterations (common random numbers).
    """
    M = static_normals.shape[0]
    if not np.any(cov):
        return np.zeros((M, n_steps))
    static, fluct = _split_static(cov)
    size = normals.shape[1]
    row = np.zeros(size)
    lags = min(len(fluct), size // 2)
    row[:lags] = fluct[:lags]
    row[size - lags + 1 :] = fluct[1:lags][::-1]
    eig = np.clip(np.fft.fft(row).real, 0.0, None)
    both = np.fft.fft(np.sqrt(eig / size)[None, :] * normals, axis=1)[:, :n_steps]
    paths = np.concatenate([both.real, both.imag], axis=0)[:M]
    return paths + math.sqrt(static) * static_normals[:, None]


def _autocovariance(x: np.ndarray, lags: int) -> np.ndarray:
    """``mean_{m,t} x[m,t] x[m,t+τ]`` for ``τ < lags`` (unbiased in the number of pairs)."""
    n = x.shape[1]
    size = 1 << math.ceil(math.log2(2 * n))
    f = np.fft.rfft(x, n=size, axis=1)
    acf = np.fft.irfft(np.abs(f) ** 2, n=size, axis=1)[:, :lags].mean(axis=0)
    return acf / (n - np.arange(lags))


@dataclass
class SteadyState:
    """Self-consistent steady state of the single-site DMFT.

    ``C_inputs[name][τ]`` is ``E[u_t u_{t+τ}]`` of each distinct presynaptic vector (names as
    in :class:`FixedPoint`), ``C_states[s][τ]`` the state autocorrelation, and
    ``field_covariances[eta_k][τ] = a_k² C_{u_k}(τ)`` (plus bias-noise variances).  ``C0``
    maps each state to its equal-time moment; :attr:`C_h0` is that of the first state.
    """

    architecture: Architecture
    parameters: dict[str, float]
    lags: np.ndarray
    C_inputs: dict[str, np.ndarray]
    C_states: dict[str, np.ndarray]
    field_covariances: dict[str, np.ndarray]
    iterations: int
    residual: float
    trajectories: int
    steps: int
    burn_in: int
    history: list[float] = field(default_factory=list)

    @property
    def C0(self) -> dict[str, float]:
        return {s: float(c[0]) for s, c in self.C_states.items()}

    @property
    def C_h0(self) -> float:
        return float(next(iter(self.C_states.values()))[0])

    def summary(self) -> dict[str, Any]:
        return {
            "C_h0": self.C_h0,
            "C0": self.C0,
            "iterations": self.iterations,
            "residual": self.residual,
            "lags": self.lags.tolist(),
            "C_states": {k: v.tolist() for k, v in self.C_states.items()},
            "C_inputs": {k: v.tolist() for k, v in self.C_inputs.items()},
        }

    def sample(self, n: int, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint draws of the one-time local variables from the steady state.

        Keys: state names (the *previous* state ``s_{t-1}``), field names ``eta_k`` (the
        fields at step ``t``) and bias-noise names: the symbols of ``arch.local_form``.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ParameterError(expected("a positive integer sample size", "n", n))
        runner = _DMFTRunner(self.architecture, self.parameters, self.steps, self.burn_in, self.trajectories, seed)
        covs = {name: self.C_inputs[name] for name in runner.input_names}
        record = runner.run(covs, keep_locals=True)
        rng = np.random.default_rng(seed if isinstance(seed, int) else None)
        locals_ = record["locals"]
        total = next(iter(locals_.values())).size
        pick = rng.choice(total, size=n, replace=n > total)
        return {k: v.ravel()[pick] for k, v in locals_.items()}

    def local_sample(self, n: int, seed: int | np.random.Generator) -> LocalSample:
        """:meth:`sample` as the :class:`~rmtgate.spectrum.LocalSample` the boundary averages over."""
        from .spectrum import LocalSample

        return LocalSample.from_arrays(self.sample(n, seed), source="steady")


class _DMFTRunner:
    """Monte Carlo of the single-site process for given input autocovariances."""

    def __init__(
        self,
        arch: Architecture,
        params: Mapping[str, float],
        steps: int,
        burn_in: int,
        trajectories: int,
        seed: int | np.random.Generator,
    ):
        system = fixed_point_system_dynamic(arch)
        self.arch = arch
        self.system = system
        self.params = dict(params)
        self.steps, self.burn_in, self.M = steps, burn_in, trajectories
        self.n_t = steps + burn_in
        rng = np.random.default_rng(seed)
        form = arch.local_form
        self.input_names = [m.name for m in system.moments]
        P = _stationary_sampler(self.n_t)
        self.normals = {
            f.symbol.name: rng.standard_normal(((trajectories + 1) // 2, P))
            + 1j * rng.standard_normal(((trajectories + 1) // 2, P))
            for f in form.fields
        }
        self.static_normals = {f.symbol.name: rng.standard_normal(trajectories) for f in form.fields}
        noise_std = system._noise_stds(self.params)
        self.noise = {eps.name: rng.standard_normal(trajectories) * noise_std[eps] for eps in system.noise}
        self.initial = [rng.standard_normal(trajectories) * 0.5 for _ in form.state]
        self.scales = system.scales(self.params)
        self.pvals = system._pvals(self.params)

    def run(self, covs: Mapping[str, np.ndarray], keep_locals: bool = False) -> dict[str, Any]:
        system, form = self.system, self.arch.local_form
        fields = {}
        for k, fld in enumerate(form.fields):
            cov = self.scales[k] ** 2 * np.asarray(covs[system.moments[system.field_moment[k]].name])
            fields[fld.symbol.name] = _gaussian_paths(
                cov, self.normals[fld.symbol.name], self.static_normals[fld.symbol.name], self.n_t
            )
        state = [s.copy() for s in self.initial]
        noise = list(self.noise.values())
        n_in = len(system.moments)
        inputs = np.empty((n_in, self.M, self.steps))
        states = np.empty((len(state), self.M, self.steps))
        keep: dict[str, list[np.ndarray]] = {}
        for t in range(self.n_t):
            eta = [fields[f.symbol.name][:, t] for f in form.fields]
            args = (*state, *eta, *noise, *self.pvals)
            if t >= self.burn_in:
                i = t - self.burn_in
                for j in range(n_in):
                    inputs[j, :, i] = system.dyn_inputs[j](*args)
                if keep_locals:
                    for s_sym, value in zip(form.state, state, strict=True):
                        keep.setdefault(s_sym.name, []).append(value)
                    for f, value in zip(form.fields, eta, strict=True):
                        keep.setdefault(f.symbol.name, []).append(value)
                    for name, value in self.noise.items():
                        keep.setdefault(name, []).append(value)
            new = system.dyn_step(*args)
            state = [np.broadcast_to(np.asarray(v, dtype=float), (self.M,)).copy() for v in new]
            if t >= self.burn_in:
                states[:, :, t - self.burn_in] = np.array(state)
        out: dict[str, Any] = {"inputs": inputs, "states": states}
        if keep_locals:
            out["locals"] = {k: np.array(v) for k, v in keep.items()}
        return out


def fixed_point_system_dynamic(arch: Architecture) -> FixedPointSystem:
    """The :class:`FixedPointSystem` of ``arch`` with compiled single-site step functions."""
    system = fixed_point_system(arch)
    if not hasattr(system, "dyn_step"):
        form = arch.local_form
        args = (*form.state, *form.field_symbols, *system.noise, *system.params)
        subs = system.noise_subs
        system.dyn_step = lambdify_local(args, tuple(e.xreplace(subs) for e in form.new_state))  # type: ignore[attr-defined]
        system.dyn_inputs = tuple(  # type: ignore[attr-defined]
            _broadcasting(lambdify_local(args, m.input.xreplace(subs)), len(form.state)) for m in system.moments
        )
    return system


def _broadcasting(fn: Callable[..., Any], n_state: int) -> Callable[..., Any]:
    def call(*args: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(fn(*args), dtype=float), np.shape(args[0]))

    return call


def steady_state(
    arch: Architecture,
    params: Mapping[str, Any],
    *,
    trajectories: int = 1000,
    steps: int = 400,
    burn_in: int = 200,
    lags: int = 64,
    damping: float = 0.8,
    tol: float = 1e-3,
    max_iter: int = 100,
    seed: int | np.random.Generator = 0,
    initial: Mapping[str, np.ndarray] | None = None,
) -> SteadyState:
    """Solve the steady-state DMFT of ``arch`` by damped Monte Carlo iteration.

    ``trajectories`` single-site paths of ``burn_in + steps`` steps are driven by Gaussian
    fields with covariance ``a_k² C_{u_k}(τ)`` (``τ < lags``; beyond, the static part
    ``C_∞``).  The input autocovariances are re-measured (averaged over paths and over the
    ``steps`` stationary times) and mixed, ``C ← (1 - damping) C + damping C_measured``,
    until ``max |C_measured - C| < tol``; otherwise :class:`ConvergenceError`.  The same
    Gaussian draws are reused in every iteration, so the iteration converges to a fixed
    point of the sampled map (Monte Carlo error ``~ sqrt(τ_c / (trajectories · steps))``).
    """
    values = resolve_parameters(arch, params)
    trajectories = check_integer(trajectories, "trajectories", 2)
    steps = check_integer(steps, "steps", 8)
    burn_in = check_integer(burn_in, "burn_in", 0)
    lags = check_integer(lags, "lags", 4)
    max_iter = check_integer(max_iter, "max_iter", 1)
    if lags > steps // 2:
        raise ParameterError(expected(f"at most steps/2 = {steps // 2} lags", "lags", lags))
    if not 0 < damping <= 1:
        raise ParameterError(expected("a damping factor in (0, 1]", "damping", damping))
    if not (tol > 0 and math.isfinite(tol)):
        raise ParameterError(expected("a positive tolerance", "tol", tol))
    runner = _DMFTRunner(arch, values, steps, burn_in, trajectories, seed)
    system = runner.system
    if initial is not None:
        covs = {name: np.asarray(initial[name], dtype=float)[:lags].copy() for name in runner.input_names}
    else:
        try:
            branches = fixed_points(arch, values, grid=48)
            start = branches[-1].C
        except (ConvergenceError, DerivationError):
            start = {}
        decay = np.exp(-np.arange(lags) / 8.0)
        covs = {name: max(start.get(name, 0.5), 0.05) * decay for name in runner.input_names}
    history: list[float] = []
    residual = math.inf
    for iteration in range(1, max_iter + 1):
        record = runner.run(covs)
        measured = {name: _autocovariance(record["inputs"][j], lags) for j, name in enumerate(runner.input_names)}
        residual = max(float(np.max(np.abs(measured[n] - covs[n]))) for n in covs)
        history.append(residual)
        if residual < tol:
            covs = measured
            states = {s.name: _autocovariance(record["states"][i], lags) for i, s in enumerate(arch.local_form.state)}
            field_cov = {}
            for k, fld in enumerate(arch.local_form.fields):
                field_cov[fld.symbol.name] = runner.scales[k] ** 2 * covs[system.moments[system.field_moment[k]].name]
            return SteadyState(
                architecture=arch,
                parameters=values,
                lags=np.arange(lags),
                C_inputs=covs,
                C_states=states,
                field_covariances=field_cov,
                iterations=iteration,
                residual=residual,
                trajectories=trajectories,
                steps=steps,
                burn_in=burn_in,
                history=history,
            )
        covs = {n: (1 - damping) * covs[n] + damping * measured[n] for n in covs}
    raise ConvergenceError(
        f"steady-state DMFT of {arch.name} did not reach max|ΔC| < {tol}", residual=residual, iterations=max_iter
    )


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
    from .quadrature import bivariate_normal_rule

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
    from .builtins import gru

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


# ============================================================================ CLI


def _cmd_mft(args: argparse.Namespace) -> int:
    from .cli import parse_parameters, resolve_architecture

    arch = resolve_architecture(args.architecture)
    params = parse_parameters(args.param)
    if args.steady_state:
        result = steady_state(arch, params, trajectories=args.trajectories, steps=args.steps, seed=args.seed)
        payload: dict[str, Any] = {"architecture": arch.name, "parameters": result.parameters}
        payload.update(result.summary())
        if args.json:
            print(json.dumps(payload))
        else:
            print(f"{arch.name}: steady-state C0 = {result.C0} after {result.iterations} iterations")
        return 0
    solutions = fixed_points(arch, params, dps=args.dps)
    rows = []
    for fp in solutions:
        row = fp.summary()
        if args.dps is not None and fp.exact is not None:
            row["exact"] = {k: mpmath.nstr(v, args.dps) for k, v in fp.exact.items()}
        rows.append(row)
    if args.json:
        first = arch.local_form.state[0].name
        for row in rows:
            row.setdefault("C_h", row[f"C_{first}"])
        print(json.dumps({"architecture": arch.name, "parameters": solutions[0].parameters, "solutions": rows}))
    else:
        print(fixed_point_system(arch).latex())
        for row in rows:
            moments = ", ".join(f"C_{k}={v:.10g}" for k, v in row["C"].items())
            print(f"  {moments}  rho_0={row['rho_0']}  stable={row['stable']} ({row['stability_rule']})")
    return 0


def add_mft_commands(subparsers: Any) -> None:
    """Register ``mft ARCH -p name=value ... [--fixed-point | --steady-state] [--json]``."""
    p = subparsers.add_parser("mft", help="mean-field theory: fixed points (default) or steady-state DMFT")
    p.add_argument("architecture", help="built-in name (vanilla, gru, lstm, ctrnn, mgu) or spec.toml")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fixed-point", action="store_true", help="all fixed-point solutions (default)")
    mode.add_argument("--steady-state", action="store_true", help="steady-state DMFT by Monte Carlo")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--dps", type=int, default=None, help="refine fixed points with mpmath at this many digits")
    p.add_argument("--trajectories", type=int, default=1000, help="DMFT Monte Carlo paths")
    p.add_argument("--steps", type=int, default=400, help="DMFT stationary steps per path")
    p.add_argument("--seed", type=int, default=0, help="DMFT random seed")
    p.set_defaults(handler=_cmd_mft)
