"""Task batches of [S §2, Table S1]: every generated trial satisfies its definition (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmtgate.errors import ParameterError, RmtgateError
from rmtgate.training.tasks import FLIPFLOP, MANTE, ROMO, SIMPLE, TASKS, Task, generate, get_task, register_task

seeds = st.integers(min_value=0, max_value=2**32 - 1)
dts = st.sampled_from([0.5, 0.25, 1.0])
sizes = st.integers(min_value=1, max_value=16)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=sizes, dt=dts)
def test_flipflop_targets_hold_the_last_pulse_sign(seed: int, batch: int, dt: float) -> None:
    b = generate("flipflop", batch, dt=dt, seed=seed)
    K = round(FLIPFLOP.duration / dt)
    assert b.inputs.shape == (batch, K, 2) and b.targets.shape == (batch, K, 2) and b.mask.shape == (batch, K)
    # at most one channel pulses at a time, with amplitude exactly u_amp = 1
    active = np.abs(b.inputs).sum(axis=2)
    assert set(np.unique(active)) <= {0.0, 1.0}
    for trial in range(batch):
        last_sign, last_channel = 0.0, -1
        for k in range(K):
            pulse = b.inputs[trial, k]
            if np.any(pulse):
                last_channel = int(np.argmax(np.abs(pulse)))
                last_sign = float(np.sign(pulse[last_channel]))
            if b.mask[trial, k]:
                assert last_channel >= 0 and not np.any(pulse)  # decision only after a pulse, between pulses
                expected = np.zeros(2)
                expected[last_channel] = 0.5 * last_sign
                np.testing.assert_array_equal(b.targets[trial, k], expected)
            else:
                assert not np.any(b.targets[trial, k])  # loss inactive: no target outside decisions
    # stimulus delays t_sd ∈ U(5, 25): consecutive onsets are t_stim + t_sd apart
    gaps = np.diff(b.info["onsets"], axis=1) - FLIPFLOP.stimulus
    assert np.all(gaps >= 5 - 1e-9) and np.all(gaps <= 25 + 1e-9)
    # the decision period starts t_delay = 5 after the pulse ends: the 5 time units after a pulse are unmasked
    n_delay = round(5 / dt)
    starts = np.nonzero(np.abs(b.inputs).sum(axis=2)[:, :-1] > np.abs(b.inputs).sum(axis=2)[:, 1:])
    for trial, k in zip(*starts, strict=True):
        assert not b.mask[trial, k + 1 : min(K, k + 1 + n_delay)].any()


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=sizes, dt=dts)
def test_romo_amplitudes_delays_and_decision(seed: int, batch: int, dt: float) -> None:
    b = generate("romo", batch, dt=dt, seed=seed)
    amps = b.info["amplitudes"]
    assert np.all(np.abs(amps[:, 0] - amps[:, 1]) >= 0.2)  # minimal difference, [S §2]
    assert np.all((amps >= 0.5) & (amps <= 1.5))
    delay = b.info["stimulus_delay"]
    assert np.all((delay >= 2 - dt / 2) & (delay <= 8 + dt / 2))  # U(2, 8) on the grid
    t = np.arange(b.steps) * dt
    for trial in range(batch):
        u = b.inputs[trial, :, 0]
        on = np.nonzero(u)[0]
        # two pulses of t_stim = 1, first at t_fix = 3, amplitudes as drawn
        assert on.size == round(2 / dt) and t[on[0]] == pytest.approx(3.0)
        np.testing.assert_allclose(sorted(set(u[on])), sorted(amps[trial]))
        decision = b.targets[trial].any(axis=1)
        start = b.info["decision_start"][trial]
        np.testing.assert_array_equal(decision, (t >= start - 1e-9) & (t < start + 10 - 1e-9))
        # the larger pulse's channel reports z_amp, the other stays at zero
        winner = int(np.argmax(amps[trial]))
        assert np.all(b.targets[trial, decision, winner] == 0.5) and not b.targets[trial, :, 1 - winner].any()
        # mask: on until the end of pulse 2, off during the 5-unit decision delay, on during decision
        end2 = t[on[-1]] + dt
        np.testing.assert_array_equal(b.mask[trial], (t < end2 - 1e-9) | decision)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, batch=sizes)
def test_mante_context_signal_and_masks(seed: int, batch: int) -> None:
    dt = 0.5
    b = generate("mante", batch, dt=dt, seed=seed)
    t = np.arange(b.steps) * dt
    stim = (t >= 3) & (t < 23)
    decision = (t >= 28) & (t < 48)
    context = b.info["context"]
    signs = b.info["signs"]
    # contexts: one-hot u_amp during the stimulus only
    np.testing.assert_array_equal(b.inputs[:, :, 2:], stim[None, :, None] * np.eye(2)[context][:, None, :])
    # signals: mean s_i during the stimulus plus noise 0.05 n/√dt throughout
    residual = b.inputs[:, :, :2] - signs[:, None, :] * stim[None, :, None]
    np.testing.assert_allclose(residual, 0.05 * b.info["noise"])
    np.testing.assert_array_equal(b.mask, np.broadcast_to((t < 23) | decision, b.mask.shape))
    relevant = signs[np.arange(batch), context]
    np.testing.assert_array_equal(b.targets[:, :, 0], decision[None, :] * 0.5 * relevant[:, None])


def test_mante_noise_has_the_white_noise_scaling() -> None:
    # η_k = n_k/√dt: the standard deviation of the input noise is 0.05/√dt; with 96·2·400
    # samples the sample sd has relative error ~ 1/√(2·76800) ≈ 0.26%, so 2% is > 7σ
    for dt in (0.5, 0.25):
        b = generate("mante", 400, dt=dt, seed=1)
        t = np.arange(b.steps) * dt
        quiet = (t < 3) | (t >= 23)
        assert np.std(b.inputs[:, quiet, :2]) == pytest.approx(0.05 / np.sqrt(dt), rel=0.02)


def test_simple_task() -> None:
    b = generate("simple", 3, seed=0)
    t = np.arange(b.steps) * 0.5
    np.testing.assert_array_equal(b.inputs[:, :, 0], np.broadcast_to(t >= 1, (3, b.steps)).astype(float))
    np.testing.assert_array_equal(b.mask[0], t >= 100)
    assert np.all(b.targets[b.mask] == 0.5)
    assert generate(SIMPLE.with_(target_amplitude=2.0), 1, seed=0).targets.max() == 2.0


def test_batches_are_seeded_and_table_s1_is_data() -> None:
    a, b = generate("romo", 8, seed=5), generate("romo", 8, seed=5)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(generate("romo", 8, seed=6).inputs, a.inputs)
    assert (MANTE.n_inputs, MANTE.n_outputs, MANTE.duration) == (4, 1, 48.0)
    assert (ROMO.n_inputs, ROMO.n_outputs, ROMO.stimulus_delay) == (1, 2, (2.0, 8.0))
    # a user adds a task by data: three-channel flip-flop
    three = Task(**{**FLIPFLOP.__dict__, "name": "flipflop3", "n_inputs": 3, "n_outputs": 3})
    register_task(three)
    try:
        assert generate("flipflop3", 4, seed=0).inputs.shape[2] == 3
    finally:
        TASKS.pop("flipflop3")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: get_task("pong"), "Expected one of ['flipflop', 'mante', 'romo', 'simple'] but got task='pong'"),
        (lambda: generate("romo", 0), "Expected an integer batch >= 1 but got batch=0"),
        (lambda: generate("romo", 2, dt=0), "Expected a time step in (0, 1] but got dt=0"),
    ],
)
def test_bad_input_raises_typed_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError) as info:
        call()
    assert isinstance(info.value, RmtgateError)
    assert str(info.value) == message
