"""Numbers from the boundary: ``L(λ)``, ``ρ(L(λ))``, the spectral curve and radius.

The expectations in ``L_kl(λ) = a_k² E[|T_kl(λ)|²]`` are averages over a *sample* of local
variables (:class:`LocalSample`): the per-neuron state and fields of a network, or a
closed-form state such as the zero fixed point (one sample).

Evaluators (a small registry, :data:`EVALUATORS`):

* ``"numpy"`` — fast and exact: the coefficients of the linearization (``A``, ``C``) are
  compiled with ``lambdify(cse=True)``; per sample ``T(λ) = Σ_p R_p/(λ − μ_p) + C_f`` with
  ``μ_p`` the eigenvalues of the state block of ``A`` and residues ``R_p``.  The sample
  average then becomes a matrix product of λ-kernels with per-sample weights (BLAS).
* ``"numpy-direct"`` — the reference: ``|T_kl|² = T_kl(λ) T_kl(λ̄)`` lambdified as written.
* ``"mpmath"`` — the same lambdified formula in mpmath at an explicit ``dps`` (precision
  is an argument, never global state: evaluated inside ``mpmath.workdps``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .boundary import LAMBDA_BAR, Boundary, boundary
from .compile import lambdify_local
from .errors import ConvergenceError, ParameterError, StateError, expected
from .linearization import LAMBDA
from .parameters import resolve_parameters

_WORKERS = max(1, min(4, os.cpu_count() or 1))

# ------------------------------------------------------------------------------ samples


@dataclass(frozen=True)
class LocalSample:
    """Per-neuron values of local variables: name → 1-D array (all the same length).

    Keys are state names (the state the step starts from) and field names (``eta_k``);
    per-neuron parameter arrays (random biases) may be included and override scalars.
    """

    values: Mapping[str, np.ndarray]
    source: str = "sample"

    @property
    def size(self) -> int:
        return len(next(iter(self.values.values())))

    @classmethod
    def from_arrays(cls, values: Mapping[str, Any], *, source: str = "sample") -> LocalSample:
        if not values:
            raise StateError(expected("a non-empty sample of local variables", "sample", dict(values)))
        arrays: dict[str, np.ndarray] = {}
        shape = None
        for name, raw in values.items():
            try:
                array = np.asarray(raw, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                raise StateError(expected(f"a real array for {name}", name, raw)) from None
            if array.size == 0:
                raise StateError(expected(f"at least one value for {name}", name, raw))
            if shape is not None and array.shape != shape:
                raise StateError(
                    expected(f"{name} with {shape[0]} values like the others", name, f"{array.size} values")
                )
            if not np.all(np.isfinite(array)):
                raise StateError(expected(f"finite values for {name}", name, "array with NaN/inf"))
            shape = array.shape
            arrays[name] = array
        return cls(arrays, source)

    @classmethod
    def load(cls, path: str) -> LocalSample:
        """Read an ``.npz`` file whose arrays are named like the local variables."""
        try:
            with np.load(path) as data:
                return cls.from_arrays({k: data[k] for k in data.files}, source=str(path))
        except (OSError, ValueError) as err:
            raise StateError(
                expected("a readable .npz file of per-neuron arrays", "state", str(path)) + f" ({err})"
            ) from None


def zero_state(bnd: Boundary, params: Mapping[str, float]) -> LocalSample:
    """The zero state (every state variable 0) as a one-point sample, checked to be a fixed point.

    At ``s = 0`` each field is ``U_k u_k(0)``; this is a closed-form (constant) state only if
    every presynaptic vector vanishes there, and it is a fixed point only if ``F(0, 0) = 0``.
    """
    arch = bnd.architecture
    form = arch.local_form
    subs: dict[sympy.Symbol, Any] = {s: 0 for s in form.state}
    subs.update({sympy.Symbol(n, real=True): v for n, v in params.items()})
    subs.update({p: params[p.name] for p in arch.parameters if p.name in params})
    for fld in form.fields:
        subs[fld.symbol] = 0
    for fld in form.fields:
        value = float(sympy.N(fld.input.xreplace(subs)))
        if abs(value) > 1e-14:
            raise StateError(
                expected(f"presynaptic vector of {fld.matrix} to vanish at the zero state", fld.matrix, value)
            )
    for name, new in zip(arch.state, form.new_state, strict=True):
        value = float(sympy.N(new.xreplace(subs)))
        if abs(value) > 1e-14:
            raise StateError(
                expected(
                    f"the zero state to be a fixed point ({name}' = 0); set the biases accordingly", f"{name}'", value
                )
            )
    return LocalSample.from_arrays(
        {s: [0.0] for s in (*arch.state, *(f.symbol.name for f in form.fields))}, source="zero"
    )


# ------------------------------------------------------------------------------ evaluators


def _perron_root(L: np.ndarray) -> np.ndarray:
    """Largest |eigenvalue| of each ``K × K`` matrix in a batch (equals the Perron root: L ≥ 0)."""
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


# ------------------------------------------------------------------------------ curves


@dataclass(frozen=True)
class SpectralCurve:
    """The edge ``ρ(L(λ)) = 1`` found along rays ``λ = center + r e^{iθ}``.

    ``crossings[j]`` lists every radius (from ``center``) where ``ρ − 1`` changes sign on the
    ray at angle ``angles[j]``, innermost first: a non-star-shaped or pinched support shows
    up as several crossings on one ray.  ``outer`` is the outermost crossing per ray (the
    curve bounding the support from outside) and ``points`` every crossing.  The center is
    a point inside the support (on the real axis: the spectrum is conjugate-symmetric).
    """

    center: float
    angles: np.ndarray
    crossings: tuple[np.ndarray, ...]
    scan_radius: float
    real_axis_edges: tuple[float, ...] = ()

    @property
    def points(self) -> np.ndarray:
        parts = [self.center + r * np.exp(1j * a) for a, r in zip(self.angles, self.crossings, strict=True)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=complex)

    @property
    def outer(self) -> np.ndarray:
        return np.array(
            [self.center + r[-1] * np.exp(1j * a) for a, r in zip(self.angles, self.crossings, strict=True) if r.size]
        )

    @property
    def spectral_radius(self) -> float:
        """Largest ``|λ|`` on the edge (rays and the real-axis edges)."""
        values = np.abs(np.concatenate([self.points, np.asarray(self.real_axis_edges, dtype=complex)]))
        return float(np.max(values)) if values.size else 0.0

    @property
    def multiple_crossings(self) -> int:
        """Number of rays that cross the edge more than once."""
        return int(sum(r.size > 1 for r in self.crossings))

    def to_json(self) -> list[list[float]]:
        return [[float(p.real), float(p.imag)] for p in self.outer]


def spectral_curve(
    ev: _Base,
    *,
    n_angles: int = 720,
    n_scan: int = 48,
    coarse_rays: int = 48,
    rtol: float = 1e-10,
    max_iterations: int = 100,
    center: float | None = None,
) -> SpectralCurve:
    """Every crossing of ``ρ(L(λ)) = 1`` along ``n_angles`` rays from a center in the support.

    Only the upper half-plane is computed (``L(λ̄) = L(λ)``: every local variable is real).
    On ``coarse_rays`` evenly spaced rays a full radial scan (``n_scan`` linear points plus
    geometric ones near the center) brackets every sign change of ``ρ − 1``.  On the rays in
    between, brackets are predicted by interpolating the neighbouring coarse crossings and
    accepted only if ``ρ − 1`` changes sign across each; a ray whose neighbours disagree on
    the number of crossings, or whose predicted brackets fail, gets the full scan.  All
    brackets are refined together by the Illinois variant of regula falsi to ``rtol``
    relative to the scan radius.
    """
    if isinstance(n_angles, bool) or not isinstance(n_angles, int) or n_angles < 4:
        raise ParameterError(expected("an integer number of angles >= 4", "n_angles", n_angles))
    half = (n_angles + 1) // 2
    # angles avoid the real axis, where a finite sample puts the poles of L
    upper = np.pi * (np.arange(half) + 0.5) / half
    phases = np.exp(1j * upper)
    c = _center(ev) if center is None else float(center)
    r_max = _outer_radius(ev, c, upper[:: max(1, half // 32)])

    def f(r: np.ndarray, rays: np.ndarray) -> np.ndarray:
        return ev.spectral_function(c + r * phases[rays]) - 1.0

    coarse = np.unique(np.append(np.arange(0, half, max(1, half // coarse_rays)), half - 1))
    while True:
        # linear spacing finds edges far out; the geometric part resolves small supports near the center
        radii = r_max * np.union1d(np.arange(1, n_scan + 1) / n_scan, np.geomspace(1e-7, 1.0 / n_scan, n_scan // 3))
        coarse_values = f(radii[None, :], coarse[:, None])
        if np.all(coarse_values[:, -1] < 0):
            break
        r_max *= 2.0  # a ray the coarse search did not see reaches further out
    tolerance = rtol * r_max

    def scan_brackets(rays: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
        row, index = np.nonzero(np.sign(values[:, :-1]) != np.sign(values[:, 1:]))
        return [rays[row], radii[index], radii[index + 1], values[row, index], values[row, index + 1]]

    brackets = scan_brackets(coarse, coarse_values)
    coarse_roots = _refine(f, brackets, tolerance, max_iterations)
    crossings: dict[int, np.ndarray] = {int(j): np.sort(coarse_roots[brackets[0] == j]) for j in coarse}

    # predicted brackets on the rays between coarse ones
    spacing = r_max / n_scan
    guided: list[tuple[int, float, float]] = []
    full: list[int] = []
    for left, right in itertools.pairwise(coarse):
        r_left, r_right = crossings[int(left)], crossings[int(right)]
        for j in range(int(left) + 1, int(right)):
            if r_left.size == 0 or r_left.size != r_right.size:
                full.append(j)
                continue
            t = (j - left) / (right - left)
            predicted = (1 - t) * r_left + t * r_right
            width = np.maximum(np.abs(r_right - r_left), spacing / 4)
            lo, hi = np.maximum(predicted - width, radii[0] / 2), np.minimum(predicted + width, r_max)
            if np.any(lo[1:] <= hi[:-1]):  # brackets of neighbouring crossings overlap
                full.append(j)
                continue
            guided.extend((j, a, b) for a, b in zip(lo, hi, strict=True))
    if guided:
        rays = np.array([g[0] for g in guided])
        lo = np.array([g[1] for g in guided])
        hi = np.array([g[2] for g in guided])
        f_lo, f_hi = f(lo, rays), f(hi, rays)
        failed = np.unique(rays[np.sign(f_lo) == np.sign(f_hi)])
        keep = ~np.isin(rays, failed)
        full.extend(int(j) for j in failed)
        guided_brackets = [rays[keep], lo[keep], hi[keep], f_lo[keep], f_hi[keep]]
    else:
        guided_brackets = [np.zeros(0, dtype=int)] + [np.zeros(0)] * 4
    full_rays = np.array(sorted(set(full)), dtype=int)
    if full_rays.size:
        full_brackets = scan_brackets(full_rays, f(radii[None, :], full_rays[:, None]))
        rest = [np.concatenate([a, b]) for a, b in zip(guided_brackets, full_brackets, strict=True)]
    else:
        rest = guided_brackets
    rest_roots = _refine(f, rest, tolerance, max_iterations)
    for j in np.unique(rest[0]):
        crossings[int(j)] = np.sort(rest_roots[rest[0] == j])
    per_ray = [crossings.get(j, np.zeros(0)) for j in range(half)]
    angles = np.concatenate([upper, -upper[::-1]])
    real_axis = _real_axis_edges(ev, c, radii, tolerance, max_iterations)
    return SpectralCurve(c, angles, tuple(per_ray + per_ray[::-1]), r_max, real_axis)


def _refine(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray], brackets: list[np.ndarray], tolerance: float, max_iterations: int
) -> np.ndarray:
    rays, lo, hi, f_lo, f_hi = brackets
    return _illinois(lambda r, index: f(r, rays[index]), lo, hi, f_lo, f_hi, tolerance, max_iterations)


def _real_axis_edges(
    ev: _Base, center: float, radii: np.ndarray, tolerance: float, max_iterations: int
) -> tuple[float, ...]:
    """Outermost edge on the real axis on both sides of the center.

    The rays skip the real axis (a finite sample has poles there), but the extreme points of
    a conjugate-symmetric support often lie on it; beyond the outermost pole ``ρ(L)`` is
    smooth, so the last sign change of the scan is the edge.

    A finite sample also has isolated poles beyond the bulk (a neuron whose self-coupling
    stands out); ``ρ(L)`` diverges there, so each carries a small bubble of the support, and
    the matching eigenvalue is real (seen in simulations).  The outermost poles are added to
    the scan, just past the pole, so that these bubbles are not stepped over.
    """
    edges = []
    poles = getattr(ev, "poles", None)
    residues = getattr(ev, "residues", None)
    for direction in (1.0, -1.0):
        scan = radii
        if poles is not None and residues is not None and poles.size:
            weighted = np.any(residues != 0, axis=(2, 3)) & (np.abs(np.imag(poles)) == 0) & (np.abs(poles) < 1e100)
            distances = direction * (np.real(poles[weighted]) - center)
            outer = np.sort(distances[(distances > 0) & (distances < radii[-1])])[-16:]
            scan = np.union1d(radii, outer * (1 + 1e-12) + 1e-15)
        values = ev.spectral_function(center + direction * scan + 0j) - 1.0
        radii_here = scan
        changes = np.nonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0]
        if changes.size == 0:
            continue
        i = changes[-1]
        root = _illinois(
            lambda r, index, d=direction: ev.spectral_function(center + d * r + 0j) - 1.0,
            radii_here[i : i + 1],
            radii_here[i + 1 : i + 2],
            values[i : i + 1],
            values[i + 1 : i + 2],
            tolerance,
            max_iterations,
        )
        edges.append(center + direction * float(root[0]))
    return tuple(edges)


def _center(ev: _Base) -> float:
    """A real point inside the support: the residue-weighted mean of the poles, else 0."""
    poles = getattr(ev, "poles", None)
    candidates = [0.0]
    if poles is not None and poles.size:
        weights = np.sum(np.abs(ev.residues) ** 2, axis=(2, 3))
        if np.sum(weights) > 0:
            candidates.insert(0, float(np.sum(weights * np.real(poles)) / np.sum(weights)))
    probe = 1e-9 * max(1.0, getattr(ev, "pole_bound", 1.0))
    for c in candidates:
        if ev.spectral_function(np.array([c + 1j * probe]))[0] >= 1.0:
            return c
    return candidates[0]


def _outer_radius(ev: _Base, center: float, angles: np.ndarray) -> float:
    """A radius beyond which ρ(L) < 1 on every ray (ρ → 0 at infinity: ``C_f`` is nilpotent)."""
    r = 2.0 * max(1.0, getattr(ev, "pole_bound", 1.0) + abs(center))
    for _ in range(60):
        near = ev.spectral_function(center + r * np.exp(1j * angles))
        far = ev.spectral_function(center + 2 * r * np.exp(1j * angles))
        if np.all(near < 1.0) and np.all(far < 1.0):
            return r
        r *= 2.0
    raise ConvergenceError("No radius found outside the spectral support", residual=float(r), iterations=60)


def _illinois(
    f: Callable[..., np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
    f_lo: np.ndarray,
    f_hi: np.ndarray,
    tolerance: float,
    max_iterations: int,
) -> np.ndarray:
    lo, hi, f_lo, f_hi = (np.array(x, dtype=float) for x in (lo, hi, f_lo, f_hi))
    if lo.size == 0:
        return lo
    side = np.zeros(lo.size, dtype=int)
    active = np.arange(lo.size)
    for _ in range(max_iterations):
        a_lo, a_hi, a_flo, a_fhi = lo[active], hi[active], f_lo[active], f_hi[active]
        mid = (a_lo * a_fhi - a_hi * a_flo) / (a_fhi - a_flo)
        bad = ~np.isfinite(mid) | (mid <= np.minimum(a_lo, a_hi)) | (mid >= np.maximum(a_lo, a_hi))
        mid = np.where(bad, 0.5 * (a_lo + a_hi), mid)
        f_mid = f(mid, active)
        left = np.sign(f_mid) == np.sign(a_flo)
        stale = side[active]
        # Illinois: halve the value at the end that was kept twice in a row
        lo[active] = np.where(left, mid, a_lo)
        f_lo[active] = np.where(left, f_mid, np.where(stale == -1, a_flo / 2, a_flo))
        hi[active] = np.where(~left, mid, a_hi)
        f_hi[active] = np.where(~left, f_mid, np.where(stale == 1, a_fhi / 2, a_fhi))
        side[active] = np.where(left, 1, -1)
        done = (np.abs(hi[active] - lo[active]) < tolerance) | (f_mid == 0)
        active = active[~done]
        if active.size == 0:
            break
    return np.where(np.abs(f_lo) < np.abs(f_hi), lo, hi)


def contains(ev: _Base, lam: Any) -> np.ndarray:
    """Vectorized membership ``λ ∈ Σ`` (``ρ(L(λ)) ≥ 1``)."""
    return ev.spectral_function(np.asarray(lam, dtype=complex)) >= 1.0


def theory(
    bnd_or_arch: Any,
    sample: LocalSample | str,
    params: Mapping[str, Any],
    *,
    n_angles: int = 720,
    backend: str = "numpy",
) -> tuple[_Base, SpectralCurve]:
    """Evaluator and spectral curve for an architecture/boundary and a sample (or ``"zero"``)."""
    from .architecture import Architecture
    from .derive import derive

    bnd = bnd_or_arch
    if isinstance(bnd_or_arch, Architecture):
        bnd = boundary(derive(bnd_or_arch).linearization)
    if isinstance(sample, str):
        if sample != "zero":
            raise StateError(expected("'zero' or a LocalSample", "state", sample))
        checked = resolve_parameters(bnd.architecture, params)
        sample = zero_state(bnd, checked)
    ev = evaluator(bnd, sample, params, backend=backend)
    return ev, spectral_curve(ev, n_angles=n_angles)


def bounding_evaluators(bnd: Boundary, sample: LocalSample, params: Mapping[str, Any]) -> tuple[_Base, _Base]:
    """Evaluators of the inner and outer bounding sets ``Σ(ρ,0) ⊆ Σ ⊆ Σ(ρ,ν)`` [G 88-90].

    The outer one uses ``ν² = E[X²]``, the sample mean of the squared fixed-point residual.
    Raises :class:`StateError` when the architecture has no residual factor to bound.
    """
    from .boundary import bounding_curves

    curves = bounding_curves(bnd)
    if curves is None:
        raise StateError(
            expected(
                "an architecture whose L(λ) carries a fixed-point residual factor",
                "architecture",
                bnd.architecture.name,
            )
        )
    inner = DirectEvaluator(bnd, sample, params, squared=curves.inner_squared)
    probe = DirectEvaluator(bnd, sample, params)
    residual = lambdify_local((*probe.local_args, *probe.param_args), curves.residual, "numpy")
    nu2 = float(np.mean(np.broadcast_to(residual(*probe._argument_values()), (sample.size,)) ** 2))
    outer = DirectEvaluator(bnd, sample, params, squared=curves.outer_squared.xreplace({curves.nu2: nu2}))
    return inner, outer
