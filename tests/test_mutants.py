"""The theory mutants: generated from the derivation, and each evaluator mutates only what it says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rmtgate
from rmtgate.numerics.evaluators import DirectEvaluator
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.verification.mutants import ScaledEvaluator, mutants

SPEC = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mgu.toml"
GRU = {"a_h": 3.0, "a_z": 2.0, "a_r": 1.5, "b_z": 0.3, "b_r": -0.2, "b_h": 0.0}
LAMBDAS = np.array([0.3 + 0.4j, 1.2 - 0.1j, -0.5 + 1.0j])


def _random_sample(arch: rmtgate.Architecture, size: int, seed: int) -> LocalSample:
    rng = np.random.default_rng(seed)
    names = [s.name for s in (*arch.state_symbols, *arch.local_form.field_symbols)]
    return LocalSample.from_arrays({n: rng.normal(0, 0.8, size) for n in names})


def test_catalogue_covers_every_kind_on_gru_lstm_and_a_spec_file() -> None:
    kinds = {"drop-term", "variance", "factorized", "zero-state", "swap-variances"}
    counts = {}
    for arch in (rmtgate.gru(), rmtgate.lstm(), rmtgate.load_spec(SPEC)):
        found = mutants(rmtgate.derive(arch).boundary)
        assert {m.kind for m in found} == kinds
        assert len({m.name for m in found}) == len(found)  # names identify mutants
        counts[arch.name] = len(found)
    # GRU: 7 nonzero T entries + 3 fields × 2 variances + 2 + 3 swaps; MGU 4 + 4 + 2 + 1
    assert counts["gru"] == 18 and counts["mgu"] == 11 and counts["lstm"] >= 12


def test_scaled_evaluator_scales_one_row_of_L_exactly() -> None:
    bnd = rmtgate.derive(rmtgate.gru()).boundary
    sample = _random_sample(rmtgate.gru(), 50, 0)
    base = DirectEvaluator(bnd, sample, GRU).L(LAMBDAS)
    scaled = ScaledEvaluator(bnd, sample, GRU, row_factors=np.array([1.0, 1.1, 1.0])).L(LAMBDAS)
    np.testing.assert_allclose(scaled[:, 1, :], 1.1 * base[:, 1, :], rtol=1e-12)
    np.testing.assert_allclose(scaled[:, [0, 2], :], base[:, [0, 2], :], rtol=1e-12)


def test_factorized_evaluator_equals_the_true_L_on_a_single_point_sample() -> None:
    # with one sample point every expectation of a product IS the product of expectations
    bnd = rmtgate.derive(rmtgate.gru()).boundary
    resolved = {k: float(v) for k, v in GRU.items()}
    point = zero_state(bnd, resolved)
    mutant = next(m for m in mutants(bnd) if m.kind == "factorized")
    np.testing.assert_allclose(
        mutant.build(point, resolved).L(LAMBDAS), DirectEvaluator(bnd, point, resolved).L(LAMBDAS), rtol=1e-10
    )


def test_factorized_evaluator_differs_on_correlated_samples() -> None:
    # h and the fields correlated (h = tanh of the candidate field): E[XY] ≠ E[X]E[Y]
    arch = rmtgate.gru()
    bnd = rmtgate.derive(arch).boundary
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1.5, 400)
    sample = LocalSample.from_arrays(
        {
            "h": np.tanh(y) + 0.1 * rng.normal(size=400),
            "eta_z": rng.normal(0, 1, 400),
            "eta_r": rng.normal(0, 1, 400),
            "eta_h": y,
        }
    )
    mutant = next(m for m in mutants(bnd) if m.kind == "factorized")
    true = DirectEvaluator(bnd, sample, GRU).L(LAMBDAS)
    assert np.max(np.abs(mutant.build(sample, GRU).L(LAMBDAS) - true) / np.abs(true).max()) > 1e-3


def test_drop_term_mutant_zeroes_exactly_one_entry_or_term() -> None:
    bnd = rmtgate.derive(rmtgate.gru()).boundary
    sample = _random_sample(rmtgate.gru(), 30, 2)
    true = DirectEvaluator(bnd, sample, GRU).L(LAMBDAS)
    for mutant in (m for m in mutants(bnd) if m.kind == "drop-term"):
        changed = np.any(np.abs(mutant.build(sample, GRU).L(LAMBDAS) - true) > 1e-12 * np.abs(true).max(), axis=0)
        assert changed.sum() == 1, mutant.name  # one entry of L moves, nothing else


@pytest.mark.parametrize("kind", ["swap-variances", "variance"])
def test_variance_mutants_move_the_radius_of_the_zero_state_disk(kind: str) -> None:
    # GRU zero state, closed form radius (1−σ(b_z))σ(b_r)a_h: a_h² × 1.1 moves it by √1.1
    from rmtgate.numerics.curves import spectral_curve

    bnd = rmtgate.derive(rmtgate.gru()).boundary
    resolved = {k: float(v) for k, v in GRU.items()}
    point = zero_state(bnd, resolved)
    base = spectral_curve(DirectEvaluator(bnd, point, resolved), n_angles=16)
    target = {"variance": "variance-hx1.1", "swap-variances": "swap-z-h"}[kind]
    mutant = next(m for m in mutants(bnd) if m.name == target)
    moved = spectral_curve(mutant.build(point, resolved), n_angles=16)
    center = 1 / (1 + np.exp(-GRU["b_z"]))  # the disk's centre σ(b_z)
    r0 = np.max(np.abs(base.points - center))
    r1 = np.max(np.abs(moved.points - center))
    if kind == "variance":
        assert r1 / r0 == pytest.approx(np.sqrt(1.1), rel=1e-6)
    else:  # only the h row carries U_h at the zero state: a_h → a_z
        assert r1 / r0 == pytest.approx(GRU["a_z"] / GRU["a_h"], rel=1e-6)
