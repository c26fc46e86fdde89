"""evaluators: from the former rmtgate/spectrum.py (see the package docstring)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import ParameterError, StateError, expected
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.boundary import LAMBDA_BAR, Boundary
from rmtgate.symbolic.linearization import LAMBDA

_WORKERS = max(1, min(4, os.cpu_count() or 1))

# ------------------------------------------------------------------------------ evaluators


def _perron_root(L: np.ndarray) -> np.ndarray:
    """Largest |eigenvalue| of each ``K × K`` matrix in a batch (equals the Perron root: L ≥ 0)."""
    if not np.all(np.isfinite(L)):
        # overflow in a compiled formula (huge parameters or state values): a typed error here
        # instead of numpy's LinAlgError from deep inside eigvals
        raise ParameterError(expected("parameters small enough that L(λ) stays finite in float64", "L(λ)", "inf/nan"))
    if L.shape[-1] == 1:
        return L[..., 0, 0]
    return np.max(np.abs(np.linalg.eigvals(L)), axis=-1)


class _Base:
    """Common setup: parameter checks and argument vectors for compiled functions."""

    def __init__(self, bnd: Boundary, sample: LocalSample, params: Mapping[str, Any]) -> None:
        arch = bnd.architecture
        self.boundary = bnd
        self.sample = sample
        self.params = resolve_parameters(arch, {k: v for k, v in params.items() if k not in sample.values})
        required = {s.name for s in (*arch.state_symbols, *arch.local_form.field_symbols)}
        missing = sorted(required - set(sample.values))
        if missing:
            raise StateError(expected(f"a sample with every local variable {sorted(required)}", "missing", missing[0]))
        unknown = sorted(set(sample.values) - required - {p.name for p in arch.parameters})
        if unknown:
            raise StateError(
                expected(f"sample keys among local variables {sorted(required)} or parameters", "key", unknown[0])
            )
        self.local_args = (*arch.state_symbols, *arch.local_form.field_symbols)
        self.param_args = arch.parameters
        self.scales = np.array(
            [
                float(sympy.N(f.variance.xreplace({p: self.params[p.name] for p in arch.parameters})))
                for f in bnd.linearization.fields
            ]
        )

    def _argument_values(self) -> list[Any]:
        values = [self.sample.values[s.name] for s in self.local_args]
        values += [self.sample.values.get(p.name, self.params[p.name]) for p in self.param_args]
        return values

    def spectral_function(self, lam: Any) -> np.ndarray:
        """``ρ(L(λ))`` for an array of ``λ``."""
        return _perron_root(self.L(lam))

    def L(self, lam: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class NumpyEvaluator(_Base):
    """Exact pole–residue evaluation of ``L(λ)`` (see module docstring)."""

    chunk_elements = 250_000

    def __init__(self, bnd: Boundary, sample: LocalSample, params: Mapping[str, Any]) -> None:
        super().__init__(bnd, sample, params)
        lin = bnd.linearization
        n = lin.n_state
        args = (*self.local_args, *self.param_args)
        m = sample.size

        def compiled(matrix: sympy.Matrix) -> np.ndarray:
            if matrix.rows == 0 or matrix.cols == 0:
                return np.zeros((m, matrix.rows, matrix.cols))
            fn = lambdify_local(args, tuple(matrix), "numpy")
            flat = [np.broadcast_to(np.asarray(v, dtype=float), (m,)) for v in fn(*self._argument_values())]
            return np.stack(flat, axis=-1).reshape(m, matrix.rows, matrix.cols)

        a_ss = compiled(lin.A[:n, :n])
        a_sf = compiled(lin.A[:n, n:])
        c_s = compiled(lin.C[:, :n])
        self.c_f = compiled(lin.C[:, n:])
        if n == 1:
            self.poles = a_ss[:, :, 0]
            residues = (c_s[:, :, 0][:, :, None] * a_sf[:, 0, :][:, None, :])[:, None, :, :]
        else:
            poles, vectors = np.linalg.eig(a_ss)
            left = np.linalg.solve(vectors, a_sf)  # V^{-1} A_sf, shape (m, n, K)
            right = np.einsum("mkn,mnp->mkp", c_s, vectors)  # C_s V, shape (m, K, n)
            residues = np.einsum("mkp,mpl->mpkl", right, left)
            self.poles = poles
        # a pole without residue contributes nothing: move it far away so it cannot meet a λ
        silent = ~np.any(residues != 0, axis=(2, 3))
        self.poles = np.where(silent, 1e150, self.poles)
        self.real = bool(np.all(np.isreal(self.poles)) and np.all(np.isreal(residues)))
        if self.real:
            self.poles = np.real(self.poles)
            residues = np.real(residues)
        self.residues = residues  # (m, n_poles, K, K)
        k = self.c_f.shape[1]
        a2 = (self.scales**2)[:, None]
        # weights: quadratic (m, p, q, K, K), linear (m, p, K, K), constant (K, K), all with a_k² and 1/m
        quad = np.einsum("mpkl,mqkl->mpqkl", residues, np.conj(residues)) * a2 / m
        self.w_quad = quad.reshape(m * self.poles.shape[1] ** 2, k * k)
        self.w_lin = (residues * self.c_f[:, None, :, :] * a2 / m).reshape(m * self.poles.shape[1], k * k)
        self.w_const = (np.mean(self.c_f**2, axis=0) * a2).reshape(k * k)
        self.k = k
        # entries of L that are identically zero (structural zeros of T) are never computed
        self.active = np.nonzero(
            np.any(self.w_quad != 0, axis=0) | np.any(self.w_lin != 0, axis=0) | (self.w_const != 0)
        )[0]
        if self.real:
            self.w_quad, self.w_lin = self.w_quad.real, self.w_lin.real
        self.entry_weights = (
            np.ascontiguousarray(self.w_quad[:, self.active]),
            np.ascontiguousarray(self.w_lin[:, self.active]),
            self.w_const[self.active],
        )
        # rank one: ρ(L) = tr L, so one contracted column replaces the K² entries and eigvals
        diagonal = [kk * (k + 1) for kk in range(k)]
        self.trace_weights = (
            self.w_quad[:, diagonal].sum(axis=1, keepdims=True),
            self.w_lin[:, diagonal].sum(axis=1, keepdims=True),
            self.w_const[diagonal].sum(keepdims=True),
        )
        self.rank_one = bnd.form == "rank-one"

    @property
    def pole_bound(self) -> float:
        finite = np.abs(self.poles)[np.abs(self.poles) < 1e100]
        return float(np.max(finite)) if finite.size else 0.0

    def L(self, lam: Any) -> np.ndarray:
        lam = np.asarray(lam, dtype=complex)
        out = np.zeros((lam.size, self.k * self.k))
        out[:, self.active] = self._contract(lam.reshape(-1), self.entry_weights)
        return np.maximum(out, 0.0).reshape(*lam.shape, self.k, self.k)

    def spectral_function(self, lam: Any) -> np.ndarray:
        if not self.rank_one:
            return super().spectral_function(lam)
        lam = np.asarray(lam, dtype=complex)
        return np.maximum(self._contract(lam.reshape(-1), self.trace_weights)[:, 0], 0.0).reshape(lam.shape)

    def _contract(self, flat: np.ndarray, weights: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Σ over samples of λ-kernels times ``weights`` (columns), chunked over λ on threads."""
        out = np.zeros((flat.size, weights[2].size))
        step = max(1, self.chunk_elements // max(1, self.poles.size * self.poles.shape[1]))
        chunks = [slice(start, start + step) for start in range(0, flat.size, step)]

        def work(part: slice) -> None:
            out[part] = self._chunk(flat[part], weights)

        if len(chunks) > 1:
            # numpy releases the GIL in ufuncs and BLAS: chunks run in parallel on the cores
            with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
                list(pool.map(work, chunks))
        else:
            for part in chunks:
                work(part)
        return out

    def _chunk(self, z: np.ndarray, weights: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        w_quad, w_lin, w_const = weights
        poles = self.poles.reshape(-1)  # (m·p,)
        n_poles = self.poles.shape[1]
        if self.real and n_poles == 1:
            dx = z.real[:, None] - poles[None, :]
            # λ exactly on a pole: a huge finite kernel keeps 0·∞ (zero weight) from becoming NaN
            inv_abs2 = 1.0 / np.maximum(dx * dx + (z.imag**2)[:, None], 1e-300)
            quad = inv_abs2 @ w_quad
            dx *= inv_abs2
            return quad + 2.0 * (dx @ w_lin) + w_const
        gap = z[:, None] - poles[None, :]
        k1 = (1.0 / np.where(gap == 0, 1e-150, gap)).reshape(z.size, -1, n_poles)
        quad = (k1[:, :, :, None] * np.conj(k1)[:, :, None, :]).reshape(z.size, -1) @ w_quad
        lin = k1.reshape(z.size, -1) @ w_lin
        return np.real(quad) + 2.0 * np.real(lin) + w_const


class DirectEvaluator(_Base):
    """Reference evaluation: ``a_k² mean(T_kl(λ) T_kl(λ̄))`` lambdified as written."""

    backend = "numpy"

    def __init__(
        self, bnd: Boundary, sample: LocalSample, params: Mapping[str, Any], *, squared: sympy.Matrix | None = None
    ) -> None:
        super().__init__(bnd, sample, params)
        args = (LAMBDA, LAMBDA_BAR, *self.local_args, *self.param_args)
        entries = bnd.squared if squared is None else squared
        self.k = bnd.T.rows
        self.functions: dict[tuple[int, int], Callable[..., Any]] = {
            (k, l): lambdify_local(args, entries[k, l], self.backend)
            for k in range(self.k)
            for l in range(self.k)
            if entries[k, l] != 0
        }

    def L(self, lam: Any) -> np.ndarray:
        lam = np.asarray(lam, dtype=complex)
        flat = lam.reshape(-1)
        out = np.zeros((flat.size, self.k, self.k))
        values = [np.asarray(v, dtype=float)[None, ...] for v in self._argument_values()]
        # on the real axis λ can sit exactly on a sample pole: a 1e-150 imaginary nudge keeps a
        # zero-weight pole from giving 0/0 while a weighted one still gives a huge value
        z = np.where(flat.imag == 0, flat + 1e-150j, flat)[:, None]
        for (k, l), fn in self.functions.items():
            entries = fn(z, np.conj(z), *values)
            out[:, k, l] = self.scales[k] ** 2 * np.mean(
                np.real(np.broadcast_to(entries, (flat.size, self.sample.size))), axis=1
            )
        return out.reshape(*lam.shape, self.k, self.k)


class MpmathEvaluator(DirectEvaluator):
    """The lambdified formula in mpmath at ``dps`` decimal digits (for one λ at a time)."""

    backend = "mpmath"

    def __init__(self, bnd: Boundary, sample: LocalSample, params: Mapping[str, Any], *, dps: int = 30) -> None:
        if not isinstance(dps, int) or isinstance(dps, bool) or dps < 15:
            raise ParameterError(expected("an integer precision dps >= 15", "dps", dps))
        self.dps = dps
        super().__init__(bnd, sample, params)

    def L_mp(self, lam: Any) -> Any:
        """``L(λ)`` as an mpmath matrix for one (mpmath or Python) complex ``λ``."""
        import mpmath

        with mpmath.workdps(self.dps):
            z = mpmath.mpc(lam)
            values = [
                [mpmath.mpf(float(x)) if not isinstance(x, mpmath.mpf) else x for x in np.atleast_1d(v)]
                for v in self._argument_values()
            ]
            m = self.sample.size
            columns = [v if len(v) == m else v * m for v in values]
            result = mpmath.zeros(self.k, self.k)
            for (k, l), fn in self.functions.items():
                total = mpmath.mpf(0)
                for j in range(m):
                    total += mpmath.re(fn(z, mpmath.conj(z), *[c[j] for c in columns]))
                result[k, l] = mpmath.mpf(self.scales[k]) ** 2 * total / m
            return result

    def L(self, lam: Any) -> np.ndarray:
        lam = np.asarray(lam, dtype=complex)
        flat = lam.reshape(-1)
        out = np.array([np.array(self.L_mp(z).tolist(), dtype=float) for z in flat])
        return out.reshape(*lam.shape, self.k, self.k)

    def spectral_function_mp(self, lam: Any) -> Any:
        import mpmath

        with mpmath.workdps(self.dps):
            matrix = self.L_mp(lam)
            if self.k == 1:
                return matrix[0, 0]
            eigenvalues = mpmath.eig(matrix, left=False, right=False)
            return max(abs(e) for e in eigenvalues)


EVALUATORS: dict[str, Callable[..., _Base]] = {
    "numpy": NumpyEvaluator,
    "numpy-direct": DirectEvaluator,
    "mpmath": MpmathEvaluator,
}


def evaluator(
    bnd: Boundary, sample: LocalSample, params: Mapping[str, Any], *, backend: str = "numpy", **options: Any
) -> _Base:
    try:
        factory = EVALUATORS[backend]
    except KeyError:
        raise ParameterError(expected(f"one of {sorted(EVALUATORS)}", "backend", backend)) from None
    return factory(bnd, sample, params, **options)
