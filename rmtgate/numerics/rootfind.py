"""Root finding for the spectral curve: brackets along rays, Illinois regula falsi.

Split from :mod:`rmtgate.numerics.curves` (which decides *where* to look); everything here
works in offsets from a centre, through ``ev.spectral_offset``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rmtgate.errors import ConvergenceError
from rmtgate.numerics.evaluators import _Base


def refine(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray], brackets: list[np.ndarray], tolerance: float, max_iterations: int
) -> np.ndarray:
    rays, lo, hi, f_lo, f_hi = brackets
    return illinois(lambda r, index: f(r, rays[index]), lo, hi, f_lo, f_hi, tolerance, max_iterations)


def real_axis_edges(
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
        values = ev.spectral_offset(center, direction * scan + 0j) - 1.0
        radii_here = scan
        changes = np.nonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0]
        if changes.size == 0:
            continue
        i = changes[-1]
        root = illinois(
            lambda r, index, d=direction: ev.spectral_offset(center, d * r + 0j) - 1.0,
            radii_here[i : i + 1],
            radii_here[i + 1 : i + 2],
            values[i : i + 1],
            values[i + 1 : i + 2],
            tolerance,
            max_iterations,
        )
        edges.append(center + direction * float(root[0]))  # an offset from ev.origin
    return tuple(edges)


def outer_radius(ev: _Base, center: float, angles: np.ndarray) -> float:
    """A radius beyond which ρ(L) < 1 on every ray (ρ → 0 at infinity: ``C_f`` is nilpotent)."""
    r = 2.0 * max(1.0, getattr(ev, "pole_bound", 1.0) + abs(center))
    for _ in range(60):
        near = ev.spectral_offset(center, r * np.exp(1j * angles))
        far = ev.spectral_offset(center, 2 * r * np.exp(1j * angles))
        if np.all(near < 1.0) and np.all(far < 1.0):
            return r
        r *= 2.0
    raise ConvergenceError("No radius found outside the spectral support", residual=float(r), iterations=60)


def illinois(
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
