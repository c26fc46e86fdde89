"""Gaussian expectations of the mean-field integrands, in double precision and in mpmath.

:class:`_Integrand` compiles an expression of the local variables once and averages it over
independent zero-mean Gaussians by composite Gauss–Legendre quadrature split at the kinks of
the integrand (hard-tanh, relu, step, boxcar), or nested mpmath quadrature at ``dps`` digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter

from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.quadrature import expect_nd, mp_expect
from rmtgate.symbolic.functions import boxcar, hardtanh, relu, step

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
                # a saturated gate (σ = 1 in double) makes 1/(1 − f) infinite at the outer
                # nodes; the result is checked by its user (a non-finite L(1) is a typed
                # error), so numpy's warnings would only reach the user's terminal as noise
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
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
