"""Binned pole sums (:mod:`rmtgate.numerics.pole_compression`) against the exact sums they replace."""

from __future__ import annotations

import numpy as np
import pytest

from rmtgate import gru
from rmtgate.numerics.curves import spectral_curve
from rmtgate.numerics.evaluators import NumpyEvaluator
from rmtgate.numerics.pole_compression import MIN_SAMPLES, CompressedPoles, truncation_bound
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.derive import derive


def _exact(poles: np.ndarray, w_quad: np.ndarray, w_lin: np.ndarray, lam: np.ndarray) -> np.ndarray:
    gap = lam[:, None] - poles[None, :]
    inv = 1.0 / gap
    return (np.abs(inv) ** 2) @ w_quad + 2.0 * inv.real @ w_lin


def _magnitude(poles: np.ndarray, w_quad: np.ndarray, w_lin: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The same sums with |weights| and |kernels|: the scale a relative error is measured against."""
    inv = np.abs(1.0 / (lam[:, None] - poles[None, :]))
    return inv**2 @ np.abs(w_quad) + 2.0 * inv @ np.abs(w_lin)


@pytest.fixture(scope="module")
def cloud() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    m = 60000
    # a skewed pole density with a gap and a dense clump: empty bins, crowded bins
    poles = np.concatenate(
        [
            rng.beta(0.5, 3.0, m // 2),
            0.7 + 0.001 * rng.standard_normal(m // 4),
            rng.uniform(0.8, 0.9, m - m // 2 - m // 4),
        ]
    )
    w_quad = rng.standard_normal((m, 3)) / m
    w_lin = rng.standard_normal((m, 3)) / m
    return poles, w_quad, w_lin


def test_binned_sums_match_the_exact_sums_far_near_and_on_the_axis(cloud: tuple[np.ndarray, ...]) -> None:
    poles, w_quad, w_lin = cloud
    compressed = CompressedPoles.build(poles, w_quad, w_lin)
    assert compressed is not None and compressed.bins <= 512
    assert np.all(np.diff(compressed.starts)[:-1] == compressed.starts[1])  # equal counts (the last may hold fewer)
    rng = np.random.default_rng(4)
    lam = np.concatenate(
        [
            1.2 * np.exp(1j * rng.uniform(0, np.pi, 50)),  # far from every pole
            0.3 + 1e-3j * rng.random(50),  # just above the pole segment: near field exact
            0.7 + 1e-9j + 1e-4 * rng.standard_normal(20),  # inside the clump
            rng.uniform(-0.5, 1.5, 50) + 1j * rng.uniform(0.01, 0.2, 50),  # every distance in between
            np.array([0.95 + 0j, -0.2 + 0j]),  # on the real axis, outside the poles
        ]
    )
    got = compressed.sums(lam)
    exact = _exact(poles, w_quad, w_lin, lam)
    scale = _magnitude(poles, w_quad, w_lin, lam)
    # each far bin is off by at most truncation_bound() (6e-8) of its own |contribution|;
    # 1e-12 of the scale is the rounding of 60,000 summed terms
    assert np.max(np.abs(got - exact) / scale) < truncation_bound() + 1e-12


def test_selected_and_summed_columns(cloud: tuple[np.ndarray, ...]) -> None:
    poles, w_quad, w_lin = cloud
    compressed = CompressedPoles.build(poles, w_quad, w_lin)
    assert compressed is not None
    lam = np.array([1.1 + 0.2j, 0.5 + 0.5j])
    full = compressed.sums(lam)
    np.testing.assert_allclose(compressed.columns([2, 0]).sums(lam), full[:, [2, 0]], rtol=1e-14)
    np.testing.assert_allclose(
        compressed.columns([0, 1], summed=True).sums(lam)[:, 0], full[:, 0] + full[:, 1], rtol=1e-13
    )


def test_small_samples_and_silent_poles_are_not_compressed() -> None:
    rng = np.random.default_rng(5)
    m = MIN_SAMPLES + 10
    poles = rng.random(m)
    w = rng.random((m, 1))
    silent = np.zeros((m, 1))
    silent[:100] = 1.0
    # only 100 poles carry weight: the rest are dropped, and 100 are summed exactly instead
    assert CompressedPoles.build(poles, silent, silent) is None
    assert CompressedPoles.build(poles[: MIN_SAMPLES - 1], w[: MIN_SAMPLES - 1], w[: MIN_SAMPLES - 1]) is None


def test_one_point_of_poles_is_exact() -> None:
    m = MIN_SAMPLES
    poles = np.full(m, 0.25)
    w = np.full((m, 1), 1.0 / m)
    compressed = CompressedPoles.build(poles, w, w)
    assert compressed is not None and np.all(compressed.widths == 0.0)
    lam = np.array([0.25 + 0.1j, 1.0 + 0.0j])
    # Σ w/|λ−μ|² + 2 Σ w Re 1/(λ−μ) with every μ = 0.25 and Σ w = 1
    expected = 1.0 / np.abs(lam - 0.25) ** 2 + 2.0 * (1.0 / (lam - 0.25)).real
    np.testing.assert_allclose(compressed.sums(lam)[:, 0], expected, rtol=1e-13)


def test_evaluator_curve_with_compression_matches_exact() -> None:
    """A GRU steady-state-like sample of 40,000: the curve's radius with and without the bins."""
    rng = np.random.default_rng(6)
    m = 40000
    values = {
        "h": 0.6 * np.tanh(rng.standard_normal(m)),
        "eta_z": rng.standard_normal(m) * 0.6,
        "eta_r": rng.standard_normal(m) * 0.6,
        "eta_h": rng.standard_normal(m) * 0.5,
    }
    bnd = derive(gru()).boundary
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    sample = LocalSample.from_arrays(values, source="steady")
    compressed = NumpyEvaluator(bnd, sample, params)
    assert compressed.entry_compressed is not None and compressed.trace_compressed is not None
    exact = NumpyEvaluator(bnd, sample, params)
    exact.entry_compressed = exact.trace_compressed = None
    lam = np.array([1.05 + 0.01j, 0.3 + 0.9j, -0.4 + 0.2j, 0.5 + 1e-6j])
    np.testing.assert_allclose(compressed.spectral_function(lam), exact.spectral_function(lam), rtol=1e-7)
    r_compressed = spectral_curve(compressed, n_angles=32).spectral_radius
    r_exact = spectral_curve(exact, n_angles=32).spectral_radius
    # ρ is off by < 1e-7 relative; the edge moves by that over |dρ/dr| ~ 1
    assert r_compressed == pytest.approx(r_exact, rel=1e-7)
