"""Precision where the support is thin, and typed errors for non-finite intermediates.

Two things defeat double precision in ``L(λ) = Σ_p w_p / |λ − μ_p|² + …`` (issue 10):

* **cancellation in the coefficients** — e.g. the residue ``1 − σ(b_z)`` computed as
  ``1 − (1 − tiny)``: at ``b_z = 20`` half of the digits are gone, from ``b_z ≈ 37`` all of
  them, and the disk of radius ``(1 − σ(b_z)) σ(b_r) a_h`` collapses to a point.  Found by
  evaluating the coefficient matrices of the linearization on a few samples (those with
  the most extreme local values, where gates saturate) in mpmath and comparing.
* **cancellation in the coordinates** — ``λ − μ_p`` for ``|λ − μ_p| ≪ |μ_p|``.  The
  evaluators avoid it by working relative to an ``origin``: the poles are stored as
  ``μ_p − origin`` (subtracted in mpmath when the coefficients come from mpmath) and the
  curve finder passes offsets from its centre, so a disk of radius 1e-18 around 1 − 1e-18
  is as well resolved as one of radius 1 around 0.  Only the final ``|c + r e^{iθ}|``
  needs more than double digits; :func:`mp_abs` computes it.

When the coefficients need it, they are computed in mpmath at a ``dps`` that is raised until
two precisions agree (:func:`resolving_dps`) and only then rounded: the rounded numbers are
small but accurate, so the fast vectorized double kernels stay in use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mpmath
import numpy as np

from rmtgate.errors import ParameterError

# relative disagreement between double and mpmath coefficients that counts as "unresolved";
# 1 − σ(b) loses log10(e^b) digits, so biases up to b ≈ 18 stay on the double path
COEFFICIENT_RTOL = 1e-8
# a support thinner than this (radius / |centre|) has its centre and |λ| computed in mpmath
THIN = 1e-8
# how many samples the double/mpmath comparison looks at (the most extreme ones)
CHECK_SAMPLES = 16
MAX_DPS = 400


def precision_label(dps: int | None) -> str:
    """``"double"`` or ``"mpmath(dps=N)"`` — the precision a result was computed in."""
    return "double" if dps is None else f"mpmath(dps={dps})"


def dps_for_scale(radius: float, center: float, floor: int = 30) -> int:
    """Digits to resolve a support of ``radius`` around ``center``: −log10(r/|c|) + 15 (+ guard)."""
    if radius <= 0 or center == 0:
        return floor
    return max(floor, math.ceil(-math.log10(radius / abs(center))) + 20)


def extreme_samples(values: Sequence[Any], size: int, count: int = CHECK_SAMPLES) -> np.ndarray:
    """Indices of the samples with the largest local values (saturated gates), plus the first."""
    if size <= count:
        return np.arange(size)
    magnitude = np.zeros(size)
    for v in values:
        array = np.asarray(v, dtype=float)
        if array.ndim == 1 and array.size == size:
            magnitude = np.maximum(magnitude, np.abs(array))
    top = np.argpartition(-magnitude, count - 1)[: count - 1]
    return np.unique(np.append(top, 0))


def mp_blocks(
    functions: Sequence[Callable[..., Any]], values: Sequence[Any], index: np.ndarray, dps: int
) -> list[list[list[Any]]]:
    """Each compiled function evaluated in mpmath at ``dps`` on the samples ``index``.

    ``functions[b](*args)`` returns a flat tuple of entries; the result is
    ``[block][sample][entry]`` of ``mpf``.  Inputs are doubles, so ``mpf(x)`` is exact.
    """
    out: list[list[list[Any]]] = [[] for _ in functions]
    with mpmath.workdps(dps):
        for j in index:
            args = [mpmath.mpf(float(np.asarray(v).reshape(-1)[j if np.size(v) > 1 else 0])) for v in values]
            for b, fn in enumerate(functions):
                out[b].append([mpmath.mpf(e) for e in fn(*args)] if fn is not None else [])
    return out


def resolving_dps(
    functions: Sequence[Callable[..., Any]],
    values: Sequence[Any],
    index: np.ndarray,
    doubles: Sequence[np.ndarray],
) -> int | None:
    """``None`` if the double coefficients agree with mpmath, else a ``dps`` that resolves them.

    ``doubles[b]`` has shape ``(m, entries)`` for block ``b``.  The ``dps`` is doubled from 30
    until two successive precisions agree to 1e-15 relative on the checked samples.
    """
    dps = 30
    reference = mp_blocks(functions, values, index, dps)
    if _agree(doubles, reference, index, COEFFICIENT_RTOL):
        return None
    while dps < MAX_DPS:
        finer = mp_blocks(functions, values, index, 2 * dps)
        if _agree_mp(reference, finer):
            return dps
        dps, reference = 2 * dps, finer
    raise ParameterError(
        f"Expected coefficients of L(λ) that {MAX_DPS} digits resolve but got values that keep changing with precision"
    )


def shifted_blocks(
    functions: Sequence[Callable[..., Any]],
    values: Sequence[Any],
    m: int,
    dps: int,
    origin: float,
    n: int,
    shapes: Sequence[tuple[int, int]],
) -> tuple[list[np.ndarray], Any]:
    """Coefficient blocks on every sample in mpmath, the pole block (block 0, ``n × n``) shifted
    by the origin before rounding: the poles then come out as accurate offsets ``μ − origin``.

    The origin is ``origin`` (a double near the poles) moved onto the exact diagonal entry of
    the pole block closest to it, when one lies within 1e-12 of it: a support thinner than a
    double's resolution of its centre (GRU zero state, ``a_h = 3e-130``: radius 4e-134 around
    σ(b_z), which a double misses by 5e-17) is then centred exactly on 0.  Returns the blocks
    and that origin (an ``mpf`` at ``dps`` digits).
    """
    exact = mp_blocks(functions, values, np.arange(m), dps)
    diagonal = {i * (n + 1) for i in range(n)}
    out = []
    with mpmath.workdps(dps):
        shift = mpmath.mpf(origin)
        entries = [row[i] for row in exact[0] for i in diagonal if mpmath.im(row[i]) == 0] if exact else []
        if entries:
            nearest = min(entries, key=lambda e: abs(e - shift))
            if abs(nearest - shift) <= 1e-12 * max(abs(shift), mpmath.mpf(1e-300)):
                shift = mpmath.mpf(nearest)
        for b, rows in enumerate(exact):
            rounded = [
                [float(e - shift) if b == 0 and i in diagonal else float(e) for i, e in enumerate(row)] for row in rows
            ]
            out.append(np.array(rounded).reshape(m, shapes[b][0] * shapes[b][1]))
    return out, shift


def _agree(doubles: Sequence[np.ndarray], reference: list[list[list[Any]]], index: np.ndarray, rtol: float) -> bool:
    """Whether the double coefficients match mpmath to ``rtol`` of their column's scale.

    The scale of an entry is the largest ``|value|`` it takes over the whole sample: ``L(λ)``
    averages over the samples, so an entry that is tiny next to the same entry elsewhere
    carries its own rounding only as far as its (tiny) weight (GRU ``a_h = 3, a_z = 10``,
    steady state: entries of 1e-10 next to 0.03 and 1, 1e-7 off in double, had sent 400,000
    draws through mpmath, 72 s instead of 1 s).  With one sample, or identical ones (the zero
    state), the scale is the entry itself and the test is plain relative agreement.  A
    support that is thin because of such entries is still caught, by the curve's thinness
    rule (:data:`THIN`), which recomputes it in mpmath.
    """
    for block, ref in zip(doubles, reference, strict=True):
        scales = np.max(np.abs(block), axis=0) if block.size else np.zeros(0)
        for row, j in zip(ref, index, strict=True):
            for value, exact, scale in zip(block[j], row, scales, strict=True):
                exact_value = abs(float(exact))
                allowed = rtol * max(exact_value, float(scale))
                if abs(float(value) - float(exact)) > allowed:
                    return False
                # an entry that double rounds to 0 (or makes up) matters only at its scale
                if ((value == 0) != (exact == 0)) and max(abs(float(value)), exact_value) > allowed:
                    return False
    return True


def _agree_mp(a: list[list[list[Any]]], b: list[list[list[Any]]]) -> bool:
    for block_a, block_b in zip(a, b, strict=True):
        for row_a, row_b in zip(block_a, block_b, strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                if abs(x - y) > 1e-15 * abs(y):
                    return False
    return True


def mp_abs(origin: Any, offsets: np.ndarray, dps: int) -> list[Any]:
    """``|origin + z|`` in mpmath for complex offsets ``z`` (``origin`` a double or an ``mpf``: every sum is exact)."""
    with mpmath.workdps(dps):
        o = mpmath.mpf(origin)
        return [mpmath.sqrt((o + mpmath.mpf(float(z.real))) ** 2 + mpmath.mpf(float(z.imag)) ** 2) for z in offsets]


def decimal(value: Any, digits: int = 17) -> str:
    """An mpmath number as a decimal string (JSON floats are doubles: 1 − 1e-18 would read 1.0)."""
    return mpmath.nstr(value, digits, min_fixed=-3, max_fixed=3) if value != 0 else "0"


def nonfinite_error(
    what: str, params: Mapping[str, float], sample: Mapping[str, np.ndarray] | None = None
) -> ParameterError:
    """``ParameterError`` naming the inputs that most likely made ``what`` non-finite.

    Culprits are the parameters (and sample arrays) whose magnitude overflows a product of
    two doubles (> 1e100); if there are none, the largest-magnitude parameter is named.
    """
    culprits = [f"{k}={v:g}" for k, v in params.items() if abs(v) > 1e100]
    for name, array in (sample or {}).items():
        array = np.asarray(array, dtype=float)
        if array.size and (not np.all(np.isfinite(array)) or np.max(np.abs(array)) > 1e100):
            culprits.append(f"{name} (sample, max |value| {np.max(np.abs(array)):g})")
    if not culprits and params:
        name = max(params, key=lambda k: abs(params[k]))
        culprits = [f"{name}={params[name]:g}"]
    return ParameterError(f"{', '.join(culprits)} makes {what} non-finite in double precision")
