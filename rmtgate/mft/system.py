"""The fixed-point system of any architecture, derived from its local form.

The field list of :attr:`Architecture.local_form` drives everything (``docs/explanation/theory.md`` §4):
field ``eta_k = U_k u_k`` is a zero-mean Gaussian (biases stay inside the local
expressions) with covariance ``a_k² C_{u_k}(t, t')``, independent of the other fields; a
declared bias variance ``(b, v)`` adds a static ``N(0, v)`` to the bias ``b``.

:class:`FixedPointSystem` holds the symbolic self-consistency equations for the second
moments of the presynaptic vectors, their LaTeX, and the minimal tear set that reduces them
to a scalar equation for the built-ins.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from rmtgate.errors import DerivationError, ParameterError, expected
from rmtgate.mft.integrands import _Integrand, latex
from rmtgate.symbolic.architecture import Architecture, local_symbol


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
