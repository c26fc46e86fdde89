"""Theory mutants: wrong versions of the spectral theory, generated from the derivation.

A verification suite is worth what it can reject.  Each :class:`Mutant` is a deliberately
wrong prediction built from the derived boundary of an architecture — never typed by hand:

* ``drop-term``: one additive term of one entry ``T_kl(λ)`` removed (an entry that is a single
  term is removed whole);
* ``variance``: one field variance ``a_k²`` scaled by 0.9 or 1.1;
* ``factorized``: every expectation of a product replaced by the product of expectations,
  also where the mean-field factorization does not allow it (state and the fields that
  drive it are correlated);
* ``zero-state``: zero-fixed-point statistics in place of the network's own statistics;
* ``swap-variances``: the variances of two fields exchanged (``a_k ↔ a_l``: two gates swapped
  in ``L``).

:mod:`rmtgate.verification.mutation` runs the distribution checks against every mutant.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.evaluators import DirectEvaluator, _Base
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.symbolic.boundary import (
    LAMBDA_BAR,
    Boundary,
    Expectation,
    Independence,
    conjugate_lambda,
    expectation,
    local_symbols,
)
from rmtgate.symbolic.linearization import LAMBDA

#: variance factors of the ``variance`` mutants
VARIANCE_FACTORS = (0.9, 1.1)


class ScaledEvaluator(DirectEvaluator):
    """:class:`DirectEvaluator` with ``L``'s rows using other variances (``a_k² → a_k² f_k``)."""

    def __init__(
        self,
        bnd: Boundary,
        sample: LocalSample,
        params: Mapping[str, Any],
        *,
        squared: sympy.Matrix | None = None,
        row_factors: np.ndarray | None = None,
    ) -> None:
        super().__init__(bnd, sample, params, squared=squared)
        if row_factors is not None:
            self.scales = self.scales * np.sqrt(np.asarray(row_factors, dtype=float))


class FactorizedEvaluator(_Base):
    """``L_kl = a_k² Π_g E[g]`` with the expectation of every entry split into independent groups.

    Each :class:`Expectation` atom is lambdified once and averaged over the sample per ``λ``;
    the entries are then the compiled products of those averages.
    """

    def __init__(
        self, bnd: Boundary, sample: LocalSample, params: Mapping[str, Any], independence: Independence
    ) -> None:
        super().__init__(bnd, sample, params)
        local = local_symbols(bnd.architecture)
        args = (LAMBDA, LAMBDA_BAR, *self.local_args, *self.param_args)
        self.k = bnd.T.rows
        atoms: dict[Expectation, sympy.Symbol] = {}
        self.entries: dict[tuple[int, int], tuple[Callable[..., Any], list[sympy.Symbol]]] = {}
        for k, l in itertools.product(range(self.k), repeat=2):
            if bnd.squared[k, l] == 0:
                continue
            expr = expectation(bnd.squared[k, l], local, independence)
            found = sorted(expr.atoms(Expectation), key=str)
            for atom in found:
                atoms.setdefault(atom, sympy.Symbol(f"_E{len(atoms)}"))
            symbols = [atoms[a] for a in found]
            outer = lambdify_local((LAMBDA, LAMBDA_BAR, *symbols, *self.param_args), expr.xreplace(atoms))
            self.entries[(k, l)] = (outer, symbols)
        self.atoms = {sym: lambdify_local(args, atom.args[0]) for atom, sym in atoms.items()}

    def L(self, lam: Any) -> np.ndarray:
        lam = np.asarray(lam, dtype=complex)
        flat = lam.reshape(-1)
        z = np.where(flat.imag == 0, flat + 1e-150j, flat)[:, None]
        values = [np.asarray(v, dtype=float)[None, ...] for v in self._argument_values()]
        params = [np.asarray(self.params[p.name], dtype=float) for p in self.param_args]
        means = {
            sym: np.mean(np.broadcast_to(fn(z, np.conj(z), *values), (flat.size, self.sample.size)), axis=1)
            for sym, fn in self.atoms.items()
        }
        out = np.zeros((flat.size, self.k, self.k))
        for (k, l), (fn, symbols) in self.entries.items():
            value = fn(flat, np.conj(flat), *(means[s] for s in symbols), *params)
            out[:, k, l] = self.scales[k] ** 2 * np.real(np.broadcast_to(value, flat.shape))
        return np.maximum(out, 0.0).reshape(*lam.shape, self.k, self.k)


@dataclass(frozen=True)
class Mutant:
    """A wrong theory: ``build(sample, params)`` returns its evaluator for a network sample."""

    name: str
    kind: str
    description: str
    build: Callable[[LocalSample, Mapping[str, float]], _Base]


def _field_names(bnd: Boundary) -> list[str]:
    return [f.symbol.name.removeprefix("eta_") for f in bnd.linearization.fields]


def _squared(T: sympy.Matrix) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(T.applyfunc(lambda e: e * conjugate_lambda(e)))


def _drop_term_mutants(bnd: Boundary) -> list[Mutant]:
    names = _field_names(bnd)
    out = []
    for k, l in itertools.product(range(bnd.T.rows), range(bnd.T.cols)):
        entry = bnd.T[k, l]
        if entry == 0:
            continue
        # the additive terms as derived (not expanded: one mutant per term of the printed T)
        terms = sympy.Add.make_args(entry)
        choices = [(None, "the whole entry")] if len(terms) == 1 else [(t, str(t)) for t in terms]
        for index, (term, label) in enumerate(choices):
            T = bnd.T.as_mutable()
            T[k, l] = 0 if term is None else entry - term
            squared = _squared(T)
            suffix = "" if term is None else f"-{index}"
            out.append(
                Mutant(
                    f"drop-T[{names[k]},{names[l]}]{suffix}",
                    "drop-term",
                    f"T_{{{names[k]}{names[l]}}}(λ) without {label}",
                    lambda sample, params, squared=squared: ScaledEvaluator(bnd, sample, params, squared=squared),
                )
            )
    return out


def _variance_mutants(bnd: Boundary) -> list[Mutant]:
    names = _field_names(bnd)
    out = []
    for k, factor in itertools.product(range(len(names)), VARIANCE_FACTORS):
        factors = np.ones(len(names))
        factors[k] = factor
        out.append(
            Mutant(
                f"variance-{names[k]}x{factor:g}",
                "variance",
                f"field variance a_{names[k]}² scaled by {factor:g}",
                lambda sample, params, factors=factors: ScaledEvaluator(bnd, sample, params, row_factors=factors),
            )
        )
    return out


def _swap_mutants(bnd: Boundary) -> list[Mutant]:
    names = _field_names(bnd)
    out = []
    for k, l in itertools.combinations(range(len(names)), 2):

        def build(sample: LocalSample, params: Mapping[str, float], k: int = k, l: int = l) -> _Base:
            ev = ScaledEvaluator(bnd, sample, params)
            ev.scales[[k, l]] = ev.scales[[l, k]]
            return ev

        out.append(Mutant(f"swap-{names[k]}-{names[l]}", "swap-variances", f"a_{names[k]} ↔ a_{names[l]} in L", build))
    return out


def _factorized_mutant(bnd: Boundary) -> Mutant:
    form = bnd.architecture.local_form
    # every local variable its own group, state included: products of expectations everywhere
    everything = Independence(
        state=frozenset(),
        free=frozenset(form.field_symbols) | frozenset(form.state),
        coupled=frozenset(),
    )
    return Mutant(
        "factorized",
        "factorized",
        "E[XY] → E[X]E[Y] for every product, correlated state and fields included",
        lambda sample, params: FactorizedEvaluator(bnd, sample, params, everything),
    )


def _zero_state_mutant(bnd: Boundary) -> Mutant:
    def build(sample: LocalSample, params: Mapping[str, float]) -> _Base:
        return DirectEvaluator(bnd, zero_state(bnd, dict(params)), params)

    return Mutant("zero-state", "zero-state", "zero-fixed-point statistics instead of the network's", build)


def mutants(bnd: Boundary) -> list[Mutant]:
    """Every mutant of the (un-factorized) boundary ``bnd``."""
    return [
        *_drop_term_mutants(bnd),
        *_variance_mutants(bnd),
        _factorized_mutant(bnd),
        _zero_state_mutant(bnd),
        *_swap_mutants(bnd),
    ]
