"""Stage 2: the linearization ``M = A + B U C`` in the enlarged space ``(δs, δη_1..δη_K)``.

Built by the field construction of ``docs/explanation/theory.md`` ("Automatic linearization") with no
per-architecture code:

    λ δs  = (∂F/∂s) δs + Σ_k (∂F/∂η_k) δη_k
    δη_k  = U_k [ (∂u_k/∂s) δs + Σ_j (∂u_k/∂η_j) δη_j ]

so ``A`` holds ``∂F/∂s, ∂F/∂η`` in the state rows, ``B`` is the identity on field blocks,
``C`` holds ``∂u_k/∂s, ∂u_k/∂η_j``, and ``I_λ`` has ``λ`` on the state blocks.  Every entry
is a per-neuron diagonal block written as a local expression.  The Schur complement of
``I_λ − (A + B U C)`` on the state blocks must equal ``λ − J``; :func:`linearize` checks it in
the exact operator algebra.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from rmtgate.errors import DerivationError
from rmtgate.symbolic.architecture import Architecture, Field
from rmtgate.symbolic.jacobian import Jacobian, jacobian
from rmtgate.symbolic.operators import (
    Block,
    OperatorPolynomial,
    block_identity,
    block_matrix_latex,
    block_product,
    block_sum,
)

LAMBDA = sympy.Symbol("lambda")


@dataclass(frozen=True)
class Linearization:
    """``M = A + B U C`` with ``U = bdiag(U_k)``; generalized eigenproblem ``M v = I_λ v``.

    Blocks are ordered ``(state variables..., fields...)``.  ``A`` is square of size
    ``n_state + K``, ``B`` is ``(n_state + K) × K`` and ``C`` is ``K × (n_state + K)``.
    """

    architecture: Architecture
    A: sympy.ImmutableMatrix
    B: sympy.ImmutableMatrix
    C: sympy.ImmutableMatrix
    fields: tuple[Field, ...]
    I_lambda: sympy.ImmutableMatrix
    lam: sympy.Symbol
    schur_identity_holds: bool

    @property
    def n_state(self) -> int:
        return len(self.architecture.state)

    @property
    def block_names(self) -> tuple[sympy.Symbol, ...]:
        return (*self.architecture.state_symbols, *(f.symbol for f in self.fields))

    @property
    def matrix_names(self) -> tuple[str, ...]:
        return tuple(f.matrix for f in self.fields)

    def resolvent_operand(self) -> Block:
        """``I_λ − (A + B U C)`` as a block matrix of operators."""
        return _resolvent_operand(self.A, self.B, self.C, self.I_lambda, self.matrix_names, self.lam)

    def schur_complement(self) -> Block:
        """Schur complement of ``I_λ − M`` on the state blocks (equals ``λ − J``)."""
        return _schur_complement(self.resolvent_operand(), self.n_state)

    def latex_parts(self) -> dict[str, str]:
        """LaTeX of each piece, by name: ``blocks``, ``A``, ``B``, ``C``, ``U`` (what ``latex`` prints)."""
        display = self.architecture.local_form.display
        names = ", ".join(sympy.latex(s) for s in self.block_names)

        def mat(m: sympy.Matrix) -> str:
            return sympy.latex(m.applyfunc(lambda e: sympy.factor_terms(display(e))), mat_delim="(")

        u = (
            r"\operatorname{bdiag}\left("
            + ", ".join(sympy.latex(sympy.Symbol(n)) for n in self.matrix_names)
            + r"\right)"
        )
        fields = r",\quad ".join(f.latex() for f in self.fields)
        return {
            "blocks": rf"\text{{blocks: }} ({names}),\qquad {fields}",
            "A": rf"A = {mat(self.A)}",
            "B": rf"B = {mat(self.B)}",
            "C": rf"C = {mat(self.C)}",
            "U": rf"U = {u},\qquad I_\lambda = {mat(self.I_lambda)}",
        }

    def latex(self) -> str:
        """The blocks and ``A``, ``B``, ``C``, ``U``, ``I_λ`` as LaTeX lines (one per line)."""
        return "\n".join(self.latex_parts().values())

    def _repr_latex_(self) -> str:
        """``$$…$$`` of :meth:`latex` (the lines stacked): rendered as equations in Jupyter."""
        from rmtgate.symbolic.operators import display_math

        return display_math(self.latex().splitlines())

    def schur_latex(self) -> str:
        display = self.architecture.local_form.display
        lhs = r"\left[I_\lambda - (A + B U C)\right]/\left[\text{field blocks}\right]"
        rhs = (
            block_matrix_latex(self.schur_complement(), display)
            if self.n_state > 1
            else self.schur_complement()[0][0].latex(display)
        )
        verdict = r"\lambda - J" if self.schur_identity_holds else r"\text{(differs from } \lambda - J)"
        return rf"{lhs} = {rhs} = {verdict}"


def _resolvent_operand(
    A: sympy.Matrix,
    B: sympy.Matrix,
    C: sympy.Matrix,
    I_lambda: sympy.Matrix,
    matrices: tuple[str, ...],
    lam: sympy.Symbol,
) -> Block:
    constants = (lam,)
    size = A.shape[0]
    blocks: Block = []
    for a in range(size):
        row = []
        for b in range(size):
            entry = OperatorPolynomial.diagonal(I_lambda[a, b] - A[a, b], constants=constants)
            for k, name in enumerate(matrices):
                if B[a, k] != 0 and C[k, b] != 0:
                    entry = entry - (
                        OperatorPolynomial.diagonal(B[a, k], constants=constants)
                        * OperatorPolynomial.matrix(name, constants=constants)
                        * OperatorPolynomial.diagonal(C[k, b], constants=constants)
                    )
            row.append(entry)
        blocks.append(row)
    return blocks


def _schur_complement(operand: Block, n_state: int) -> Block:
    ss = [row[:n_state] for row in operand[:n_state]]
    sf = [row[n_state:] for row in operand[:n_state]]
    fs = [row[:n_state] for row in operand[n_state:]]
    ff = [row[n_state:] for row in operand[n_state:]]
    k = len(ff)
    if k == 0:
        return ss
    # ff = I - N with N nilpotent (fields depend on earlier fields only): invert by Neumann sum
    nilpotent = [[entry.pruned() for entry in row] for row in block_sum(block_identity(k), ff, sign=-1)]
    inverse = block_identity(k)
    power = block_identity(k)
    for _ in range(k):
        power = block_product(power, nilpotent)
        inverse = block_sum(inverse, power)
    if not all(entry.is_zero() for row in block_product(power, nilpotent) for entry in row):
        raise DerivationError("The field-field block of I_λ - M is not unipotent; cannot eliminate the fields")
    correction = block_product(sf, block_product(inverse, fs))
    return block_sum(ss, correction, sign=-1)


def linearize(arch: Architecture, *, reference: Jacobian | None = None) -> Linearization:
    """Build ``A, B, C, I_λ`` for ``arch`` and check the Schur identity against its Jacobian."""
    form = arch.local_form
    state, fields = form.state, form.fields
    n, k = len(state), len(fields)
    variables = (*state, *(f.symbol for f in fields))
    A = sympy.zeros(n + k, n + k)
    for i, new in enumerate(form.new_state):
        for j, v in enumerate(variables):
            A[i, j] = sympy.diff(new, v)
    B = sympy.zeros(n + k, k)
    for index in range(k):
        B[n + index, index] = 1
    C = sympy.zeros(k, n + k)
    for index, fld in enumerate(fields):
        for j, v in enumerate(variables):
            C[index, j] = sympy.diff(fld.input, v)
    I_lambda = sympy.diag(*([LAMBDA] * n + [1] * k))
    matrices = tuple(f.matrix for f in fields)
    schur = _schur_complement(_resolvent_operand(A, B, C, I_lambda, matrices, LAMBDA), n)
    jac = reference if reference is not None else jacobian(arch)
    holds = True
    for i in range(n):
        for j in range(n):
            target = OperatorPolynomial.diagonal(LAMBDA if i == j else 0, constants=(LAMBDA,)) - jac.blocks[i][j]
            if not schur[i][j].equals(target):
                holds = False
    return Linearization(
        architecture=arch,
        A=sympy.ImmutableMatrix(A),
        B=sympy.ImmutableMatrix(B),
        C=sympy.ImmutableMatrix(C),
        fields=fields,
        I_lambda=sympy.ImmutableMatrix(I_lambda),
        lam=LAMBDA,
        schur_identity_holds=holds,
    )
