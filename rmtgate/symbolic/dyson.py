"""Stage 4 (symbolic): the hermitized Dyson equation at η → 0⁺ for any architecture.

From ``M = A + B U C`` (per-neuron blocks) the self-consistent Born approximation over
``U = bdiag(U_k)``, ``(U_k)_ij ~ N(0, a_k²/N)``, gives a block-diagonal self-energy
``Σ11 = B diag(a_k² g2_k) B†``, ``Σ22 = C† diag(a_k² g1_k) C`` [G 68, 72, 75]; at η → 0⁺ inside
the support ``g1 = −i x``, ``g2 = −i y`` with ``x, y ≥ 0``.  Eliminating the hermitized
resolvent per neuron (push-through identities) leaves, with ``T = C (I_λ − A)^{-1} B``,
``u_k = a_k² x_k``, ``v_k = a_k² y_k``, ``D_u = diag(u)``, ``D_v = diag(v)``:

    u_k = a_k² E[((I + T† D_u T D_v)^{-1} T† D_u T)_kk]
    v_k = a_k² E[((I + T D_v T† D_u)^{-1} T D_v T†)_kk]
    G(λ) = (1/n_s) E[tr (λ − A_ss)^{-1} + tr(D_v T† D_u (I + T D_v T† D_u)^{-1} ∂_λ T)]
    μ(λ) = (1/π) ∂_λ̄ G

``T†`` is ``T`` with ``λ → λ̄`` transposed (every local variable is real).  At ``u, v → 0``
the second equation is ``v = L v``, ``L_kl = a_k² E|T_kl|²``: the boundary of
:mod:`rmtgate.symbolic.boundary`.  The numerics live in :mod:`rmtgate.numerics.dyson_coefficients`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from rmtgate.symbolic.boundary import (
    LAMBDA_BAR,
    Boundary,
    Expectation,
    conjugate_lambda,
    local_symbols,
    transfer_matrix,
)
from rmtgate.symbolic.functions import backend_namespace
from rmtgate.symbolic.linearization import LAMBDA, Linearization


@dataclass(frozen=True)
class DysonSystem:
    """The η → 0⁺ Dyson system of an architecture as SymPy objects.

    ``u``, ``v``: the ``2K`` real unknowns (symbols ``u_k``, ``v_k``); ``T``, ``T_dagger``:
    transfer matrix and its adjoint (``λ̄``); ``equations``: the ``2K`` expressions ``u_k − RHS``
    and ``v_k − RHS`` (with :class:`Expectation` nodes); ``G``: the resolvent trace inside the
    support; ``G_outside``: the holomorphic form (``u = v = 0``); ``n_state``: eigenvalues of
    ``J`` per neuron.  ``μ = (1/π) ∂_λ̄ G`` with ``u, v`` implicit functions of ``(λ, λ̄)``.
    """

    linearization: Linearization
    T: sympy.ImmutableMatrix
    T_dagger: sympy.ImmutableMatrix
    u: tuple[sympy.Symbol, ...]
    v: tuple[sympy.Symbol, ...]
    equations: tuple[sympy.Expr, ...]
    G: sympy.Expr
    G_outside: sympy.Expr
    n_state: int

    @property
    def scales(self) -> tuple[sympy.Expr, ...]:
        return tuple(f.variance for f in self.linearization.fields)

    def numeric(self, params: Mapping[str, float]) -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per-neuron right-hand sides as a numpy function, from the symbolic ``T``, ``T†``, ``∂_λT``.

        Returns ``f(values, lam, u, v) -> (hx, hy, g)``: ``values`` maps each local variable's
        name to an array over neurons (``m``), ``u, v`` are the ``K`` unknowns; ``hx, hy`` are
        ``(m, K)`` (the diagonals inside ``E[...]``, before ``a_k²``) and ``g`` is ``(m,)``, the
        summand of ``n_s G``.  Numbers go in before the ``K × K`` inverses (numpy, per neuron):
        a symbolic 3 × 3 or 4 × 4 inverse of gated entries is huge.
        """
        arch = self.linearization.architecture
        local = (*arch.state_symbols, *arch.local_form.field_symbols)
        fixed = {p: float(params[p.name]) for p in arch.parameters if p.name in params}
        n = self.n_state
        A_ss = sympy.Matrix(self.linearization.A[:n, :n])
        trace = (LAMBDA * sympy.eye(n) - A_ss).inv(method="LU").trace() if n > 1 else 1 / (LAMBDA - A_ss[0, 0])
        K = self.T.rows
        matrices = (sympy.Matrix(self.T), sympy.Matrix(self.T_dagger), sympy.Matrix(self.T).diff(LAMBDA))
        flat = [e.xreplace(fixed) for M in matrices for e in M] + [trace.xreplace(fixed)]
        fn = sympy.lambdify((*local, LAMBDA, LAMBDA_BAR), flat, modules=[backend_namespace("numpy"), "numpy"], cse=True)

        def evaluate(
            values: Mapping[str, Any], lam: complex, u: Any, v: Any
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            args = [np.asarray(values[s.name], dtype=float) for s in local]
            m = args[0].size
            out = [
                np.broadcast_to(np.asarray(x, dtype=complex), (m,))
                for x in fn(*args, complex(lam), complex(np.conj(lam)))
            ]
            T, TH, dT = (np.stack(out[i * K * K : (i + 1) * K * K], axis=-1).reshape(m, K, K) for i in range(3))
            tr = out[-1]
            Du, Dv = np.diag(np.asarray(u, dtype=float)), np.diag(np.asarray(v, dtype=float))
            Q, P = TH @ Du @ T, T @ Dv @ TH
            eye = np.eye(K)
            Hx = np.linalg.solve(eye + Q @ Dv, Q)
            Hy = np.linalg.solve(eye + P @ Du, P)
            g = tr + np.trace(Dv @ TH @ Du @ np.linalg.inv(eye + P @ Du) @ dT, axis1=-2, axis2=-1)
            return np.diagonal(Hx, axis1=-2, axis2=-1), np.diagonal(Hy, axis1=-2, axis2=-1), g

        return evaluate

    def edge_matrix(self) -> sympy.Matrix:
        """``∂(v-equations)/∂v`` at ``u = v = 0``: ``I − L`` with ``L_kl = a_k² E[T_kl T†_lk]``.

        At ``u = 0`` the inverse ``(I + P D_u)^{-1}`` is the identity and the ``v``-equations
        read ``v_k = a_k² E[(T D_v T†)_kk] = a_k² Σ_l E[T_kl T†_lk] v_l``: no inverse at all.
        """
        local = local_symbols(self.linearization.architecture)
        K = self.T.rows
        rows = []
        for k in range(K):
            row = []
            for l in range(K):
                entry = sympy.expand(self.T[k, l] * self.T_dagger[l, k])
                average = Expectation(entry) if entry.free_symbols & local else entry
                row.append(int(k == l) - self.scales[k] ** 2 * average)
            rows.append(row)
        return sympy.Matrix(rows)

    def latex(self) -> str:
        display = self.linearization.architecture.local_form.display
        names = ", ".join(sympy.latex(f.symbol) for f in self.linearization.fields)
        lines = [
            r"\Sigma_{11} = B\,\operatorname{diag}_k\!\left(a_k^2 g^{(2)}_k\right) B^\dagger,\quad "
            r"\Sigma_{22} = C^\dagger \operatorname{diag}_k\!\left(a_k^2 g^{(1)}_k\right) C,\quad "
            r"g^{(1)}_k = \mathbb{E}\left[(B^\dagger \mathcal{R}_{11} B)_{kk}\right],\ "
            r"g^{(2)}_k = \mathbb{E}\left[(C \mathcal{R}_{22} C^\dagger)_{kk}\right]",
            r"\eta\to 0^+:\ g^{(1)}_k = -i x_k,\ g^{(2)}_k = -i y_k,\quad u_k = a_k^2 x_k \geq 0,\ v_k = a_k^2 y_k \geq 0"
            rf"\quad(k \in {names})",
            r"u_k = a_k^2\,\mathbb{E}\left[\left((I + T^\dagger D_u T D_v)^{-1} T^\dagger D_u T\right)_{kk}\right],\quad "
            r"v_k = a_k^2\,\mathbb{E}\left[\left((I + T D_v T^\dagger D_u)^{-1} T D_v T^\dagger\right)_{kk}\right]",
            r"G(\lambda) = \frac{1}{n_s}\mathbb{E}\left[\operatorname{tr}(\lambda - A_{ss})^{-1}"
            r" + \operatorname{tr}\left(D_v T^\dagger D_u (I + T D_v T^\dagger D_u)^{-1} \partial_\lambda T\right)\right],"
            rf"\quad n_s = {self.n_state}",
            r"\mu(\lambda) = \frac{1}{\pi}\partial_{\bar\lambda} G,\quad "
            r"\frac{\partial(u, v)}{\partial\bar\lambda} = -F_{(u,v)}^{-1} F_{\bar\lambda}",
            r"G_{\Sigma^c}(\lambda) = " + sympy.latex(display(self.G_outside)),
            r"u, v \to 0:\ v = L v,\ L_{kl} = a_k^2\,\mathbb{E}\left[|T_{kl}(\lambda)|^2\right]"
            r"\ \Rightarrow\ \partial\Sigma = \{\lambda : \rho(L(\lambda)) = 1\}",
        ]
        if self.equations:  # one field: the closed form
            lines.insert(3, ",\\quad ".join(sympy.latex(display(eq)) + " = 0" for eq in self.equations))
            lines.insert(4, r"G(\lambda) = " + sympy.latex(display(self.G)))
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return "$$\\begin{gathered}" + " \\\\\n".join(self.latex().splitlines()) + "\\end{gathered}$$"


def dyson_system(bnd_or_lin: Boundary | Linearization) -> DysonSystem:
    """Build the η → 0⁺ Dyson system from a Boundary (or Linearization) of any architecture.

    Cheap by construction (``derive`` shows it): ``T`` is the boundary's, ``T†`` its transpose
    at ``λ̄``, and the only inverse is the ``n_s × n_s`` state block of ``G`` outside the support.
    With one field the equations and ``G`` are written in closed form (scalar ``T``); with more,
    ``equations`` is empty, ``G`` is NaN and the system is used through :meth:`DysonSystem.numeric`
    (numbers before the ``K × K`` inverses) and :meth:`DysonSystem.latex`.
    """
    lin = bnd_or_lin.linearization if isinstance(bnd_or_lin, Boundary) else bnd_or_lin
    T = sympy.Matrix(bnd_or_lin.T) if isinstance(bnd_or_lin, Boundary) else transfer_matrix(lin)
    K = T.rows
    TH = T.T.applyfunc(conjugate_lambda)
    u = tuple(sympy.Symbol(f"u_{f.symbol.name}", nonnegative=True) for f in lin.fields)
    v = tuple(sympy.Symbol(f"v_{f.symbol.name}", nonnegative=True) for f in lin.fields)
    n = lin.n_state
    local = local_symbols(lin.architecture)

    def average(expr: sympy.Expr) -> sympy.Expr:
        # the average over neurons is kept as one explicit E[...] node (no factorization here)
        return Expectation(expr) if expr.free_symbols & local else expr

    A_ss = sympy.Matrix(lin.A[:n, :n])
    resolvent = 1 / (LAMBDA - A_ss[0, 0]) if n == 1 else (LAMBDA * sympy.eye(n) - A_ss).inv(method="LU").trace()
    outside = average(sympy.together(resolvent)) / n
    if K > 1:
        return DysonSystem(lin, sympy.ImmutableMatrix(T), sympy.ImmutableMatrix(TH), u, v, (), sympy.S.NaN, outside, n)
    a2 = lin.fields[0].variance ** 2
    t, th = T[0, 0], TH[0, 0]
    denominator = 1 + t * th * u[0] * v[0]
    equations = (u[0] - a2 * average(t * th * u[0] / denominator), v[0] - a2 * average(t * th * v[0] / denominator))
    G = average(resolvent + v[0] * u[0] * th * sympy.diff(t, LAMBDA) / denominator) / n
    return DysonSystem(lin, sympy.ImmutableMatrix(T), sympy.ImmutableMatrix(TH), u, v, equations, G, outside, n)


__all__ = ["LAMBDA", "LAMBDA_BAR", "DysonSystem", "dyson_system"]
