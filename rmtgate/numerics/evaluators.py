"""Evaluators of ``L(λ)`` and ``ρ(L(λ))`` over a sample (registry :data:`EVALUATORS`).

``"numpy"``: exact pole–residue form ``T(λ) = Σ_p R_p/(λ − μ_p) + C_f``, sample averages as
BLAS products of λ-kernels; ``"numpy-direct"``: ``T_kl(λ) T_kl(λ̄)`` lambdified as written (the
reference); ``"mpmath"``: the same at an explicit ``dps`` (inside ``mpmath.workdps``).
Large samples with one real pole each are summed through binned moments
(:mod:`rmtgate.numerics.pole_compression`).

Why this module is long: the three evaluators share one setup (parameter checks, argument
vectors, the variance scales) and one contraction interface that the curve finder, the
Dyson solver and the density call; apart, each would repeat it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mpmath
import numpy as np
import sympy

from rmtgate.errors import ParameterError, StateError, expected
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.pole_compression import CompressedPoles, real_pole_sums
from rmtgate.numerics.precision import (
    extreme_samples,
    nonfinite_error,
    precision_label,
    resolving_dps,
    shifted_blocks,
)
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.boundary import LAMBDA_BAR, Boundary
from rmtgate.symbolic.linearization import LAMBDA
from rmtgate.validation import check_integer

_WORKERS = max(1, min(4, os.cpu_count() or 1))

# ------------------------------------------------------------------------------ evaluators


def _perron_root(L: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Largest |eigenvalue| of each ``K × K`` matrix in a batch (equals the Perron root: L ≥ 0).

    ``+inf`` entries (λ on a weighted pole) give ``ρ = inf``; NaN is a typed error naming the
    parameters, never a ``LinAlgError`` from ``eigvals``.
    """
    if np.isnan(L).any():
        raise nonfinite_error("L(λ)", params)
    if L.shape[-1] == 1:
        return L[..., 0, 0]
    infinite = np.isinf(L).any(axis=(-2, -1))
    rho = np.max(np.abs(np.linalg.eigvals(np.where(np.isinf(L), 0.0, L))), axis=-1)
    return np.where(infinite, np.inf, rho)


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
        # a_k² beyond the double range (a_k > 1e154) would surface later as a LinAlgError on inf/NaN
        with np.errstate(over="ignore"):
            squares = self.scales**2
        if not np.all(np.isfinite(squares)):
            names = {s.name for f in bnd.linearization.fields for s in f.variance.free_symbols}
            raise nonfinite_error("L(λ)", {k: v for k, v in self.params.items() if k in names})

    dps: int | None = None  # mpmath digits behind the coefficients (None: double)
    origin: float = 0.0  # λ-coordinates of poles and offsets are relative to this point
    origin_exact: Any = 0.0  # the origin to every digit of ``dps`` (an ``mpf`` on the mpmath path)

    @property
    def precision(self) -> str:
        """``"double"`` or ``"mpmath(dps=N)"``."""
        return precision_label(self.dps)

    def _argument_values(self) -> list[Any]:
        values = [self.sample.values[s.name] for s in self.local_args]
        values += [self.sample.values.get(p.name, self.params[p.name]) for p in self.param_args]
        return values

    def spectral_function(self, lam: Any) -> np.ndarray:
        """``ρ(L(λ))`` for an array of ``λ``."""
        return _perron_root(self.L(lam), self.params)

    def spectral_offset(self, center: float, offsets: Any) -> np.ndarray:
        """``ρ(L(origin + center + z))`` for offsets ``z``, without forming ``origin + center + z``.

        The curve finder works in these coordinates so that a support of radius ``r`` is
        resolved to double precision in ``r``, however far it sits from 0.
        """
        return self.spectral_function(self.origin + center + np.asarray(offsets, dtype=complex))

    def L(self, lam: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _decompose(a_ss: np.ndarray, a_sf: np.ndarray, c_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poles ``μ_p`` (m, n) and residues ``R_p`` (m, n, K, K) of ``C_s (λ − A_ss)^{-1} A_sf``."""
    if a_ss.shape[1] == 1:
        residues = (c_s[:, :, 0][:, :, None] * a_sf[:, 0, :][:, None, :])[:, None, :, :]
        return a_ss[:, :, 0], residues
    poles, vectors = np.linalg.eig(a_ss)
    left = np.linalg.solve(vectors, a_sf)  # V^{-1} A_sf, shape (m, n, K)
    right = np.einsum("mkn,mnp->mkp", c_s, vectors)  # C_s V, shape (m, K, n)
    return poles, np.einsum("mkp,mpl->mpkl", right, left)


class NumpyEvaluator(_Base):
    """Exact pole–residue evaluation of ``L(λ)`` (see module docstring).

    Poles are stored relative to ``origin`` (``self.poles`` holds ``μ_p − origin``): 0 on the
    double path; on the mpmath path (``dps`` set, or chosen automatically when the double
    coefficients cancel — see :mod:`rmtgate.numerics.precision`) the coefficients are
    computed in mpmath, the pole block is shifted by ``origin`` there, and only then rounded.
    """

    chunk_elements = 250_000
    compressed_chunk_elements = 1 << 18

    def __init__(
        self,
        bnd: Boundary,
        sample: LocalSample,
        params: Mapping[str, Any],
        *,
        dps: int | None = None,
        auto: bool = True,
    ) -> None:
        super().__init__(bnd, sample, params)
        lin = bnd.linearization
        n = lin.n_state
        args = (*self.local_args, *self.param_args)
        m = sample.size
        values = self._argument_values()
        matrices = (lin.A[:n, :n], lin.A[:n, n:], lin.C[:, :n], lin.C[:, n:])
        shapes = [(M.rows, M.cols) for M in matrices]

        def compiled(matrix: sympy.Matrix) -> np.ndarray:
            if matrix.rows == 0 or matrix.cols == 0:
                return np.zeros((m, 0))
            fn = lambdify_local(args, tuple(matrix), "numpy")
            flat = [np.broadcast_to(np.asarray(v, dtype=float), (m,)) for v in fn(*values)]
            return np.stack(flat, axis=-1)

        with np.errstate(all="ignore"):
            blocks = [compiled(M) for M in matrices]
        if not all(np.all(np.isfinite(b)) for b in blocks):
            raise nonfinite_error("L(λ)", self.params, self.sample.values)
        mp_functions = [lambdify_local(args, tuple(M), "mpmath") if M.rows and M.cols else None for M in matrices]
        if dps is None and auto:
            dps = resolving_dps(mp_functions, values, extreme_samples(values, m), blocks)
        elif dps is not None:
            dps = check_integer(dps, "dps", 15)
        self.dps = dps
        self.origin = self.origin_exact = 0.0
        if dps is not None:
            # the origin: the residue-weighted mean pole of the double path, moved by
            # shifted_blocks onto the exact pole next to it (kept as origin_exact)
            poles, residues = _decompose(*[b.reshape(m, *s) for b, s in zip(blocks[:3], shapes[:3], strict=True)])
            weights = np.sum(np.abs(residues) ** 2, axis=(2, 3))
            real = np.real(poles)
            mean = float(np.sum(weights * real) / np.sum(weights)) if np.sum(weights) > 0 else float(np.mean(real))
            blocks, self.origin_exact = shifted_blocks(mp_functions, values, m, dps, mean, n, shapes)
            self.origin = float(self.origin_exact)
        a_ss, a_sf, c_s, self.c_f = (b.reshape(m, *s) for b, s in zip(blocks, shapes, strict=True))
        self.poles, residues = _decompose(a_ss, a_sf, c_s)
        # every eigenvalue of the deterministic part, silent or not: the support when L ≡ 0
        self.all_poles = self.poles.copy()
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
        if not all(np.all(np.isfinite(w)) for w in self.entry_weights):
            raise nonfinite_error("L(λ)", self.params, self.sample.values)
        self._shifts: dict[float, np.ndarray] = {}
        # one real pole per sample: a large sample is summed through binned moments (see
        # rmtgate.numerics.pole_compression), so it costs about as much as a small one
        self.entry_compressed: CompressedPoles | None = None
        self.trace_compressed: CompressedPoles | None = None
        if self.real and self.poles.shape[1] == 1 and dps is None:
            both = CompressedPoles.build(
                self.poles[:, 0],
                np.concatenate([self.entry_weights[0], self.trace_weights[0]], axis=1),
                np.concatenate([self.entry_weights[1], self.trace_weights[1]], axis=1),
            )
            if both is not None:
                n_entries = self.active.size
                self.entry_compressed = both.columns(np.arange(n_entries))
                self.trace_compressed = both.columns([n_entries])

    @property
    def identically_zero(self) -> bool:
        """``L ≡ 0``: no random part reaches the state; the spectrum is the poles themselves."""
        return self.active.size == 0

    @property
    def pole_bound(self) -> float:
        finite = np.abs(self.poles)[np.abs(self.poles) < 1e100]
        return float(np.max(finite)) if finite.size else 0.0

    def L(self, lam: Any) -> np.ndarray:
        lam = np.asarray(lam, dtype=complex)
        return self._L(lam - self.origin, 0.0)

    def _L(self, offsets: np.ndarray, center: float) -> np.ndarray:
        out = np.zeros((offsets.size, self.k * self.k))
        out[:, self.active] = self._contract(offsets.reshape(-1), self.entry_weights, center, self.entry_compressed)
        return np.maximum(out, 0.0).reshape(*offsets.shape, self.k, self.k)

    def spectral_function(self, lam: Any) -> np.ndarray:
        return self.spectral_offset(0.0, np.asarray(lam, dtype=complex) - self.origin)

    def spectral_offset(self, center: float, offsets: Any) -> np.ndarray:
        offsets = np.asarray(offsets, dtype=complex)
        if not self.rank_one:
            return _perron_root(self._L(offsets, center), self.params)
        rho = self._contract(offsets.reshape(-1), self.trace_weights, center, self.trace_compressed)[:, 0]
        if np.isnan(rho).any():
            raise nonfinite_error("L(λ)", self.params, self.sample.values)
        return np.maximum(rho, 0.0).reshape(offsets.shape)

    def _shift(self, center: float) -> np.ndarray:
        """``center − μ_p`` (flat), cached: the kernels see ``z + (center − μ_p)``."""
        if center not in self._shifts:
            if len(self._shifts) > 8:
                self._shifts.clear()
            self._shifts[center] = center - self.poles.reshape(-1)
        return self._shifts[center]

    def _contract(
        self,
        flat: np.ndarray,
        weights: tuple[np.ndarray, np.ndarray, np.ndarray],
        center: float = 0.0,
        compressed: CompressedPoles | None = None,
    ) -> np.ndarray:
        """Σ over samples of λ-kernels times ``weights`` (columns), chunked over λ on threads.

        ``compressed``: the same weights binned (:mod:`rmtgate.numerics.pole_compression`), used
        instead of the samples when given.
        """
        out = np.zeros((flat.size, weights[2].size))
        if compressed is not None:
            step = max(1, self.compressed_chunk_elements // compressed.bins)

            def work(part: slice) -> None:
                out[part] = compressed.sums(flat[part] + center) + weights[2]

        else:
            shift = self._shift(center)
            step = max(1, self.chunk_elements // max(1, self.poles.size * self.poles.shape[1]))

            def work(part: slice) -> None:
                out[part] = self._chunk(flat[part], weights, shift)

        chunks = [slice(start, start + step) for start in range(0, flat.size, step)]

        if len(chunks) > 1:
            # numpy releases the GIL in ufuncs and BLAS: chunks run in parallel on the cores
            with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
                list(pool.map(work, chunks))
        else:
            for part in chunks:
                work(part)
        return out

    def _chunk(
        self, z: np.ndarray, weights: tuple[np.ndarray, np.ndarray, np.ndarray], shift: np.ndarray
    ) -> np.ndarray:
        w_quad, w_lin, w_const = weights
        n_poles = self.poles.shape[1]
        if self.real and n_poles == 1:
            return real_pole_sums(z.real[:, None] + shift[None, :], (z.imag**2)[:, None], w_quad, w_lin) + w_const
        gap = z[:, None] + shift[None, :]
        # |gap| below 1e-150 (λ on a pole) is clamped so that |k1|² stays finite and 0·∞ cannot occur
        k1 = (1.0 / np.where(np.abs(gap) < 1e-150, 1e-150, gap)).reshape(z.size, -1, n_poles)
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
        dps = check_integer(dps, "dps", 15)
        self.dps = dps
        super().__init__(bnd, sample, params)

    def L_mp(self, lam: Any) -> Any:
        """``L(λ)`` as an mpmath matrix for one (mpmath or Python) complex ``λ``."""

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
