"""Sample averages over real poles, compressed into bins: large samples at the cost of small ones.

For a state of one real dimension (the GRU, any one-state architecture) every sample ``m``
contributes to ``L(λ)`` through one real pole ``μ_m``:

    Σ_m w_quad[m] / |λ − μ_m|²  +  2 Σ_m w_lin[m] Re 1/(λ − μ_m).

The cost of the exact sum is one kernel per sample and ``λ``, so the sample a curve can
afford is small (20,000 draws: their noise alone moved the GRU's steady-state spectral radius
by 0.11 %).  Here the poles are sorted into ``B`` bins of equal count, each spanning a width
``h`` of poles; with ``a = 1/(λ − c)`` for a bin centred at ``c`` and ``δ = μ − c``,

    1/(λ − μ) = Σ_p a^{p+1} δ^p,      1/|λ − μ|² = |a|² Σ_p δ^p Σ_{j=0}^{p} a^j ā^{p−j},

so a bin is summarised by the moments ``Σ w δ^p`` (``p ≤ ORDER``) of its weights and the sum
over it costs ``ORDER + 1`` kernels however many samples it holds.  Every bin whose centre
lies at least ``NEAR·h`` (its own ``h``) from ``λ`` is taken from its moments (truncation error below
``(1/(2 NEAR))^{ORDER+1}`` of its contribution: 6e-8 here); the bins closer than that are
summed exactly over their samples (contiguous once the poles are sorted), at most
``m/B`` each.  Near the real axis, where ``λ`` meets the poles, the sum is therefore exact;
equal counts keep that exact part small where the poles crowd (GRU ``a_z = 10``: most poles
next to 1, where the spectral edge is).

The same idea is the far field of a one-dimensional fast multipole method; with a few
thousand bins and a one-level split there is nothing to gain from the tree.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ORDER = 5
"""Highest moment ``Σ w δ^p`` kept per bin."""

NEAR = 8
"""Bins closer to ``λ`` than this many bin widths are summed exactly over their samples."""

BINS = 512
"""Most bins, each holding the same number of poles (at least :data:`PER_BIN`)."""

PER_BIN = 16
"""Fewest samples per bin."""

MIN_SAMPLES = 32768
"""Smaller samples are summed exactly: the moments would cost as much as the samples."""


@dataclass(frozen=True)
class CompressedPoles:
    """Moments of the weights per bin of real poles, and the sorted samples for the near field.

    ``sums(lam)`` returns ``Σ w_quad/|λ−μ|² + 2 Σ w_lin Re 1/(λ−μ)`` per selected weight column.
    """

    centers: np.ndarray  # (B,) bin centres (midpoints of each bin's poles, non-decreasing)
    widths: np.ndarray  # (B,) bin widths: the span of each bin's poles
    moments: np.ndarray  # (ORDER + 1, B, 2c): Σ w δ^p per bin, w_quad columns then w_lin columns
    starts: np.ndarray  # (B + 1,) sorted-sample index where each bin starts (last: m)
    poles: np.ndarray  # (m,) sorted
    weights: np.ndarray  # (2c, m) in pole order: w_quad columns then w_lin columns
    selection: np.ndarray  # columns (of c) returned by sums
    summed: bool = False  # return the selected columns' sum as one column

    @classmethod
    def build(cls, poles: np.ndarray, w_quad: np.ndarray, w_lin: np.ndarray) -> CompressedPoles | None:
        """Bin real ``poles`` (m,) with weight columns ``w_quad, w_lin`` (m, c); None if not worth it.

        Poles with no weight in any column (the evaluator moves them to 1e150) are dropped.
        """
        weights = np.concatenate([w_quad, w_lin], axis=1)
        kept = np.flatnonzero(np.any(weights != 0, axis=1))
        if kept.size < MIN_SAMPLES:
            return None
        order = kept[np.argsort(poles[kept])]
        poles = poles[order]
        # (2c, m): the moments reduce along the last axis, the fast one for reduceat
        term = np.ascontiguousarray(weights[order].T)
        m = poles.size
        # equal-count bins: a crowded stretch of poles (z ≈ 0 at a large update-gate gain puts
        # most GRU poles next to 1, where the edge is) gets narrow bins, so that its near
        # field stays small; each bin's own width sets how close λ may come to its moments
        per_bin = max(PER_BIN, -(-m // BINS))
        starts = np.arange(0, m, per_bin)
        stops = np.append(starts[1:], m)
        low, high = poles[starts], poles[stops - 1]
        centers = 0.5 * (low + high)
        widths = high - low
        delta = poles - np.repeat(centers, stops - starts)
        moments = np.empty((ORDER + 1, centers.size, term.shape[0]))
        sorted_weights = term.copy()
        for p in range(ORDER + 1):
            moments[p] = np.add.reduceat(term, starts, axis=1).T
            term *= delta
        return cls(centers, widths, moments, np.append(starts, m), poles, sorted_weights, np.arange(w_quad.shape[1]))

    def columns(self, selection: np.ndarray | list[int], *, summed: bool = False) -> CompressedPoles:
        """The same bins, returning the weight columns ``selection`` (``summed``: their sum as one column)."""
        return dataclasses.replace(self, selection=np.asarray(selection, dtype=np.int64), summed=summed)

    @property
    def bins(self) -> int:
        return self.centers.size

    def sums(self, lam: np.ndarray) -> np.ndarray:
        """``Σ_m w_quad[m]/|λ−μ_m|² + 2 Σ_m w_lin[m] Re 1/(λ−μ_m)`` for each ``λ`` (n,) → (n, c)."""
        lam = np.asarray(lam, dtype=complex).reshape(-1)
        gap = lam[:, None] - self.centers[None, :]  # (n, B)
        # λ exactly on a (one-point) bin: a huge finite kernel, as in the exact sum
        gap = np.where(np.abs(gap) < 1e-150, 1e-150, gap)
        # a bin closer to λ than NEAR of its own widths is summed exactly over its samples
        near = np.abs(gap) < NEAR * self.widths[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(near, 0.0, 1.0 / np.where(near, 1.0, gap))
        conj = np.conj(a)
        modulus = (a * conj).real
        c = self.moments.shape[2] // 2
        out = np.zeros((lam.size, c))
        a_power = np.ones_like(a)  # a^p
        # Σ_{j=0}^{p} a^j ā^{p−j}, built up as s_p = a^p + ā s_{p−1}
        s = np.ones_like(a)
        for p in range(ORDER + 1):
            if p > 0:
                a_power = a_power * a
                s = a_power + conj * s
            out += (modulus * s.real) @ self.moments[p, :, :c]
            out += 2.0 * np.real((a_power * a) @ self.moments[p, :, c:])
        for i in np.flatnonzero(np.any(near, axis=1)):
            bins = np.flatnonzero(near[i])
            # the near bins of one λ are (nearly always) one run of neighbours: one slice each
            for run in np.split(bins, np.flatnonzero(np.diff(bins) > 1) + 1):
                part = slice(int(self.starts[run[0]]), int(self.starts[run[-1] + 1]))
                out[i] += real_pole_sums(
                    lam[i].real - self.poles[part], lam[i].imag ** 2, self.weights[:c, part].T, self.weights[c:, part].T
                )
        out = out[:, self.selection]
        return out.sum(axis=1, keepdims=True) if self.summed else out


def real_pole_sums(dx: np.ndarray, imag_squared: Any, w_quad: np.ndarray, w_lin: np.ndarray) -> np.ndarray:
    """``Σ w_quad/|λ−μ|² + 2 Σ w_lin Re 1/(λ−μ)`` over real poles, exactly.

    ``dx = Re λ − μ`` with the samples on its last axis (overwritten), ``imag_squared`` is
    ``(Im λ)²`` broadcast against it, the weights have the samples on their first axis.
    """
    # λ exactly on a pole: a huge finite kernel keeps 0·∞ (zero weight) from becoming NaN
    inv_abs2 = 1.0 / np.maximum(dx * dx + imag_squared, 1e-300)
    quad = inv_abs2 @ w_quad
    dx *= inv_abs2
    return quad + 2.0 * (dx @ w_lin)


def truncation_bound() -> float:
    """Relative size of the first omitted Taylor term for a bin at the near-field radius."""
    return math.pow(1.0 / (2 * NEAR), ORDER + 1)
