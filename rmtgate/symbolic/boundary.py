"""Stage 3: the spectral boundary ``ρ(L(λ)) = 1`` (``docs/explanation/theory.md``, "general boundary").

From a :class:`~rmtgate.linearization.Linearization`:

* ``T(λ) = C (I_λ − A)^{-1} B`` — a per-neuron ``K × K`` matrix on the field blocks;
* ``L_kl(λ) = a_k² E[|T_kl(λ)|²]`` — ``E`` an explicit :class:`Expectation` node over the
  local variables; ``|T|²`` is written ``T(λ) T(λ̄)`` with a separate symbol ``λ̄`` (every
  local variable is real), so no ``conjugate`` reaches the printers;
* the support ``Σ = {λ : ρ(L(λ)) ≥ 1}`` and its edge ``ρ(L(λ)) = 1``.

Structural simplification: when the rows of ``T`` are proportional (the LSTM: every field
reads the same presynaptic ``h``), ``L`` has rank one and ``ρ(L)`` is a single expectation
(:attr:`Boundary.form` ``"rank-one"``); otherwise small ``L`` gives ``det(I − L) = 0`` in
closed form (``"determinant"``) and larger ones keep the Perron-root form (``"perron"``).

The mean-field (MFT-factorized) form uses independences of local variables: a field that
never enters the local update (only other fields' inputs, like the GRU's reset-gate field)
is independent of every other local variable in the mean-field theory, so expectations of
products split.  Users can declare further independent groups.

Why this module is long: ``T(λ)``, ``L(λ)``, the three structural edge forms (rank one, determinant, Perron), the mean-field factorization and the bounding curves [G 88-90] share the expectation node and its printer; they are one stage of the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.linearization import LAMBDA, Linearization

LAMBDA_BAR = sympy.Symbol("lambda_bar")

#: up to this many fields the determinant form is written out
MAX_DETERMINANT_FIELDS = 4


class Expectation(sympy.Function):
    """``E[x]``: average over neurons (a network sample) or over the mean-field law."""

    nargs = 1

    def _latex(self, printer: Any) -> str:
        return rf"\mathbb{{E}}\left[{printer._print(self.args[0])}\right]"

    def _sympystr(self, printer: Any) -> str:
        return f"E[{printer._print(self.args[0])}]"


def conjugate_lambda(expr: sympy.Expr) -> sympy.Expr:
    """Complex conjugate of an expression whose only complex symbol is ``λ``."""
    return expr.xreplace({LAMBDA: LAMBDA_BAR})


def local_symbols(arch: Architecture) -> frozenset[sympy.Symbol]:
    return frozenset((*arch.state_symbols, *arch.local_form.field_symbols))


@dataclass(frozen=True)
class Independence:
    """Which local variables the mean-field theory makes independent.

    Fields are independent Gaussian processes; the state depends on the past of the fields
    that enter the local update (``coupled``).  So, at one time:

    * a field that does not enter the update (``free``; the GRU's reset field) is
      independent of every other local variable;
    * in a product without state variables, the factors of different fields are independent
      (``φ'(y)² (1−z)²`` splits into ``E[φ'(y)²] E[(1−z)²]``);
    * a product with a state variable couples it to every field in ``coupled``;
    * ``extra`` groups declared by the user are split off whenever a factor uses only them.
    """

    state: frozenset[sympy.Symbol]
    free: frozenset[sympy.Symbol]
    coupled: frozenset[sympy.Symbol]
    extra: tuple[frozenset[sympy.Symbol], ...] = ()

    def split(self, factors: list[tuple[sympy.Expr, frozenset[sympy.Symbol]]]) -> list[sympy.Expr]:
        """Group the (factor, local symbols) pairs of one monomial into independent products."""
        has_state = any(symbols & self.state for _, symbols in factors)
        # union-find over symbols: factors sharing a symbol are dependent
        parent: dict[sympy.Symbol, sympy.Symbol] = {}

        def find(x: sympy.Symbol) -> sympy.Symbol:
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        def union(a: sympy.Symbol, b: sympy.Symbol) -> None:
            parent[find(a)] = find(b)

        for _, symbols in factors:
            ordered = sorted(symbols, key=str)
            for other in ordered[1:]:
                union(ordered[0], other)
        if has_state:
            declared = frozenset().union(*self.extra)
            dependent = sorted(
                {
                    s
                    for _, symbols in factors
                    for s in symbols
                    if (s in self.state or s in self.coupled) and s not in declared
                },
                key=str,
            )
            for other in dependent[1:]:
                union(dependent[0], other)
        for group in self.extra:
            members = sorted(group, key=str)
            for other in members[1:]:
                union(members[0], other)
        products: dict[sympy.Symbol, sympy.Expr] = {}
        for factor, symbols in factors:
            root = find(next(iter(symbols)))
            products[root] = products.get(root, sympy.Integer(1)) * factor
        return [products[k] for k in sorted(products, key=str)]


def expectation(
    expr: sympy.Expr, local: Iterable[sympy.Symbol], independence: Independence | None = None
) -> sympy.Expr:
    """Canonical ``E[expr]``: linear, constants pulled out, independent factors split.

    ``expr`` is expanded into monomials; factors free of local symbols are constants; the
    rest form one :class:`Expectation` per independent group (one group when
    ``independence`` is None: the un-factorized form).
    """
    local = frozenset(local)
    total = sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(expr)):
        constant = sympy.Integer(1)
        factors: list[tuple[sympy.Expr, frozenset[sympy.Symbol]]] = []
        for factor in sympy.Mul.make_args(term):
            symbols = frozenset(factor.free_symbols & local)
            if symbols:
                factors.append((factor, symbols))
            else:
                constant *= factor
        if not factors:
            total += constant
            continue
        if independence is None:
            groups = [sympy.Mul(*(f for f, _ in factors))]
        else:
            groups = independence.split(factors)
        value = constant
        for product in groups:
            value *= Expectation(product)
        total += value
    return total


@dataclass(frozen=True)
class Boundary:
    """The symbolic spectral boundary of an architecture.

    ``T`` is ``K × K`` (fields × fields) in ``λ``; ``squared[k, l] = T_kl(λ) T_kl(λ̄)``;
    ``L[k, l] = a_k² E[squared[k, l]]`` (canonical expectation form, with the independence
    ``groups`` when ``factorized``).  ``form`` is ``"rank-one"``, ``"determinant"`` or
    ``"perron"``; ``spectral_function`` is ``ρ(L)`` for rank one, ``1 − det(I − L)`` for the
    determinant form (the edge is where it equals 1), and ``None`` for the Perron form.
    """

    linearization: Linearization
    T: sympy.ImmutableMatrix
    squared: sympy.ImmutableMatrix
    L: sympy.ImmutableMatrix
    form: str
    spectral_function: sympy.Expr | None
    independence: Independence | None

    @property
    def architecture(self) -> Architecture:
        return self.linearization.architecture

    @property
    def factorized(self) -> bool:
        return self.independence is not None

    @property
    def scales(self) -> tuple[sympy.Expr, ...]:
        return tuple(f.variance for f in self.linearization.fields)

    def _repr_latex_(self) -> str:
        """``$$…$$`` of :meth:`latex` (``T(λ)``, ``L(λ)`` and the edge equation): rendered in Jupyter."""
        from rmtgate.symbolic.operators import display_math

        return display_math(self.latex().splitlines())

    def latex(self) -> str:
        """``T(λ)``, ``L(λ)`` and the edge equation ``ρ(L(λ)) = 1`` as LaTeX lines."""
        display = self.architecture.local_form.display
        names = [sympy.latex(f.symbol) for f in self.linearization.fields]
        t_rows = []
        for k in range(self.T.rows):
            t_rows.append(
                " & ".join(sympy.latex(display(sympy.factor_terms(self.T[k, l]))) for l in range(self.T.cols))
            )
        matrix = r" \\ ".join(t_rows)
        lines = [
            rf"T(\lambda) = C\,(I_\lambda - A)^{{-1}} B = \begin{{pmatrix}}{matrix}\end{{pmatrix}}"
            rf"\quad\text{{(rows, columns: }} {', '.join(names)})",
            r"L_{kl}(\lambda) = a_k^2\, \mathbb{E}\left[|T_{kl}(\lambda)|^2\right]",
        ]
        entries = []
        for k in range(self.T.rows):
            for l in range(self.T.cols):
                if self.T[k, l] != 0:
                    entries.append(rf"L_{{{k + 1}{l + 1}}} = {_latex_squared_entry(self, k, l)}")
        lines += [r",\quad ".join(entries[i : i + 2]) for i in range(0, len(entries), 2)]
        if self.form == "rank-one":
            trace = " + ".join(f"L_{{{k + 1}{k + 1}}}" for k in range(self.T.rows) if self.T[k, k] != 0)
            lines.append(rf"\rho(L(\lambda)) = \operatorname{{tr}} L(\lambda) = {trace} = 1 \quad(\text{{rank one}})")
        elif self.form == "determinant":
            lines.append(r"\det\left(I - L(\lambda)\right) = 0 \quad(\text{edge: Perron root } \rho(L(\lambda)) = 1)")
        else:
            lines.append(r"\rho\left(L(\lambda)\right) = 1")
        lines.append(r"\Sigma = \left\{\lambda\in\mathbb{C} : \rho\left(L(\lambda)\right) \geq 1\right\}")
        return "\n".join(lines)

    def display_L(self) -> sympy.Matrix:
        """``L`` for printing: each entry ``a_k² Π E[group]`` of the unexpanded ``|T_kl|²``."""
        local = local_symbols(self.architecture)
        display = self.architecture.local_form.display

        def entry(k: int, l: int) -> sympy.Expr:
            t = self.T[k, l]
            if t == 0:
                return sympy.Integer(0)
            factors = []
            constant = self.scales[k] ** 2
            for factor in sympy.Mul.make_args(t * conjugate_lambda(t)):
                symbols = frozenset(factor.free_symbols & local)
                if symbols:
                    factors.append((display(factor), symbols))
                else:
                    constant *= factor
            groups = self.independence.split(factors) if self.independence else [sympy.Mul(*(f for f, _ in factors))]
            return constant * sympy.Mul(*(Expectation(g) for g in groups))

        return sympy.Matrix(self.T.rows, self.T.cols, entry)

    def latex_equation(self) -> str:
        """The edge equation with every expectation written out (``= 1``)."""
        title = r"\text{mean-field form: }" if self.factorized else ""
        L = self.display_L()
        if self.form == "rank-one":
            lhs = sum((L[k, k] for k in range(L.rows)), sympy.Integer(0))
        elif self.form == "determinant":
            lhs = _one_minus_det(L)
        else:
            return rf"{title}\rho\left(L(\lambda)\right) = 1"
        return rf"{title}{_latex_with_abs(lhs)} = 1"


def _latex_with_abs(expr: sympy.Expr) -> str:
    """LaTeX with ``(x)(x̄)`` pairs (x containing λ) printed as ``|x|²``."""

    def fold(e: sympy.Expr) -> sympy.Expr:
        if not isinstance(e, sympy.Mul):
            return e
        powers = dict(e.as_powers_dict())
        for base in list(powers):
            if base.has(LAMBDA) and not base.has(LAMBDA_BAR):
                partner = conjugate_lambda(base)
                if partner in powers and powers[partner] == powers[base]:
                    exponent = powers.pop(base)
                    powers.pop(partner)
                    powers[sympy.Abs(base)] = 2 * exponent
        return sympy.Mul(*(b**x for b, x in powers.items()))

    folded = expr.replace(lambda e: isinstance(e, Expectation), lambda e: Expectation(fold(e.args[0])))
    return sympy.latex(folded, symbol_names={LAMBDA_BAR: r"\bar{\lambda}"})


def _latex_squared_entry(boundary: Boundary, k: int, l: int) -> str:
    """``a_k² E[n²/|d|²]`` with the real numerator and the λ-dependent denominator apart."""
    display = boundary.architecture.local_form.display
    numerator, denominator = sympy.fraction(sympy.together(boundary.T[k, l]))
    scale = sympy.latex(boundary.scales[k] ** 2)
    shown = sympy.factor_terms(display(numerator))
    num = sympy.latex(sympy.Abs(shown) ** 2 if numerator.has(LAMBDA) else shown**2)
    if denominator.has(LAMBDA):
        den = sympy.latex(sympy.Abs(display(sympy.factor_terms(denominator))) ** 2)
        inner = rf"\frac{{{num}}}{{{den}}}"
    else:
        inner = num if denominator == 1 else rf"\frac{{{num}}}{{{sympy.latex(display(denominator) ** 2)}}}"
    return rf"{scale}\, \mathbb{{E}}\left[{inner}\right]"


def mean_field_independence(arch: Architecture, extra: Sequence[Iterable[sympy.Symbol | str]] = ()) -> Independence:
    """The independences of local variables in the mean-field theory (see :class:`Independence`)."""
    form = arch.local_form
    in_update = set().union(*(e.free_symbols for e in form.new_state))
    fields = set(form.field_symbols)
    by_name = {s.name: s for s in (*form.state, *fields)}
    groups = tuple(frozenset(by_name[s] if isinstance(s, str) else s for s in g) for g in extra)
    return Independence(
        state=frozenset(form.state),
        free=frozenset(fields - in_update),
        coupled=frozenset(fields & in_update),
        extra=groups,
    )


def boundary(
    lin: Linearization,
    *,
    factorized: bool = False,
    independent: Sequence[Iterable[sympy.Symbol | str]] | None = None,
) -> Boundary:
    """Derive ``T(λ)``, ``L(λ)`` and the edge equation from a linearization.

    ``factorized=True`` applies the mean-field independences
    (:func:`mean_field_independence`, plus any ``independent`` groups of local symbols or
    names declared by the user).
    """
    arch = lin.architecture
    T = transfer_matrix(lin)
    squared = T.applyfunc(lambda e: e * conjugate_lambda(e))
    local = local_symbols(arch)
    independence = mean_field_independence(arch, independent or ()) if factorized else None
    scales = [f.variance for f in lin.fields]
    K = T.rows
    L = sympy.Matrix(K, K, lambda k, l: scales[k] ** 2 * expectation(squared[k, l], local, independence))

    weights = _rank_one_weights(T, local)
    if weights is not None:
        # T_k = c_k t: L = (a_k² c_k²)_k ⊗ (E|t_l|²)_l, so ρ(L) = Σ_l a_l² c_l² E|t_l|²
        base = next(k for k, w in enumerate(weights) if w != 0)  # the row the weights refer to
        t = T.row(base)
        rho = sum(
            (
                scales[k] ** 2 * weights[k] ** 2 * expectation(t[k] * conjugate_lambda(t[k]), local, independence)
                for k in range(K)
            ),
            sympy.Integer(0),
        )
        form, spectral = "rank-one", rho
    elif K <= MAX_DETERMINANT_FIELDS:
        form, spectral = "determinant", _one_minus_det(L)
    else:
        form, spectral = "perron", None
    return Boundary(
        linearization=lin,
        T=sympy.ImmutableMatrix(T),
        squared=sympy.ImmutableMatrix(squared),
        L=sympy.ImmutableMatrix(L),
        form=form,
        spectral_function=spectral,
        independence=independence,
    )


def _one_minus_det(L: sympy.Matrix) -> sympy.Expr:
    """``1 − det(I − L)`` expanded over the entries of ``L`` (entries inserted unexpanded).

    Expanding the entries too multiplies sums of expectations out combinatorially (a
    four-field architecture reaches millions of terms); callers expand when they compare.
    """
    placeholders = sympy.Matrix(L.rows, L.cols, lambda k, l: sympy.Symbol(f"L_{k}_{l}") if L[k, l] != 0 else 0)
    polynomial = sympy.expand(1 - (sympy.eye(L.rows) - placeholders).det(method="berkowitz"))
    return polynomial.xreplace(
        {placeholders[k, l]: L[k, l] for k in range(L.rows) for l in range(L.cols) if L[k, l] != 0}
    )


def transfer_matrix(lin: Linearization) -> sympy.Matrix:
    """``T(λ) = C (I_λ − A)^{-1} B``, by blocks: ``C_s (λ − A_ss)^{-1} A_sf + C_f``.

    ``A`` is zero on the field rows and ``B`` is the identity on the field blocks, so only
    the small state block is inverted; entries keep the factored form of the derivatives.
    """
    n = lin.n_state
    A, C = lin.A.as_mutable(), lin.C.as_mutable()
    a_ss, a_sf, c_s, c_f = A[:n, :n], A[:n, n:], C[:, :n], C[:, n:]
    shifted = LAMBDA * sympy.eye(n) - a_ss
    if n == 1:
        T = c_s * a_sf / shifted[0, 0] + c_f
        return T.applyfunc(lambda e: sympy.factor_terms(sympy.together(e)))
    T = c_s * shifted.inv(method="LU") * a_sf + c_f
    return T.applyfunc(lambda e: sympy.factor_terms(sympy.cancel(e)))


def _rank_one_weights(T: sympy.Matrix, local: frozenset[sympy.Symbol]) -> list[sympy.Expr] | None:
    """Constants ``c_k`` with ``T_k = c_k T_base`` for every row, or None if rows differ."""
    rows = [T.row(k) for k in range(T.rows)]
    nonzero = [k for k, r in enumerate(rows) if any(e != 0 for e in r)]
    if not nonzero:
        return None
    base = rows[nonzero[0]]
    pivot = next(l for l, e in enumerate(base) if e != 0)
    weights: list[sympy.Expr] = []
    for row in rows:
        ratio = sympy.cancel(row[pivot] / base[pivot])
        if ratio.free_symbols & (local | {LAMBDA}):
            return None
        if any(sympy.cancel(row[l] - ratio * base[l]) != 0 for l in range(T.cols)):
            return None
        weights.append(ratio)
    return weights


NU2 = sympy.Symbol("nu2", nonnegative=True)


@dataclass(frozen=True)
class BoundingCurves:
    """Bounding sets ``Σ(ρ,0) ⊆ Σ ⊆ Σ(ρ,ν)`` of [G 88-90], for any single-state architecture.

    ``residual`` is the factor ``X`` of the fixed-point residual ``s − F(s, η)`` that carries
    the state (GRU: ``h − φ(y)``); it vanishes at a fixed point.  Entries of ``T`` that are
    ``X`` times a factor ``R`` give ``Σ(ρ,0)`` with those entries dropped (``inner_squared``)
    and ``Σ(ρ,ν)`` with ``E[X²|R|²]`` replaced by ``ν² E[|R|²]``, ``ν² = E[X²]``
    (``outer_squared``).  For the GRU this is [G 88] (there ``a_z²`` is written into ``ν²``).
    """

    boundary: Boundary
    residual: sympy.Expr
    inner_squared: sympy.ImmutableMatrix
    outer_squared: sympy.ImmutableMatrix
    nu2: sympy.Symbol = NU2

    def latex(self) -> str:
        display = self.boundary.architecture.local_form.display
        x = sympy.latex(display(self.residual))
        lines = [
            rf"X = {x},\quad \nu^2 = \mathbb{{E}}\left[X^2\right]",
            r"\Sigma(\rho,0)\subseteq\Sigma\subseteq\Sigma(\rho,\nu):\quad"
            r"\Sigma(\rho,0): \text{entries } |T_{kl}|^2 = X^2|R_{kl}|^2 \text{ dropped},\quad"
            r"\Sigma(\rho,\nu): \mathbb{E}\left[X^2 |R_{kl}|^2\right] \to \nu^2\,\mathbb{E}\left[|R_{kl}|^2\right]",
        ]
        return "\n".join(lines)


def fixed_point_residual(arch: Architecture) -> sympy.Expr | None:
    """The factor of ``s − F(s, η)`` that carries the state (single-state architectures)."""
    form = arch.local_form
    if len(form.state) != 1:
        return None
    state = form.state[0]
    factors = [f for f in sympy.Mul.make_args(sympy.factor(state - form.new_state[0])) if f.has(state)]
    if not factors:
        return None
    return sympy.Mul(*factors)


def bounding_curves(bnd: Boundary) -> BoundingCurves | None:
    """:class:`BoundingCurves` of a boundary, or None when ``T`` has no residual factor."""
    residual = fixed_point_residual(bnd.architecture)
    if residual is None:
        return None
    state = bnd.architecture.state_symbols[0]
    inner = sympy.Matrix(bnd.squared)
    outer = sympy.Matrix(bnd.squared)
    found = False
    for k in range(bnd.T.rows):
        for l in range(bnd.T.cols):
            rest = sympy.cancel(bnd.T[k, l] / residual)
            if bnd.T[k, l] == 0 or sympy.fraction(rest)[1].has(state) or sympy.fraction(rest)[0].has(residual):
                continue
            found = True
            inner[k, l] = 0
            outer[k, l] = NU2 * rest * conjugate_lambda(rest)
    if not found:
        return None
    return BoundingCurves(bnd, residual, sympy.ImmutableMatrix(inner), sympy.ImmutableMatrix(outer))
