"""Exact algebra of N×N operators built from diagonal matrices and random matrices.

Every Jacobian of an elementwise network with random couplings is a sum of *words*
``D_0 U_{k_1} D_1 U_{k_2} ... U_{k_m} D_m`` with diagonal ``D_j``.  The diagonal matrix at
position ``j`` of a word acts on its own neuron index, so a sum of words with the same
matrix sequence ``(k_1..k_m)`` is represented exactly by one *commutative* expression in
position-tagged local variables (``h__0`` is ``h`` at the left-most index, ``h__1`` the next
one, ...).  This gives a canonical form: two operators are equal iff, for every matrix
sequence, the coefficient difference simplifies to zero.  The algebra is what lets the
engine check the Schur-complement identity symbolically for any architecture.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

_TAG = re.compile(r"^(?P<base>.+)__(?P<pos>\d+)$")


def tagged(symbol: sympy.Symbol, position: int) -> sympy.Symbol:
    """``symbol`` at word position ``position`` (same assumptions)."""
    return sympy.Symbol(f"{symbol.name}__{position}", **symbol.assumptions0)


def untag(symbol: sympy.Symbol) -> tuple[sympy.Symbol, int] | None:
    match = _TAG.match(symbol.name)
    if match is None:
        return None
    return sympy.Symbol(match.group("base"), **symbol.assumptions0), int(match.group("pos"))


Word = tuple[tuple[str, ...], tuple[sympy.Expr, ...]]


@dataclass(frozen=True)
class OperatorPolynomial:
    """A finite sum of words ``D_0 U_{k_1} D_1 ... U_{k_m} D_m``.

    ``words`` keeps each word with its diagonal factors as built (so that printing shows the
    natural factorization, e.g. ``(1-z) φ'(y) U_h r``); :meth:`canonical` gives the exact
    canonical form used for equality.  ``constants`` are symbols that are the same at every
    neuron (``λ``) and so never get a position tag.
    """

    words: tuple[Word, ...] = ()
    constants: frozenset[sympy.Symbol] = frozenset()

    # ---------------------------------------------------------------- constructors
    @classmethod
    def diagonal(cls, expr: sympy.Expr, *, constants: Iterable[sympy.Symbol] = ()) -> OperatorPolynomial:
        """The diagonal matrix ``diag(expr)`` (``expr`` a per-neuron local expression)."""
        expr = sympy.sympify(expr)
        if expr == 0:
            return cls((), frozenset(constants))
        return cls((((), (expr,)),), frozenset(constants))

    @classmethod
    def matrix(cls, name: str, *, constants: Iterable[sympy.Symbol] = ()) -> OperatorPolynomial:
        """The random matrix ``name``."""
        one = sympy.Integer(1)
        return cls((((name,), (one, one)),), frozenset(constants))

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: OperatorPolynomial) -> OperatorPolynomial:
        return OperatorPolynomial(self.words + other.words, self.constants | other.constants)

    def __neg__(self) -> OperatorPolynomial:
        return OperatorPolynomial(tuple((w, (-d[0], *d[1:])) for w, d in self.words), self.constants)

    def __sub__(self, other: OperatorPolynomial) -> OperatorPolynomial:
        return self + (-other)

    def __mul__(self, other: OperatorPolynomial) -> OperatorPolynomial:
        out: list[Word] = []
        for word_a, diag_a in self.words:
            for word_b, diag_b in other.words:
                joint = diag_a[-1] * diag_b[0]
                if joint == 0:
                    continue
                out.append((word_a + word_b, (*diag_a[:-1], joint, *diag_b[1:])))
        return OperatorPolynomial(tuple(out), self.constants | other.constants)

    def canonical(self) -> dict[tuple[str, ...], sympy.Expr]:
        """Matrix sequence → coefficient in position-tagged symbols (exact, canonical)."""
        out: dict[tuple[str, ...], sympy.Expr] = {}
        for word, diags in self.words:
            coeff = sympy.Integer(1)
            for position, d in enumerate(diags):
                rules = {s: tagged(s, position) for s in d.free_symbols if s not in self.constants}
                coeff = coeff * d.xreplace(rules)
            out[word] = out.get(word, sympy.Integer(0)) + coeff
        return out

    def is_zero(self) -> bool:
        """Exact test: every canonical coefficient simplifies to zero."""
        for coeff in self.canonical().values():
            if sympy.expand(coeff) == 0:
                continue
            if sympy.simplify(coeff) != 0:
                return False
        return True

    def pruned(self) -> OperatorPolynomial:
        """The same operator without the matrix sequences whose coefficients cancel."""
        zero_words = {w for w, c in self.canonical().items() if sympy.expand(c) == 0}
        return OperatorPolynomial(tuple(t for t in self.words if t[0] not in zero_words), self.constants)

    def equals(self, other: OperatorPolynomial) -> bool:
        return (self - other).is_zero()

    def separated_terms(self) -> list[tuple[tuple[str, ...], list[sympy.Expr]]]:
        """Words with terms that share every factor but one collected (``aUb + aUc = aU(b+c)``)."""
        by_word: dict[tuple[str, ...], list[list[sympy.Expr]]] = {}
        for word, diags in self.words:
            by_word.setdefault(word, []).append(list(diags))
        result = []
        for word in sorted(by_word, key=lambda w: (len(w), w)):
            result.extend((word, d) for d in _collect(by_word[word]))
        return result

    def latex(self, display: Callable[[sympy.Expr], sympy.Expr] = lambda e: e) -> str:
        """LaTeX: diagonal factors as local expressions (hats omitted), matrices by name."""
        pieces: list[str] = []
        for word, diags in self.separated_terms():
            parts: list[str] = []
            negative = False
            for j, d in enumerate(diags):
                d = sympy.factor_terms(display(d))
                if d.could_extract_minus_sign() and (word or not isinstance(d, sympy.Add)):
                    negative, d = not negative, -d
                if d != 1 or not word:
                    text = sympy.latex(d)
                    if isinstance(d, sympy.Add) and word:
                        text = rf"\left({text}\right)"
                    parts.append(text)
                if j < len(word):
                    parts.append(sympy.latex(sympy.Symbol(word[j])))
            pieces.append(("-" if negative else "") + " ".join(parts))
        if not pieces:
            return "0"
        return " + ".join(pieces).replace("+ -", "- ")

    def evaluate(
        self,
        values: Mapping[sympy.Symbol, Any],
        matrices: Mapping[str, np.ndarray],
        *,
        modules: Any = None,
    ) -> np.ndarray:
        """The N×N matrix for per-neuron ``values`` (arrays of length N) and ``matrices``."""
        from rmtgate.symbolic.functions import backend_namespace

        modules = modules if modules is not None else [backend_namespace("numpy"), "numpy"]
        n = next(iter(matrices.values())).shape[0]
        total = np.zeros((n, n))
        symbols = list(values)
        arrays = [np.broadcast_to(np.asarray(values[s], dtype=float), (n,)) for s in symbols]
        for word, diags in self.words:
            vectors = [np.broadcast_to(sympy.lambdify(symbols, d, modules=modules)(*arrays), (n,)) for d in diags]
            product = np.diag(vectors[0]).astype(float)
            for name, vec in zip(word, vectors[1:], strict=True):
                product = (product @ matrices[name]) * vec[None, :]
            total = total + product
        return total


def _shift(expr: sympy.Expr, offset: int) -> sympy.Expr:
    rules = {}
    for s in expr.free_symbols:
        t = untag(s)
        if t is not None:
            rules[s] = tagged(t[0], t[1] + offset)
    return expr.xreplace(rules)


def _collect(products: list[list[sympy.Expr]]) -> list[list[sympy.Expr]]:
    """Merge terms that agree at every position but one (repeat until nothing merges)."""
    items = [list(p) for p in products]
    merged = True
    while merged and len(items) > 1:
        merged = False
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                differing = [j for j in range(len(items[a])) if items[a][j] != items[b][j]]
                if len(differing) <= 1:
                    j = differing[0] if differing else 0
                    combined = list(items[a])
                    combined[j] = sympy.factor_terms(items[a][j] + items[b][j]) if differing else 2 * items[a][j]
                    items[a] = combined
                    del items[b]
                    merged = True
                    break
            if merged:
                break
    return [i for i in items if all(d != 0 for d in i)]


def block_matrix_latex(blocks: list[list[OperatorPolynomial]], display: Callable[[sympy.Expr], sympy.Expr]) -> str:
    rows = [" & ".join(b.latex(display) for b in row) for row in blocks]
    return r"\begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}"


Block = list[list[OperatorPolynomial]]


def block_product(a: Block, b: Block) -> Block:
    """Product of block matrices whose blocks are operators."""
    zero = OperatorPolynomial()
    rows, inner, cols = len(a), len(b), len(b[0]) if b else 0
    out: Block = []
    for i in range(rows):
        row = []
        for j in range(cols):
            acc = zero
            for k in range(inner):
                if a[i][k].words and b[k][j].words:
                    acc = acc + a[i][k] * b[k][j]
            row.append(acc)
        out.append(row)
    return out


def block_sum(a: Block, b: Block, sign: int = 1) -> Block:
    return [[x + y if sign > 0 else x - y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)]


def block_identity(n: int) -> Block:
    one = OperatorPolynomial.diagonal(sympy.Integer(1))
    return [[one if i == j else OperatorPolynomial() for j in range(n)] for i in range(n)]


def display_math(lines: Sequence[str]) -> str:
    """``$$…$$`` of LaTeX lines, stacked in a ``gathered`` block: the ``_repr_latex_`` of the stages.

    Jupyter (and any MathJax/KaTeX front end) renders it as display math; one line is shown as is.
    """
    body = [line for line in lines if line.strip()]
    if len(body) == 1:
        return f"$${body[0]}$$"
    return "$$\\begin{gathered}" + " \\\\ ".join(body) + "\\end{gathered}$$"
