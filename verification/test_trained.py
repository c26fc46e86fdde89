"""Trained networks [S] against the linear learning theory and the low-rank claims of [S §3].

Linear checks train the linear model exactly as [S §1] (simple task, plain gradient descent on W,
η small so that ``τ = η · epoch`` follows the flow [S 6]) and compare with
:mod:`rmtgate.linear_theory`.  Two kinds of comparison:

* **self-averaged** (the theory as printed, in β): the finite-N fluctuations of the order
  parameters set the tolerance.  Per seed, ``P = |Bᵀw|²`` has relative sd ``β√(2/N)`` (variance
  ``2 Tr(BBᵀBBᵀ)/N² = 2β⁴/N``), so ``K₀ = PQ`` has ``2β/√N``; the initial readout
  ``z₀ = wᵀBm`` has sd ``√(β/N)``, i.e. relative ``√(β/N)/ẑ`` on ``e₀ = ẑ - z₀``.  Quantities
  ``∝ e₀K₀`` (readout increments, 1/τ*, shuffled readout) get
  ``σ = √(4β²/N + β/(Nẑ²))``, ``s₊ ∝ e₀√K₀`` gets ``σ = √(β²/N + β/(Nẑ²))``; the mean of S seeds
  is held to ``3σ/√S`` plus the truncation remainder of the series (stated per check).
* **conditioned** (same formulas with the realized ``P, Q, z₀`` instead of their limits): only
  the O(1/√N) cross terms and the O(τ) series remainder are left, so the tolerances are tight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rmtgate.training import linear_theory as lt
from rmtgate.training.bptt import train
from rmtgate.training.lowrank import epochs_to_fraction, functional_rank, truncation_losses

G, ZHAT = 0.5, 0.5  # Table S1 simple task, g in the range of [S] Fig. 3
X_END = 0.3  # x = β²τ; third-order remainders ~ x⁴ ≈ 1% of ẑ


def _sigma_linear(beta: float, N: int, zhat: float) -> float:
    return math.sqrt(4 * beta**2 / N + beta / (N * zhat**2))


def _sigma_splus(beta: float, N: int, zhat: float) -> float:
    return math.sqrt(beta**2 / N + beta / (N * zhat**2))


def _curves(N: int, seeds: range, zhat: float = ZHAT, x_end: float = X_END, epochs: int = 30) -> list[lt.LinearCurve]:
    p = lt.predictions(G, zhat)
    return [
        lt.linear_learning_curve(
            G, zhat, N, tau_end=x_end / p.beta**2, epochs=epochs, snapshot_every=epochs // 10, seed=s
        )
        for s in seeds
    ]


def _errors(curves: list[lt.LinearCurve]) -> dict[str, float]:
    """Relative errors (mean over seeds) of the self-averaged predictions, and their tolerances."""
    p = lt.predictions(G, curves[0].zhat)
    N, S, beta, zhat = curves[0].N, len(curves), p.beta, curves[0].zhat
    tau_star, s_plus, shuffled, loss_s = [], [], [], []
    for c in curves:
        t1, x1, tend, xend = c.tau[1], p.x(c.tau[1]), c.tau[-1], p.x(c.tau[-1])
        # τ* from the initial slope: Δz(τ₁) = ẑ(x₁ - x₁²/2) + O(x₁³)  ⇒  τ*_meas = τ₁(1 - x₁/2) ẑ/Δz
        tau_star.append(t1 * (1 - x1 / 2) * zhat / (c.z[1] - c.z[0]))
        s_plus.append(c.singular_values[-1, 0] / p.s_plus(tend))
        shuffled.append((c.z_shuffled[-1] - c.z_shuffled[0]) / p.shuffled_readout_series(tend))
        loss_s.append(0.5 * (zhat - (c.z_shuffled[-1] - c.z_shuffled[0])) ** 2 / p.shuffled_loss_series(tend))
        del xend
    x = X_END
    lin, sp = _sigma_linear(beta, N, zhat), _sigma_splus(beta, N, zhat)
    return {
        "tau_star": abs(np.mean(tau_star) / p.tau_star - 1),
        "tau_star_tol": 3 * lin / math.sqrt(S) + 0.01,  # + O(x₁²) ≈ 1e-3 slope remainder, generous
        "s_plus": abs(np.mean(s_plus) - 1),
        "s_plus_tol": 3 * sp / math.sqrt(S) + x**2,  # O(x³) remainder relative to s₊ ~ x: x²
        "z_shuffled": abs(np.mean(shuffled) - 1),
        "z_shuffled_tol": 3 * lin / math.sqrt(S) + x**2,  # O(x³) remainder of ẑ_s ~ x
        # L_s = (ẑ - ẑ_s)²/2: δL_s/L_s = 2 δẑ_s/(ẑ - ẑ_s) = 2 (ẑ_s/(ẑ - ẑ_s)) δẑ_s/ẑ_s
        "loss_shuffled": abs(np.mean(loss_s) - 1),
        "loss_shuffled_tol": 2 * (3 * lin / math.sqrt(S) + x**2) * 0.1 / (1 - 0.1),
    }


def test_linear_theory_vs_trained_linear_networks_N512() -> None:
    curves = _curves(512, range(4))
    errors = _errors(curves)
    print("\nN=512 relative errors:", {k: round(v, 4) for k, v in errors.items()})
    for name in ("tau_star", "s_plus", "z_shuffled", "loss_shuffled"):
        assert errors[name] <= errors[f"{name}_tol"], (name, errors)
    # conditioned: τ* from the realized kernel, 1/τ*_N = K₀ e₀/ẑ, leaves only O(1/√N) cross terms
    # (s₀ = mᵀBᵀBBᵀw enters at O(τ)) and the O(x₁²) slope remainder: 2% is ≥ 3σ at N = 512
    p = lt.predictions(G, ZHAT)
    for c in curves:
        e0 = ZHAT - c.order_parameters["z0"]
        measured = c.tau[1] * (1 - p.x(c.tau[1]) / 2) * ZHAT / (c.z[1] - c.z[0])
        assert measured == pytest.approx(ZHAT / (c.K0 * e0), rel=0.02)
        # the simulated network (BPTT forward pass) ends at the fixed-point readout wᵀ(I-W)⁻¹m
        assert c.z_simulated_final == pytest.approx(c.z[-1], rel=1e-8)


def test_s_minus_is_cubic_with_coefficient_one_twelfth_N512() -> None:
    # ẑ = 2 makes s₋ = ẑ³x³/12 visible; x ≤ 0.1.  Conditioned on the realized order parameters the
    # prediction e₀³ PQ|BᵀBm||BBᵀw| τ³/12 leaves the O(τ) series remainder (≈ -1.35x at g=0, i.e.
    # ≤ 14% at x = 0.1) and O(1/√N) cross terms; 15% tolerance.  Cubic growth: s₋(2τ)/s₋(τ) ≈ 8.
    c = _curves(512, range(1), zhat=2.0, x_end=0.1, epochs=50)[0]
    ratio = c.singular_values[1:, 1] / c.conditioned_s_minus(c.tau[1:])
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    s = c.singular_values[:, 1]
    assert s[10] / s[5] == pytest.approx(8, rel=0.15)
    # third singular value is O(τ⁴)·(higher): far below s₋
    assert np.all(c.singular_values[1:, 2] < 0.05 * c.singular_values[1:, 1])


@pytest.mark.slow
def test_linear_theory_error_shrinks_with_N() -> None:
    # N-dependence of the self-averaged errors: each N within its own 3σ(N)/√S + remainder, and the
    # s₋ ratio (self-averaged, fluctuation ~ β⁶ in the realized order parameters) approaching 1.
    rows = []
    for N in (512, 1024, 2048):
        curves = _curves(N, range(4))
        errors = _errors(curves)
        p = lt.predictions(G, 2.0)
        big = _curves(N, range(2), zhat=2.0, x_end=0.1, epochs=50)
        s_minus = float(np.mean([c.singular_values[5, 1] / p.s_minus(c.tau[5]) for c in big]))
        rows.append((N, errors, s_minus))
        for name in ("tau_star", "s_plus", "z_shuffled", "loss_shuffled"):
            assert errors[name] <= errors[f"{name}_tol"], (N, name, errors)
    print("\n   N   tau*    s+     z_s    L_s    s-/pred")
    for N, e, sm in rows:
        print(f"{N:5d} {e['tau_star']:.4f} {e['s_plus']:.4f} {e['z_shuffled']:.4f} {e['loss_shuffled']:.4f} {sm:.3f}")


@pytest.mark.slow
@pytest.mark.parametrize("g", [0.0, 0.9])
def test_flipflop_N256_trains_below_5_percent_within_budget(g: float) -> None:
    # [S §1]: N = 256, Adam η = 0.05/N, batch 32, at most 1000 epochs for the flip-flop task
    run = train("flipflop", g=g, N=256, epochs=1000, seed=0, stop_below=0.05)
    reached = epochs_to_fraction(run.losses)
    print(f"\nflip-flop g={g}: 5% of the initial loss after {reached} epochs")
    assert 0 <= reached <= 1000


@pytest.mark.slow
def test_trained_connectivity_is_low_rank_flipflop() -> None:
    # [S §3]: functional rank a handful; truncating ΔW is much gentler than truncating W (g > 0)
    from rmtgate.training.lowrank import evaluation_batch

    run = train("flipflop", g=0.9, N=256, epochs=1000, seed=1)
    assert run.loss_final < 0.05 * run.loss_initial
    rank = functional_rank(run, batch_size=256, max_rank=20)
    assert 1 <= rank <= 6, rank
    batch = evaluation_batch(run, 256)
    # at the functional rank (and above), ΔW's truncation keeps the loss below 5% of the initial
    # loss while W's truncation at the same rank stays far above it (seed 1 measured: rank 5,
    # L(ΔW_5) = 0.0015, L(W_5) = 0.057); at ranks below it both truncations fail alike
    ranks = [rank, rank + 2]
    delta = truncation_losses(run, ranks, which="delta_W", batch=batch)
    full = truncation_losses(run, ranks, which="W", batch=batch)
    print(f"\nfunctional rank {rank}; truncation ΔW {delta}, W {full}")
    assert np.all(3 * delta < full)
