"""Linear learning theory [S §4-5]: traces, the derived readout series, g = 0 reduced dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from rmtgate.errors import DerivationError, ParameterError
from rmtgate.training import linear_theory as lt


@pytest.mark.parametrize("g", [0.3, 0.6])
def test_trace_identities_at_N_2000(g: float) -> None:
    # Tr(·)/N of a fixed word in B, Bᵀ is a linear spectral statistic: its fluctuation and its
    # finite-N bias are O(1/N) (≈ 0.05% at N = 2000 times a β-dependent constant < 20 for g ≤ 0.6),
    # so 2% leaves a wide margin; THEORY.md reports β⁴ confirmed to < 0.1% at N = 3000.
    measured = lt.empirical_traces(g, 2000, seed=11)
    predicted = lt.trace_predictions(g)
    beta = 1 / (1 - g * g)
    assert list(predicted.values()) == pytest.approx([1, beta, beta**2, beta**4])
    for name, value in predicted.items():
        assert measured[name] == pytest.approx(value, rel=0.02), name


def test_readout_series_is_derived_as_in_s48() -> None:
    z = lt.readout_series(3)
    tau, zhat, beta = lt.tau, lt.zhat, lt.beta
    x = beta**2 * tau
    expected = zhat * (x - x**2 / 2 + (1 + 8 * zhat**2 * beta) * x**3 / 6)
    assert sympy.simplify(z - sympy.expand(expected)) == 0
    assert sympy.simplify(lt.readout_series(1) - zhat * x) == 0  # first order: z = ẑ τ/τ*, τ* = 1/β²
    with pytest.raises(DerivationError):
        lt.readout_series(4)
    assert r"\hat{z}" in lt.latex() and r"\beta^{4}" in lt.latex()


def test_series_against_the_reduced_g0_dynamics() -> None:
    # Independent route: the exact 2×2 flow [S 53-55] integrated numerically (rtol 1e-10).  The
    # errors of truncated series must shrink by 2^(order+1) when τ halves: readout (3rd order)
    # → 16, s₊ (2nd order) → 8; and s₋/(ẑ³x³/12) → 1 with an O(τ) error (ratio of errors → 2).
    zhat = 0.5
    p = lt.predictions(0.0, zhat)
    taus = np.array([0.04, 0.02, 0.01])
    red = lt.reduced_dynamics(zhat, taus)
    err_z = np.abs(red["z"] - p.readout(taus))
    assert err_z[0] / err_z[1] == pytest.approx(16, rel=0.1)
    assert err_z[1] / err_z[2] == pytest.approx(16, rel=0.1)
    err_s = np.abs(red["singular_values"][:, 0] - p.s_plus(taus))
    assert err_s[1] / err_s[2] == pytest.approx(8, rel=0.1)
    rel_minus = np.abs(red["singular_values"][:, 1] / p.s_minus(taus) - 1)
    assert rel_minus[2] < 0.02 and rel_minus[1] / rel_minus[2] == pytest.approx(2, rel=0.15)
    # the loss falls to zero: gradient flow converges to the target
    assert lt.reduced_dynamics(zhat, [50.0])["z"][0] == pytest.approx(zhat, rel=1e-6)


def test_first_order_predictions() -> None:
    p = lt.predictions(0.6, 0.5)
    beta = 1 / (1 - 0.36)
    assert p.tau_star == pytest.approx(1 / beta**2)
    assert p.delta_w_norm == pytest.approx(0.5 / beta)
    assert p.shuffled_readout == pytest.approx(0.5 / beta**2)
    assert p.shuffled_loss == pytest.approx(0.125 * (1 - 1 / beta**2) ** 2)
    assert p.readout(p.tau_star, order=1) == pytest.approx(0.5)  # z(τ*) = ẑ at first order
    assert p.s_plus(p.tau_star, order=1) == pytest.approx(p.delta_w_norm)


@pytest.mark.parametrize("g", [-0.1, 1.0, float("nan"), "x"])
def test_linear_theory_rejects_g_outside_0_1(g: object) -> None:
    with pytest.raises(ParameterError):
        lt.predictions(g, 0.5)  # type: ignore[arg-type]
