"""curves: from the former rmtgate/spectrum.py (see the package docstring)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError, ParameterError, StateError, expected
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.evaluators import DirectEvaluator, _Base, evaluator
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.symbolic.boundary import Boundary, boundary

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

    Args:
        ev: an evaluator of ``ρ(L(λ))`` (:func:`rmtgate.numerics.evaluators.evaluator`).
        n_angles: number of rays over the full circle (at least 4).
        n_scan: linear radial scan points on a fully scanned ray.
        coarse_rays: rays that get a full scan before the others are interpolated.
        rtol: root tolerance, relative to the scan radius.
        max_iterations: Illinois iterations per crossing.
        center: a real point inside the support (default: found from the evaluator).
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
    """Evaluator and spectral curve for an architecture/boundary and a sample (or ``"zero"``).

    Args:
        bnd_or_arch: an :class:`~rmtgate.Architecture` (derived on the fly) or a
            :class:`~rmtgate.symbolic.boundary.Boundary`.
        sample: the local variables ``E[·]`` averages over — a
            :class:`~rmtgate.numerics.samples.LocalSample` (from a network, the DMFT or a file)
            or ``"zero"`` for the zero fixed point.
        params: parameter values by name (dimensionless: matrix scales ``a_k``, biases ``b_k``,
            bias variances ``v_k``); every scale is required.
        n_angles: rays on which the edge is found (the curve has that many points).
        backend: ``"numpy"`` (pole–residue form) or ``"mpmath"`` (arbitrary precision).

    Returns:
        ``(evaluator, curve)``: ``evaluator.spectral_function(λ)`` is ``ρ(L(λ))`` and
        ``curve`` a :class:`SpectralCurve` (``curve.spectral_radius``, ``curve.outer``).

    Raises:
        ParameterError: missing or invalid parameters.
        StateError: a sample without every local variable, or an unknown state name.
    """
    from rmtgate.symbolic.architecture import Architecture
    from rmtgate.symbolic.derive import derive

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
    from rmtgate.symbolic.boundary import bounding_curves

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
