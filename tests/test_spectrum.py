"""Spectral curve numerics: zero fixed points (closed forms), evaluator conformance, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

import rmtgate
from rmtgate.errors import ParameterError, StateError
from rmtgate.numerics.curves import contains, spectral_curve, theory
from rmtgate.numerics.evaluators import EVALUATORS, evaluator
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.symbolic.boundary import boundary
from rmtgate.symbolic.derive import derive

biases = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)
scales = st.floats(min_value=0.2, max_value=5.0, allow_nan=False)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(a_h=scales, a_z=scales, a_r=scales, b_z=biases, b_r=biases)
def test_gru_zero_fixed_point_is_the_disk_of_prop_4_2(
    a_h: float, a_z: float, a_r: float, b_z: float, b_r: float
) -> None:
    params = {"a_h": a_h, "a_z": a_z, "a_r": a_r, "b_z": b_z, "b_r": b_r}
    _, curve = theory(rmtgate.gru(), "zero", params, n_angles=64)
    center, radius = expit(b_z), (1 - expit(b_z)) * expit(b_r) * a_h
    # the root finder stops at 1e-10 of the scan radius: points sit on the circle to ~1e-9
    assert np.max(np.abs(np.abs(curve.points - center) - radius)) < 1e-8 * max(1.0, radius)
    assert curve.spectral_radius == pytest.approx(center + radius, rel=1e-8)
    # [G 21]: stable iff σ(b_z) + (1 − σ(b_z)) σ(b_r) a_h < 1 (away from the marginal case)
    criterion = expit(b_z) + (1 - expit(b_z)) * expit(b_r) * a_h
    if abs(criterion - 1) > 1e-6:
        assert (curve.spectral_radius < 1) == (criterion < 1)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(a_h=scales, a_f=scales, a_i=scales, a_o=scales, b_f=biases, b_i=biases, b_o=biases)
def test_lstm_zero_fixed_point_is_the_disk_of_cor_5_3(
    a_h: float, a_f: float, a_i: float, a_o: float, b_f: float, b_i: float, b_o: float
) -> None:
    params = {"a_h": a_h, "a_f": a_f, "a_i": a_i, "a_o": a_o, "b_f": b_f, "b_i": b_i, "b_o": b_o}
    _, curve = theory(rmtgate.lstm(), "zero", params, n_angles=64)
    center, radius = expit(b_f), expit(b_o) * expit(b_i) * a_h
    assert np.max(np.abs(np.abs(curve.points - center) - radius)) < 1e-8 * max(1.0, radius)
    # Cor 5.4: stable iff σ(b_f) + σ(b_o) σ(b_i) a_h < 1
    criterion = center + radius
    assert curve.spectral_radius == pytest.approx(criterion, rel=1e-8)
    if abs(criterion - 1) > 1e-6:
        assert (curve.spectral_radius < 1) == (criterion < 1)


def test_zero_state_requires_a_fixed_point() -> None:
    with pytest.raises(StateError, match="fixed point"):
        theory(rmtgate.gru(), "zero", {"a_h": 2, "a_z": 1, "a_r": 1, "b_h": 0.5})


def _random_sample(arch: rmtgate.Architecture, size: int, seed: int) -> LocalSample:
    rng = np.random.default_rng(seed)
    values = {s: rng.normal(0, 0.8, size) for s in arch.state}
    values.update({f.symbol.name: rng.normal(0, 1.5, size) for f in arch.fields})
    return LocalSample.from_arrays(values)


def _params(arch: rmtgate.Architecture, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {p.name: float(rng.uniform(0.3, 2.0)) for p in arch.parameters}


@pytest.mark.parametrize("name", ["vanilla", "gru", "lstm", "mgu", "ctrnn"])
@pytest.mark.parametrize("backend", sorted(EVALUATORS))
def test_evaluators_agree_with_mpmath(name: str, backend: str) -> None:
    # conformance: every backend reproduces the 40-digit mpmath value of L(λ) to 1e-12 relative
    arch = rmtgate.builtin(name)
    bnd = boundary(derive(arch).linearization)
    sample = _random_sample(arch, 12, seed=1)
    params = _params(arch, seed=2)
    reference = evaluator(bnd, sample, params, backend="mpmath", dps=40)
    tested = evaluator(bnd, sample, params, backend=backend)
    rng = np.random.default_rng(5)
    points = rng.uniform(-2, 2, 6) + 1j * rng.uniform(0.05, 2, 6)
    expected = reference.L(points)
    got = tested.L(points)
    scale = np.max(np.abs(expected), axis=(-1, -2), keepdims=True)
    assert np.max(np.abs(got - expected) / scale) < 1e-12
    assert np.max(expected) > 0  # not a comparison of zeros


def test_mpmath_evaluator_carries_precision_beyond_doubles() -> None:
    # at λ = z + 1e-20 i the kernel 1/|λ − z|² = 1e40 is exact in mpmath; doubles see λ − z = 0
    arch = rmtgate.vanilla()
    bnd = boundary(derive(arch).linearization)
    sample = LocalSample.from_arrays({"h": [0.0], "eta_h": [0.0]})
    ev = evaluator(bnd, sample, {"a_h": 1.0}, backend="mpmath", dps=50)
    import mpmath

    with mpmath.workdps(50):
        value = ev.spectral_function_mp(mpmath.mpc(0, mpmath.mpf("1e-20")))
        assert mpmath.almosteq(value, mpmath.mpf("1e40"), rel_eps=mpmath.mpf("1e-45"))


def test_membership_is_vectorized_and_matches_the_disk() -> None:
    ev, _ = theory(rmtgate.vanilla(), "zero", {"a_h": 1.5})
    points = np.array([0.1 + 0.1j, 1.49, 1.51, -1.4j, 2 + 2j])
    assert contains(ev, points).tolist() == [True, True, False, True, False]


def test_non_star_shaped_support_reports_every_crossing() -> None:
    # two clusters of update-gate values make two disjoint disks: rays from the center that
    # reach the far disk cross the edge three times (leave the near disk, enter and leave the far one)
    arch = rmtgate.gru()
    bnd = boundary(derive(arch).linearization)
    n = 400
    z_values = (0.2, 0.8)
    eta_z = np.repeat([np.log(z / (1 - z)) for z in z_values], n // 2)
    sample = LocalSample.from_arrays({"h": np.zeros(n), "eta_z": eta_z, "eta_r": np.zeros(n), "eta_h": np.zeros(n)})
    a_h = 0.5
    # σ(b_r = 0) = 1/2 enters |T_hh|² as r² = 1/4, so scale a_h by 2 to keep the radii below
    ev = evaluator(bnd, sample, {"a_h": 2 * a_h, "a_z": 1.0, "a_r": 1.0})
    curve = spectral_curve(ev, n_angles=180)
    assert curve.multiple_crossings >= 4
    assert max(r.size for r in curve.crossings) == 3
    # with h = 0 only L_hh survives: closed form ρ(λ) = Σ_c ½ a_h² (1 − z_c)² / |λ − z_c|²
    points = curve.points
    closed = sum(0.5 * a_h**2 * (1 - z_c) ** 2 / np.abs(points - z_c) ** 2 for z_c in z_values)
    assert np.max(np.abs(closed - 1)) < 1e-8
    # both disks are found: some crossing lies near each cluster
    for z_c in z_values:
        assert np.min(np.abs(points - z_c)) < a_h * (1 - z_c)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"a_z": 1, "a_r": 1}, "missing='a_h'"),
        ({"a_h": 1, "a_z": 1, "a_r": 1, "a_q": 1}, "parameter='a_q'"),
        ({"a_h": float("nan"), "a_z": 1, "a_r": 1}, "a_h=nan"),
        ({"a_h": float("inf"), "a_z": 1, "a_r": 1}, "a_h=inf"),
        ({"a_h": -1, "a_z": 1, "a_r": 1}, "a_h=-1"),
    ],
)
def test_bad_parameters_raise_typed_errors(params: dict, fragment: str) -> None:
    with pytest.raises(ParameterError) as info:
        theory(rmtgate.gru(), "zero", params)
    assert fragment in str(info.value)


def test_bad_samples_raise_typed_errors() -> None:
    bnd = boundary(derive(rmtgate.gru()).linearization)
    params = {"a_h": 1, "a_z": 1, "a_r": 1}
    with pytest.raises(StateError, match="non-empty"):
        LocalSample.from_arrays({})
    with pytest.raises(StateError, match="eta_z"):
        LocalSample.from_arrays({"h": [1.0, 2.0], "eta_z": [1.0]})
    with pytest.raises(StateError, match="at least one value"):
        LocalSample.from_arrays({"h": []})
    with pytest.raises(StateError, match="finite"):
        LocalSample.from_arrays({"h": [np.nan]})
    with pytest.raises(StateError, match="missing='eta_h'"):
        evaluator(bnd, LocalSample.from_arrays({"h": [0.0], "eta_z": [0.0], "eta_r": [0.0]}), params)
    with pytest.raises(StateError, match="key='x'"):
        evaluator(bnd, LocalSample.from_arrays({k: [0.0] for k in ("h", "eta_z", "eta_r", "eta_h", "x")}), params)
    with pytest.raises(ParameterError, match="backend='cuda'"):
        evaluator(
            bnd, zero_state(bnd, {"a_h": 1, "a_z": 1, "a_r": 1, "b_h": 0, "b_z": 0, "b_r": 0}), params, backend="cuda"
        )
