"""The spectral curve ``ρ(L(λ)) = 1``: rays from a centre, every crossing, the spectral radius.

:func:`spectral_curve` finds the edge for any evaluator; :func:`theory` chains derivation,
sample and curve; :func:`contains` tests membership; :func:`bounding_evaluators` gives the
bounding sets of [G 88-90].

Why this module is long: the curve finder's scan, bracket prediction, thin-support probe and
point-support exit share one coordinate system (offsets from the centre) and must change together.

"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import mpmath
import numpy as np

from rmtgate.errors import StateError, expected
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.evaluators import DirectEvaluator, NumpyEvaluator, _Base, evaluator
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.precision import THIN, decimal, dps_for_scale, mp_abs
from rmtgate.numerics.rootfind import outer_radius, real_axis_edges, refine
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.symbolic.boundary import Boundary, boundary
from rmtgate.validation import check_integer

# ------------------------------------------------------------------------------ curves


@dataclass(frozen=True)
class SpectralCurve:
    """The edge ``ρ(L(λ)) = 1`` found along rays ``λ = center + r e^{iθ}``.

    ``crossings[j]`` lists every radius (from ``center``) where ``ρ − 1`` changes sign on the
    ray at angle ``angles[j]``, innermost first: a non-star-shaped or pinched support shows
    up as several crossings on one ray.  ``outer`` is the outermost crossing per ray (the
    curve bounding the support from outside) and ``points`` every crossing.  The center is
    a point inside the support (on the real axis: the spectrum is conjugate-symmetric).

    ``support`` is ``"region"``, or ``"point"``/``"points"`` when the random part vanishes
    (``L ≡ 0``, e.g. ``a_h = 0``) or the support is below any resolvable size: then
    ``point_offsets`` are the eigenvalues and the curve is those points.  Exact positions are
    ``origin + center_offset + r e^{iθ}`` (all doubles; the sum is formed in mpmath for
    :attr:`spectral_radius_exact`): ``center`` is that sum rounded, fine for plots but not
    for ``ρ − 1`` when the support is thin around 1.  ``precision`` says which arithmetic
    produced the coefficients (``"double"`` or ``"mpmath(dps=N)"``).
    """

    center: float
    angles: np.ndarray
    crossings: tuple[np.ndarray, ...]
    scan_radius: float
    real_axis_edges: tuple[float, ...] = ()
    precision: str = "double"
    support: str = "region"
    origin: float = 0.0
    center_offset: float = 0.0
    real_axis_offsets: tuple[float, ...] = ()
    point_offsets: tuple[complex, ...] = ()
    dps: int = 30
    #: ``origin`` to every digit (an ``mpf`` when the coefficients came from mpmath)
    origin_exact: Any = None

    @property
    def _origin(self) -> Any:
        return self.origin if self.origin_exact is None else self.origin_exact

    @property
    def points(self) -> np.ndarray:
        if self.support != "region":
            return self.origin + np.asarray(self.point_offsets, dtype=complex)
        parts = [self.center + r * np.exp(1j * a) for a, r in zip(self.angles, self.crossings, strict=True)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=complex)

    @property
    def outer(self) -> np.ndarray:
        if self.support != "region":
            return self.points
        return np.array(
            [self.center + r[-1] * np.exp(1j * a) for a, r in zip(self.angles, self.crossings, strict=True) if r.size]
        )

    @property
    def support_radius(self) -> float:
        """Largest distance from ``center`` to the edge along the rays (0 for point supports).

        Real-axis edges are left out: they include isolated eigenvalues (the ``δ(λ)`` of the
        LSTM at 0), which count for the spectral radius but not for the disk's size.
        """
        radii = [float(r[-1]) for r in self.crossings if r.size]
        return max(radii, default=0.0)

    @cached_property
    def spectral_radius_exact(self) -> Any:
        """Largest ``|λ|`` on the edge (rays, real-axis edges, points) as an mpmath number."""
        offsets = [
            self.center_offset + r[-1] * np.exp(1j * a)
            for a, r in zip(self.angles, self.crossings, strict=True)
            if r.size
        ]
        offsets += [complex(e) for e in self.real_axis_offsets] + [complex(p) for p in self.point_offsets]
        if not offsets:
            return mpmath.mpf(0)
        z = np.asarray(offsets, dtype=complex)
        rough = np.abs(self.origin + z)
        # only the candidates within rounding of the double maximum need the exact sum
        near = z[rough >= np.max(rough) * (1 - 1e-9)]
        with mpmath.workdps(self.dps):
            return max(mp_abs(self._origin, near, self.dps))

    @property
    def spectral_radius(self) -> float:
        """Largest ``|λ|`` on the edge (rays and the real-axis edges), rounded to a double."""
        return float(self.spectral_radius_exact)

    def spectral_radius_minus_one(self, digits: int = 17) -> str:
        """``ρ − 1`` as a decimal string (``ρ − 1 ~ e^{−c a_z}`` is below double resolution near 1)."""
        with mpmath.workdps(self.dps):
            return decimal(self.spectral_radius_exact - 1, digits)

    def center_decimal(self, digits: int | None = None) -> str:
        """The centre ``origin + center_offset`` as a decimal string.

        By default with enough digits to tell the support's radius apart from the centre.
        """
        if digits is None:
            ratio = self.support_radius / abs(self.center) if self.center else 1.0
            digits = 17 + (max(0, math.ceil(-math.log10(ratio))) if ratio > 0 else 0)
        with mpmath.workdps(max(self.dps, digits + 5)):
            return decimal(mpmath.mpf(self._origin) + mpmath.mpf(self.center_offset), digits)

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

    Everything runs in offsets from the centre (``ev.spectral_offset``), so a thin support is
    resolved relative to its own size: when the scan from the outer radius sees no edge, a
    decade-by-decade probe towards the centre finds the support's scale and the scan restarts
    there.  A support thinner than ``THIN`` of its centre's modulus on a double evaluator is
    recomputed from mpmath coefficients (``dps`` from the scale) so that the centre, and
    ``ρ − 1``, carry every digit.  ``L ≡ 0`` (or no edge down to 1e-300 of the scale) gives a
    point support.  ``center`` is an offset from ``ev.origin``.

    Args:
        ev: an evaluator of ``ρ(L(λ))`` (:func:`rmtgate.numerics.evaluators.evaluator`).
        n_angles: number of rays over the full circle (at least 4).
        n_scan: linear radial scan points on a fully scanned ray.
        coarse_rays: rays that get a full scan before the others are interpolated.
        rtol: root tolerance, relative to the scan radius.
        max_iterations: Illinois iterations per crossing.
        center: a real point inside the support (default: found from the evaluator).
    """
    n_angles = check_integer(n_angles, "n_angles", 4)
    half = (n_angles + 1) // 2
    # angles avoid the real axis, where a finite sample puts the poles of L
    upper = np.pi * (np.arange(half) + 0.5) / half
    angles = np.concatenate([upper, -upper[::-1]])
    phases = np.exp(1j * upper)
    dps = ev.dps or 30
    if getattr(ev, "identically_zero", False):
        if ev.dps is None and isinstance(ev, NumpyEvaluator):
            # the points are the whole answer: give them every digit (σ(b) near 1 included)
            ev = NumpyEvaluator(ev.boundary, ev.sample, ev.params, dps=30)
        return _point_curve(ev, angles, None)
    c = _center(ev) if center is None else float(center)
    r_max = outer_radius(ev, c, upper[:: max(1, half // 32)])

    def f(r: np.ndarray, rays: np.ndarray) -> np.ndarray:
        return ev.spectral_offset(c, r * phases[rays]) - 1.0

    coarse = np.unique(np.append(np.arange(0, half, max(1, half // coarse_rays)), half - 1))
    rescaled = False
    while True:
        # linear spacing finds edges far out; the geometric part resolves small supports near the center
        radii = r_max * np.union1d(np.arange(1, n_scan + 1) / n_scan, np.geomspace(1e-7, 1.0 / n_scan, n_scan // 3))
        coarse_values = f(radii[None, :], coarse[:, None])
        if not rescaled and np.all(coarse_values < 0):
            rescaled = True
            inner = _inner_scale(f, coarse, r_max)
            if inner is None:
                if ev.dps is None and isinstance(ev, NumpyEvaluator):
                    # a point: its position is the whole answer, so from mpmath coefficients
                    return spectral_curve(NumpyEvaluator(ev.boundary, ev.sample, ev.params, dps=30), n_angles=n_angles)
                return _point_curve(ev, angles, c)
            r_max = inner
            continue
        if np.all(coarse_values[:, -1] < 0):
            break
        r_max *= 2.0  # a ray the coarse search did not see reaches further out

    def scan_brackets(rays: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
        row, index = np.nonzero(np.sign(values[:, :-1]) != np.sign(values[:, 1:]))
        return [rays[row], radii[index], radii[index + 1], values[row, index], values[row, index + 1]]

    brackets = scan_brackets(coarse, coarse_values)
    # rtol is relative to the outermost edge seen, not to r_max: a disk far smaller than the
    # pole scale (radius 1e-5 around 1) would otherwise be refined to only a few digits
    tolerance = rtol * (float(np.max(brackets[2])) if brackets[2].size else r_max)
    coarse_roots = refine(f, brackets, tolerance, max_iterations)
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
    rest_roots = refine(f, rest, tolerance, max_iterations)
    for j in np.unique(rest[0]):
        crossings[int(j)] = np.sort(rest_roots[rest[0] == j])
    per_ray = [crossings.get(j, np.zeros(0)) for j in range(half)]
    real_axis = real_axis_edges(ev, c, radii, tolerance, max_iterations)
    curve = SpectralCurve(
        ev.origin + c,
        angles,
        tuple(per_ray + per_ray[::-1]),
        r_max,
        tuple(ev.origin + e for e in real_axis),
        precision=ev.precision,
        origin=ev.origin,
        origin_exact=ev.origin_exact,
        center_offset=c,
        real_axis_offsets=real_axis,
        dps=dps,
    )
    absolute = abs(ev.origin + c)
    if isinstance(ev, NumpyEvaluator) and absolute > 0 and curve.support_radius > 0:
        needed = dps_for_scale(curve.support_radius, absolute)
        # thin around a non-zero centre: recompute with the centre exact (mpmath coefficients);
        # an mpmath curve whose support came out thinner than its digits resolve goes again
        # with enough (GRU a_h = 1, b_z = 36.1, b_r = -26: radius 1.1e-27 at 30 digits was
        # 1.4e-6 off)
        thin = ev.dps is None and curve.support_radius < THIN * absolute
        if thin or (ev.dps is not None and needed > ev.dps):
            finer = NumpyEvaluator(ev.boundary, ev.sample, ev.params, dps=needed)
            return spectral_curve(
                finer,
                n_angles=n_angles,
                n_scan=n_scan,
                coarse_rays=coarse_rays,
                rtol=rtol,
                max_iterations=max_iterations,
            )
    return curve


def _inner_scale(f: Callable[[np.ndarray, np.ndarray], np.ndarray], rays: np.ndarray, r_max: float) -> float | None:
    """Ten times the largest radius ``r_max·10^{-k}`` (k ≤ 300) where some ray is inside, or None."""
    probes = r_max * 10.0 ** -np.arange(7, 301, dtype=float)
    probes = probes[probes > 0]
    inside = np.any(f(probes[None, :], rays[:, None]) >= 0, axis=0)
    if not np.any(inside):
        return None
    return float(10.0 * probes[np.argmax(inside)])


def _point_curve(ev: _Base, angles: np.ndarray, center: float | None) -> SpectralCurve:
    """The support when ``L ≡ 0`` (the eigenvalues are the poles) or too small to resolve.

    ``center`` given: a single point there; otherwise every distinct eigenvalue of the
    deterministic part (``ev.all_poles``, offsets from ``ev.origin``).
    """
    if center is None:
        poles = np.asarray(getattr(ev, "all_poles", np.zeros(1)), dtype=complex).reshape(-1)
        points = tuple(complex(p) for p in np.unique(np.round(poles, 300)))
    else:
        points = (complex(center),)
    main = max(points, key=lambda p: abs(ev.origin + p))
    return SpectralCurve(
        ev.origin + main.real,
        angles,
        tuple(np.zeros(0) for _ in angles),
        0.0,
        precision=ev.precision,
        support="point" if len(points) == 1 else "points",
        origin=ev.origin,
        origin_exact=ev.origin_exact,
        center_offset=main.real,
        point_offsets=points,
        dps=ev.dps or 30,
    )


def _center(ev: _Base) -> float:
    """A real point inside the support: the residue-weighted mean of the poles, else the
    heaviest real pole (ρ → ∞ there, so it is inside however thin the support), else 0.

    The mean alone fails for a thin disk next to a pole whose residue is rounding noise of
    comparable weight (LSTM zero state with σ(b_o) ≈ 1e-18): it lands outside the disk.
    """
    poles = getattr(ev, "poles", None)
    candidates = [0.0]
    if poles is not None and poles.size:
        weights = np.sum(np.abs(ev.residues) ** 2, axis=(2, 3))
        # weights at rounding level of the largest (eig noise, |R|² ~ 1e-32 relative) would pull
        # the mean off a thin disk's centre by more than its radius: they count as zero
        weights = np.where(weights < 1e-24 * np.max(weights, initial=0.0), 0.0, weights)
        if np.sum(weights) > 0:
            real = np.abs(np.imag(poles)) == 0
            if np.any(real & (weights > 0)):
                candidates.insert(0, float(np.real(poles[real][np.argmax(weights[real])])))
            candidates.insert(0, float(np.sum(weights * np.real(poles)) / np.sum(weights)))
    # ρ just off the real axis at c: a probe far below any support we resolve (1e-300 scale)
    probe = 1e-120 * max(1.0, getattr(ev, "pole_bound", 1.0))
    for c in candidates:
        if ev.spectral_offset(c, np.array([1j * probe]))[0] >= 1.0:
            return c
    return candidates[0]


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
