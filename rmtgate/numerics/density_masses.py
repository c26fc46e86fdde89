"""Densities on grids, masses of disks and marginals, from :mod:`rmtgate.numerics.density`.

Masses come from Stokes' theorem, ``∫_D μ d²λ = (1/π) ∫_D ∂_λ̄ G = (1/2πi) ∮_∂D G dλ``: only ``G``
on the circle is needed, and ``G`` is continuous everywhere (its derivative jumps where the
circle crosses the spectral edge, where ``μ`` jumps).  The circle is therefore cut at its
crossings with the edge ``ρ(L) = 1`` (located on the existing boundary function by bracketing
and bisection) and each arc integrated by Gauss–Legendre, which converges spectrally on the
smooth pieces.  Atoms are subtracted from ``G`` and counted directly (inside if
``|location − center| < radius``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.curves import spectral_curve
from rmtgate.numerics.density import as_coefficients, green_and_density, rho_minus_one
from rmtgate.numerics.dyson_coefficients import DysonCoefficients
from rmtgate.numerics.dyson_solver import solve
from rmtgate.numerics.samples import LocalSample

# ------------------------------------------------------------------------------ disks


def _edge_angles(co: DysonCoefficients, center: complex, radius: float, scan: int) -> np.ndarray:
    """Angles in ``[0, 2π)`` where the circle crosses ``ρ(L) = 1`` (bisection to 1e-13)."""
    theta = 2 * np.pi * (np.arange(scan) + 0.5) / scan
    f = rho_minus_one(co, center + radius * np.exp(1j * theta))
    change = np.nonzero(np.sign(f) != np.sign(np.roll(f, -1)))[0]
    if change.size == 0:
        return np.zeros(0)
    lo = theta[change]
    hi = lo + 2 * np.pi / scan
    f_lo = f[change]
    for _ in range(45):  # interval 2π/scan · 2^-45 < 1e-13
        mid = 0.5 * (lo + hi)
        f_mid = rho_minus_one(co, center + radius * np.exp(1j * mid))
        same = np.sign(f_mid) == np.sign(f_lo)
        lo, f_lo = np.where(same, mid, lo), np.where(same, f_mid, f_lo)
        hi = np.where(same, hi, mid)
    return np.sort(np.mod(0.5 * (lo + hi), 2 * np.pi))


def _arcs(edges: np.ndarray) -> list[tuple[float, float]]:
    if edges.size == 0:
        return [(0.0, 2 * np.pi)]
    cuts = np.append(edges, edges[0] + 2 * np.pi)
    return [(float(a), float(b)) for a, b in itertools.pairwise(cuts) if b - a > 1e-15]


def fraction_in_disk(
    bnd_or_co: Any,
    sample: LocalSample | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    center: complex = 0.0,
    radius: float = 1.0,
    nodes: int = 48,
    scan: int = 512,
    tol: float = 1e-11,
) -> float:
    """Fraction of eigenvalues of ``J`` in ``|λ − center| < radius`` (atoms included).

    ``(1/2πi) ∮ G_cont dλ`` over the circle, cut at its edge crossings (``scan`` angles
    bracket them), ``nodes`` Gauss–Legendre points per arc; plus the atoms inside.
    """
    if not (isinstance(radius, float | int) and radius > 0):
        raise ParameterError(expected("a positive radius", "radius", radius))
    co = as_coefficients(bnd_or_co, sample, params)
    c = complex(center)
    t, w = np.polynomial.legendre.leggauss(nodes)
    angles, weights = [], []
    for a, b in _arcs(_edge_angles(co, c, float(radius), scan)):
        angles.append(0.5 * (b - a) * t + 0.5 * (a + b))
        weights.append(0.5 * (b - a) * w)
    theta, wt = np.concatenate(angles), np.concatenate(weights)
    lam = c + radius * np.exp(1j * theta)
    sol = solve(co, lam, tol=tol)
    G = green_and_density(co, sol)[0]
    for atom in co.atoms:
        G = G - atom.weight / (lam - atom.location)
    # dλ = i (λ − c) dθ:  (1/2πi) ∮ G dλ = (1/2π) ∫ G (λ − c) dθ
    continuous = float(np.real(np.sum(wt * G * (lam - c))) / (2 * np.pi))
    atoms = sum(a.weight for a in co.atoms if abs(a.location - c) < radius)
    return continuous + float(atoms)


def mass_near_one(
    bnd_or_co: Any, sample: LocalSample | str | None = None, params: Mapping[str, Any] | None = None, *, r: float = 0.05
) -> float:
    """``P(|λ − 1| < r)``: the slow-mode mass of [G Fig. 1f, eq. 111] (atoms at 1 included)."""
    return fraction_in_disk(bnd_or_co, sample, params, center=1.0, radius=r)


def radial_cdf(
    bnd_or_co: Any,
    sample: LocalSample | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    center: complex = 0.0,
    radii: Any,
    nodes: int = 48,
) -> np.ndarray:
    """``P(|λ − center| < r)`` for each ``r`` in ``radii`` (radial marginal's CDF)."""
    co = as_coefficients(bnd_or_co, sample, params)
    return np.array([fraction_in_disk(co, center=center, radius=float(r), nodes=nodes) for r in np.atleast_1d(radii)])


def radial_marginal(
    bnd_or_co: Any,
    sample: LocalSample | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    center: complex = 0.0,
    radii: Any,
    nodes: int = 48,
) -> np.ndarray:
    """Density of ``|λ − center|`` (continuous part): ``∫ μ(c + r e^{iθ}) r dθ`` per radius."""
    co = as_coefficients(bnd_or_co, sample, params)
    t, w = np.polynomial.legendre.leggauss(nodes)
    out = []
    for r in np.atleast_1d(np.asarray(radii, dtype=float)):
        total = 0.0
        for a, b in _arcs(_edge_angles(co, complex(center), r, 512)):
            theta = 0.5 * (b - a) * t + 0.5 * (a + b)
            mu = green_and_density(co, solve(co, center + r * np.exp(1j * theta)))[1]
            total += float(np.sum(0.5 * (b - a) * w * mu) * r)
        out.append(total)
    return np.array(out)


def angular_marginal(
    bnd_or_co: Any,
    sample: LocalSample | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    center: complex = 0.0,
    angles: Any,
    r_max: float | None = None,
    nodes: int = 48,
    scan: int = 400,
) -> np.ndarray:
    """Density of ``arg(λ − center)`` (continuous part): ``∫ μ(c + r e^{iθ}) r dr`` per angle.

    Each ray is cut where it crosses the edge (``scan`` radii up to ``r_max``, default twice
    the spectral radius about the center) and the inside pieces integrated by Gauss–Legendre.
    """
    co = as_coefficients(bnd_or_co, sample, params)
    c = complex(center)
    if r_max is None:
        r_max = 2.0 * (spectral_curve(co.evaluator, n_angles=90).spectral_radius + abs(c))
    t, w = np.polynomial.legendre.leggauss(nodes)
    radii = r_max * (np.arange(1, scan + 1) / scan)
    out = []
    for phi in np.atleast_1d(np.asarray(angles, dtype=float)):
        ray = np.exp(1j * phi)
        f = rho_minus_one(co, c + radii * ray)
        f = np.concatenate([[1.0 if rho_minus_one(co, np.array([c + 1e-12 * ray]))[0] >= 0 else -1.0], f])
        r_all = np.concatenate([[0.0], radii])
        edges = []
        for i in np.nonzero(np.sign(f[:-1]) != np.sign(f[1:]))[0]:
            lo, hi, f_lo = r_all[i], r_all[i + 1], f[i]
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                f_mid = rho_minus_one(co, np.array([c + mid * ray]))[0]
                if np.sign(f_mid) == np.sign(f_lo):
                    lo, f_lo = mid, f_mid
                else:
                    hi = mid
            edges.append(0.5 * (lo + hi))
        cuts = [0.0, *edges, r_max]
        total = 0.0
        for a, b in itertools.pairwise(cuts):
            r = 0.5 * (b - a) * t + 0.5 * (a + b)
            if rho_minus_one(co, np.array([c + 0.5 * (a + b) * ray]))[0] < 0:
                continue
            mu = green_and_density(co, solve(co, c + r * ray))[1]
            total += float(np.sum(0.5 * (b - a) * w * mu * r))
        out.append(total)
    return np.array(out)
