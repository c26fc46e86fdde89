"""Stage 1: the instantaneous Jacobian ``J = ∂s'/∂s`` of an architecture.

Derived by forward-mode differentiation through the field structure: a field
``eta_k = U_k u_k`` contributes ``U_k (∂u_k/∂s + Σ_j ∂u_k/∂eta_j · Deta_j/ds)``.  Each block
``J_ij = ∂s'_i/∂s_j`` is an :class:`~rmtgate.operators.OperatorPolynomial`: a sum of words
``D_0 U_{k1} D_1 ...`` with diagonal ``D``, exactly the form of [G 11] and [G 31].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.operators import OperatorPolynomial, block_matrix_latex, display_math


@dataclass(frozen=True)
class Jacobian:
    """``blocks[i][j] = ∂ s'_i / ∂ s_j`` as operators (state order of the architecture)."""

    architecture: Architecture
    blocks: tuple[tuple[OperatorPolynomial, ...], ...]

    def latex(self) -> str:
        display = self.architecture.local_form.display
        if len(self.blocks) == 1:
            return rf"J = {self.blocks[0][0].latex(display)}"
        return rf"J = {block_matrix_latex([list(r) for r in self.blocks], display)}"

    def _repr_latex_(self) -> str:
        """``$$J = …$$``: rendered as an equation in Jupyter."""
        return display_math([self.latex()])

    def evaluate(self, values: Mapping[sympy.Symbol, Any], matrices: Mapping[str, np.ndarray]) -> np.ndarray:
        """Dense ``(n_s N) × (n_s N)`` Jacobian for per-neuron local values and matrices."""
        return np.block([[b.evaluate(values, matrices) for b in row] for row in self.blocks])


def jacobian(arch: Architecture) -> Jacobian:
    """Derive the state-to-state Jacobian of ``arch``."""
    form = arch.local_form
    diag = OperatorPolynomial.diagonal
    field_derivative: dict[sympy.Symbol, list[OperatorPolynomial]] = {}
    for fld in form.fields:
        per_state = []
        for j, s in enumerate(form.state):
            inner = diag(sympy.diff(fld.input, s))
            for earlier in form.fields:
                if earlier.symbol in field_derivative:
                    coeff = sympy.diff(fld.input, earlier.symbol)
                    if coeff != 0:
                        inner = inner + diag(coeff) * field_derivative[earlier.symbol][j]
            per_state.append(OperatorPolynomial.matrix(fld.matrix) * inner)
        field_derivative[fld.symbol] = per_state
    blocks = []
    for new in form.new_state:
        row = []
        for j, s in enumerate(form.state):
            total = diag(sympy.diff(new, s))
            for fld in form.fields:
                coeff = sympy.diff(new, fld.symbol)
                if coeff != 0:
                    total = total + diag(coeff) * field_derivative[fld.symbol][j]
            row.append(total)
        blocks.append(tuple(row))
    return Jacobian(arch, tuple(blocks))
