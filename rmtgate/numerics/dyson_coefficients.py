"""Dyson-equation data: the hermitized Dyson equation at η → 0⁺ inside the spectral support.

This module holds the per-sample data (:func:`coefficients`: poles, residues, atoms) and the
per-chunk algebra (:class:`DysonTerms`); the solver is :mod:`rmtgate.numerics.dyson_solver`,
``G`` and ``μ`` on points and grids :mod:`rmtgate.numerics.density`.

Per neuron ``s`` the transfer matrix ``T_s(λ) = C_s (I_λ − A_s)^{-1} B_s`` (``K × K``) is
written in pole–residue form ``Σ_p R_p/(λ − μ_p) + C_f``.  Hermitizing ``λ − M`` and taking the
self-consistent Born approximation over ``U = bdiag(U_k)`` gives, at ``η → 0⁺`` (see
``rmtgate.symbolic.dyson`` for the symbolic form), with ``D_x = diag(u)``, ``D_y = diag(v)``:

    u_k = a_k² E[((I + Q D_y)^{-1} Q)_kk],   Q = T† D_x T
    v_k = a_k² E[((I + P D_x)^{-1} P)_kk],   P = T D_y T†

(``u_k = a_k² g1_k``, ``v_k = a_k² g2_k``: the imaginary parts of the traced diagonal blocks
of the hermitized resolvent, both real and ≥ 0).  Linearized at ``u, v → 0`` this is
``v = L v`` with ``L_kl = a_k² E|T_kl|²`` — the existing edge ``ρ(L) = 1``.  The system has an
exact gauge symmetry ``u → c u, v → v/c`` (``G`` is invariant), fixed here by
``Σ u = Σ v``; one equation is then redundant (``Σ_k v_k F_x,k / a_k² = Σ_k u_k F_y,k / a_k²``
holds identically) and is replaced by the gauge.

    G(λ) = (1/n_state) E[ tr (λ − A_ss)^{-1} + tr(D_y T† D_x (I + P D_x)^{-1} T'(λ)) ]

normalised per eigenvalue of ``J`` (``n_state N`` of them), and ``μ = (1/π) ∂_λ̄ G`` by
implicit differentiation: ``dg/dλ̄ = −F_g^{-1} F_λ̄``.  Derivatives are closed forms
(``d(I+PD)^{-1}P = (I+PD)^{-1} dP (I+DP)^{-1}``), never finite differences.

Atoms: a pole ``μ_p`` of neuron ``s`` whose effective residue ``diag(a) R_p diag(a)`` vanishes
(saturated ``φ' = 0``, a gate at exactly 0 or 1, ``a_o = 0`` in the LSTM) is an exact
eigenvalue of ``J``: a point mass ``1/(n_state N)``.  Its residue is removed from ``T`` and it
is reported as an :class:`Atom`; the continuous density then carries mass ``1 − Σ atoms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, StateError, expected
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.evaluators import NumpyEvaluator
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.symbolic.boundary import Boundary, boundary

#: complex entries per work array (points × neurons × K²): ~16 MB, keeps the temporaries in cache-sized chunks
CHUNK_ELEMENTS = 1_000_000


@dataclass(frozen=True)
class Atom:
    """A point mass of the spectral measure: ``weight`` (fraction of all eigenvalues) at ``location``."""

    location: complex
    weight: float


@dataclass(frozen=True)
class DysonCoefficients:
    """Per-neuron data of the Dyson system for one sample.

    ``poles`` ``(m, p)`` and ``residues`` ``(m, p, K, K)`` give ``T(λ) = Σ_p R/(λ − μ) + c_f``
    (residues of atom poles set to zero); ``coupled`` ``(m, p)`` marks poles that are not
    atoms; ``scales`` are the ``a_k``; ``n_state`` normalises ``G`` per eigenvalue of ``J``.
    """

    poles: np.ndarray
    residues: np.ndarray
    c_f: np.ndarray
    coupled: np.ndarray
    scales: np.ndarray
    n_state: int
    atoms: tuple[Atom, ...]
    evaluator: NumpyEvaluator

    @property
    def size(self) -> int:
        return self.poles.shape[0]

    @property
    def K(self) -> int:
        return self.c_f.shape[1]

    @property
    def atom_mass(self) -> float:
        return float(sum(a.weight for a in self.atoms))


def as_boundary(obj: Any) -> Boundary:
    """A :class:`Boundary` from a Boundary, Derivation, Linearization or Architecture."""
    if isinstance(obj, Boundary):
        return obj
    if hasattr(obj, "boundary") and isinstance(obj.boundary, Boundary):
        return obj.boundary
    if hasattr(obj, "I_lambda"):
        return boundary(obj)
    from rmtgate.symbolic.architecture import Architecture
    from rmtgate.symbolic.derive import derive

    if isinstance(obj, Architecture):
        return derive(obj).boundary
    raise ParameterError(
        expected("a Boundary, Derivation, Linearization or Architecture", "boundary", type(obj).__name__)
    )


def coefficients(
    bnd_or_derivation: Any,
    sample: LocalSample | str,
    params: Mapping[str, Any],
    *,
    atom_tol: float = 1e-9,
) -> DysonCoefficients:
    """Compile ``A, C`` on ``sample`` and split the poles of ``T`` into coupled ones and atoms.

    ``sample`` is a :class:`LocalSample` (network, DMFT, ``.npz``) or ``"zero"``; ``params``
    the parameter values; a pole is an atom when ``max |a_k R_kl a_l|`` is at most
    ``atom_tol`` times the largest one of the sample (its bubble of support would have
    radius ~ ``atom_tol``: far below any grid).
    """
    bnd = as_boundary(bnd_or_derivation)
    if not (isinstance(atom_tol, float | int) and 0 <= atom_tol < 1):
        raise ParameterError(expected("a tolerance 0 <= atom_tol < 1", "atom_tol", atom_tol))
    if isinstance(sample, str):
        if sample != "zero":
            raise StateError(expected("'zero' or a LocalSample", "sample", sample))
        from rmtgate.numerics.parameters import resolve_parameters

        sample = zero_state(bnd, resolve_parameters(bnd.architecture, params))
    ev = NumpyEvaluator(bnd, sample, params)
    lin = bnd.linearization
    n, m = lin.n_state, sample.size
    args = (*ev.local_args, *ev.param_args)
    values = ev._argument_values()

    def compiled(matrix: Any) -> np.ndarray:
        if matrix.rows == 0 or matrix.cols == 0:
            return np.zeros((m, matrix.rows, matrix.cols))
        fn = lambdify_local(args, tuple(matrix), "numpy")
        flat = [np.broadcast_to(np.asarray(v, dtype=float), (m,)) for v in fn(*values)]
        return np.stack(flat, axis=-1).reshape(m, matrix.rows, matrix.cols)

    a_ss, a_sf = compiled(lin.A[:n, :n]), compiled(lin.A[:n, n:])
    c_s, c_f = compiled(lin.C[:, :n]), compiled(lin.C[:, n:])
    if n == 1:
        poles = a_ss[:, :, 0].astype(complex)
        residues = (c_s[:, :, 0][:, :, None] * a_sf[:, 0, :][:, None, :])[:, None, :, :].astype(complex)
    else:
        poles, vectors = np.linalg.eig(a_ss)
        left = np.linalg.solve(vectors, a_sf.astype(complex))
        right = np.einsum("mkn,mnp->mkp", c_s, vectors)
        residues = np.einsum("mkp,mpl->mpkl", right, left)
    a = ev.scales
    effective = np.max(np.abs(residues * a[None, None, :, None] * a[None, None, None, :]), axis=(2, 3))
    reference = float(np.max(effective)) if effective.size else 0.0
    coupled = effective > atom_tol * reference if reference > 0 else np.zeros(effective.shape, dtype=bool)
    residues = np.where(coupled[:, :, None, None], residues, 0.0)
    atom_locations = poles[~coupled]
    atoms: list[Atom] = []
    if atom_locations.size:
        # identical local eigenvalues (e.g. every z = 1 neuron) are one atom
        keys = np.round(atom_locations.real, 12) + 1j * np.round(atom_locations.imag, 12)
        unique, counts = np.unique(keys, return_counts=True)
        atoms = [Atom(complex(u), float(c) / (n * m)) for u, c in zip(unique, counts, strict=True)]
    return DysonCoefficients(poles, residues, c_f.astype(complex), coupled, a, n, tuple(atoms), ev)


# ------------------------------------------------------------------------------ per-chunk algebra


class DysonTerms:
    """Everything the equations need at points ``lam`` (P,) and unknowns ``u, v`` (P, K).

    Arrays are ``(P, m, K, K)``; ``H`` means conjugate transpose.
    """

    def __init__(
        self, co: DysonCoefficients, lam: np.ndarray, u: np.ndarray, v: np.ndarray, *, transfer_only: bool = False
    ) -> None:
        self.co, self.lam, self.u, self.v = co, lam, u, v
        gap = lam[:, None, None] - co.poles[None, :, :]
        gap = np.where(gap == 0, 1e-300, gap)  # a grid point exactly on a pole: finite, huge
        kernel = 1.0 / gap
        self.T = np.einsum("Pmp,mpkl->Pmkl", kernel, co.residues) + co.c_f[None]
        self.trace_w = np.sum(np.where(co.coupled[None], kernel, 0.0), axis=2)  # tr (λ − A_ss)^{-1}, coupled poles
        if transfer_only:  # enough for ρ(L) and for G outside the support
            return
        self.dT = -np.einsum("Pmp,mpkl->Pmkl", kernel * kernel, co.residues)
        self.TH = np.conj(np.swapaxes(self.T, -1, -2))
        Du, Dv = u[:, None, None, :], v[:, None, None, :]  # right-multiplication by diag
        self.P = (self.T * Dv) @ self.TH
        self.Mi = _inverse_identity_plus(self.P * Du)  # (I + P D_x)^{-1}, the only inverse
        self.Hy = self.Mi @ self.P
        # push-through: (I + Q D_y)^{-1} Q = T† (I + D_x P)^{-1} D_x T and (I + D_x P)^{-1} = M^{-H}
        self.MiH = np.conj(np.swapaxes(self.Mi, -1, -2))
        self.Hx = self.TH @ (self.MiH * Du) @ self.T
        self.Mpi = np.eye(co.K) - self.Hx * Dv  # (I + Q D_y)^{-1} = I − H_x D_y: no second inverse

    def residual(self) -> np.ndarray:
        """``F(g) = g − a² E diag(H)`` as ``(P, 2K)`` (x part first)."""
        a2 = self.co.scales**2
        rx = a2 * np.mean(np.real(np.diagonal(self.Hx, axis1=-2, axis2=-1)), axis=1)
        ry = a2 * np.mean(np.real(np.diagonal(self.Hy, axis1=-2, axis2=-1)), axis=1)
        return np.concatenate([self.u - rx, self.v - ry], axis=1)

    def jacobian(self) -> np.ndarray:
        """``∂F/∂(u, v)`` as ``(P, 2K, 2K)`` from ``dH = −H dD H`` and ``dH = M^{-1} dP M^{-H}``."""
        a2 = (self.co.scales**2)[None, :, None]
        K = self.co.K
        jxx = -a2 * np.mean(np.abs(self.TH @ self.MiH) ** 2, axis=1)  # (I + Q D_y)^{-1} T† = T† M^{-H}
        jxy = a2 * np.mean(np.abs(self.Hx) ** 2, axis=1)
        jyx = a2 * np.mean(np.abs(self.Hy) ** 2, axis=1)
        jyy = -a2 * np.mean(np.abs(self.Mi @ self.T) ** 2, axis=1)
        jac = np.block([[jxx, jxy], [jyx, jyy]])
        return jac + np.eye(2 * K)

    def residual_lambda_bar(self) -> np.ndarray:
        """``∂F/∂λ̄`` at fixed ``g`` (complex, ``(P, 2K)``): only ``T†`` depends on ``λ̄``."""
        a2 = self.co.scales**2
        dTH = np.conj(np.swapaxes(self.dT, -1, -2))
        MpiH = np.conj(np.swapaxes(self.Mpi, -1, -2))
        MiH = self.MiH
        dx = self.Mpi @ (dTH * self.u[:, None, None, :]) @ self.T @ MpiH
        dy = self.Mi @ (self.T * self.v[:, None, None, :]) @ dTH @ MiH
        fx = -a2 * np.mean(np.diagonal(dx, axis1=-2, axis2=-1), axis=1)
        fy = -a2 * np.mean(np.diagonal(dy, axis1=-2, axis2=-1), axis=1)
        return np.concatenate([fx, fy], axis=1)

    def green(self) -> np.ndarray:
        """Continuous part of ``G`` (atoms excluded), per eigenvalue of ``J``."""
        Z = (self.TH * self.v[:, None, :, None]) * self.u[:, None, None, :] @ self.Mi  # D_y T† D_x M^{-1}
        correction = np.einsum("Pmkl,Pmlk->Pm", Z, self.dT)
        return np.mean(self.trace_w + correction, axis=1) / self.co.n_state

    def green_derivative(self, du: np.ndarray, dv: np.ndarray, dTH: np.ndarray | None) -> np.ndarray:
        """Directional derivative of ``green`` for ``δD_x = diag(du)``, ``δD_y = diag(dv)``, ``δT† = dTH``."""
        u, v = self.u[:, None, None, :], self.v[:, None, None, :]
        du4, dv4 = du[:, None, None, :], dv[:, None, None, :]
        # Z = D_y T† K' with K' = D_x M^{-1}; dK' = dD_x M^{-1} − D_x M^{-1} (dP D_x + P dD_x) M^{-1}
        Kp = np.swapaxes(u, -1, -2) * self.Mi
        dP = (self.T * dv4) @ self.TH
        if dTH is not None:
            dP = dP + (self.T * v) @ dTH
        dK = np.swapaxes(du4, -1, -2) * self.Mi - Kp @ (dP * u + self.P * du4) @ self.Mi
        dZ = np.swapaxes(dv4, -1, -2) * (self.TH @ Kp) + np.swapaxes(v, -1, -2) * (self.TH @ dK)
        if dTH is not None:
            dZ = dZ + np.swapaxes(v, -1, -2) * (dTH @ Kp)
        return np.mean(np.einsum("Pmkl,Pmlk->Pm", dZ, self.dT), axis=1) / self.co.n_state

    def perron(self) -> np.ndarray:
        """``ρ(L(λ))`` with ``L_kl = a_k² E|T_kl|²`` (the existing edge function)."""
        return _perron(self.L())

    def L(self) -> np.ndarray:
        return (self.co.scales**2)[None, :, None] * np.mean(np.abs(self.T) ** 2, axis=1)


def _inverse_identity_plus(X: np.ndarray) -> np.ndarray:
    """``(I + X)^{-1}`` for a stack of small ``K × K`` matrices, by Gauss–Jordan over the stack.

    ``X = P D`` with ``P`` Hermitian PSD and ``D ≥ 0`` diagonal: ``I + X`` is similar to the
    positive definite ``I + D^{1/2} P D^{1/2}``, and so is each leading block, so elimination
    needs no pivoting.  Vectorised over the stack it beats LAPACK's per-matrix calls ~10×.
    """
    K = X.shape[-1]
    if K == 1:
        return 1.0 / (1.0 + X)
    # elimination on lists of contiguous (stack-shaped) entries: no strided 4-d slicing, no copy
    rows = [
        [(1.0 if i == j else 0.0) + X[..., i, j] for j in range(K)] + [float(i == j) for j in range(K)]
        for i in range(K)
    ]
    for k in range(K):
        pivot = 1.0 / rows[k][k]
        rows[k] = [entry * pivot for entry in rows[k]]
        for i in range(K):
            if i != k:
                factor = rows[i][k]
                rows[i] = [e_i - factor * e_k for e_i, e_k in zip(rows[i], rows[k], strict=True)]
    return np.stack([np.stack(np.broadcast_arrays(*row[K:]), -1) for row in rows], -2)


def _perron(L: np.ndarray) -> np.ndarray:
    if L.shape[-1] == 1:
        return L[..., 0, 0]
    return np.max(np.abs(np.linalg.eigvals(L)), axis=-1)


def chunk_size(co: DysonCoefficients) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, co.size * co.K * co.K * max(1, co.poles.shape[1])))
