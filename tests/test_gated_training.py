"""Gated networks trained by BPTT: gradients, initial ensemble, Jacobian, data and CLI (fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rmtgate
from rmtgate.errors import ParameterError, StateError
from rmtgate.simulation.simulate import jacobian_eigvals, jacobian_matrices, simulate
from rmtgate.training.gated import compile_gated, init_gated, loss_and_gradients, step_jacobian
from rmtgate.training.sequential import SequenceData, load_npz, train_gated

GRU_PARAMS = {"a_h": 2.0, "a_z": 3.0, "a_r": 1.0, "b_z": 0.3, "b_r": -0.2, "b_h": 0.1}
LSTM_PARAMS = {"a_h": 2.0, "a_f": 1.0, "a_i": 1.0, "a_o": 1.0, "b_f": 0.5, "b_i": 0.0, "b_o": 0.2, "b_h": 0.1}
MGU_PARAMS = {"a_h": 1.5, "a_f": 2.0, "b_f": 0.2, "b_h": 0.0}
GRADIENT_TOLERANCE = 1e-6  # relative error of BPTT vs central differences (step 1e-6, float64)

CASES = [(rmtgate.gru, GRU_PARAMS), (rmtgate.lstm, LSTM_PARAMS), (rmtgate.mgu, MGU_PARAMS)]


def _finite_difference(model, net, x, y, name: str, eps: float = 1e-6) -> np.ndarray:
    W = net.weights[name]
    out = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + eps
        plus = loss_and_gradients(model, net.params, net.weights, x, y, net.readout)[0]
        W[idx] = old - eps
        minus = loss_and_gradients(model, net.params, net.weights, x, y, net.readout)[0]
        W[idx] = old
        out[idx] = (plus - minus) / (2 * eps)
    return out


@pytest.mark.parametrize(("factory", "params"), CASES, ids=["gru", "lstm", "mgu"])
def test_bptt_matches_central_differences(factory, params) -> None:
    arch = factory()
    net = init_gated(arch, params, N=6, n_inputs=2, n_classes=3, seed=1)
    model = compile_gated(arch)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 5, 2)), rng.integers(0, 3, 3)
    _, grads, _ = loss_and_gradients(model, net.params, net.weights, x, y, net.readout)
    assert set(grads) == set(net.weights)
    for name in net.weights:
        numeric = _finite_difference(model, net, x, y, name)
        error = np.linalg.norm(grads[name] - numeric) / max(np.linalg.norm(numeric), 1e-12)
        assert error < GRADIENT_TOLERANCE, (arch.name, name, error)


@pytest.mark.parametrize(("factory", "params"), CASES[:2], ids=["gru", "lstm"])
def test_initial_network_is_the_simulated_ensemble(factory, params) -> None:
    """Same seed: the recurrent weights are simulate()'s, and the backward step's Jacobian is its Jacobian."""
    arch = factory()
    net = init_gated(arch, params, N=12, n_inputs=1, n_classes=2, seed=4)
    sim = simulate(arch, params, N=12, steps=6, seed=4)
    for fld in arch.local_form.fields:
        np.testing.assert_array_equal(net.weights[fld.matrix], sim.matrices[fld.matrix][0])
    state = {k: v[0] for k, v in sim.previous_state.items()}
    np.testing.assert_allclose(step_jacobian(net, state), jacobian_matrices(sim)[0], atol=1e-12)


def test_untrained_spectrum_matches_theory() -> None:
    """The untrained GRU's Jacobian spectrum (via the training code) has the theory's radius."""
    from rmtgate.verification.compare import compare_with_simulation

    params = {"a_h": 2.0, "a_z": 2.0, "a_r": 0.1}
    comparison = compare_with_simulation(rmtgate.gru(), params, N=200, steps=100, seed=3, n_angles=180)
    net = init_gated(rmtgate.gru(), params, N=200, n_inputs=1, n_classes=2, seed=3)
    sim = comparison.simulation
    state = {k: v[0] for k, v in sim.previous_state.items()}
    ours = np.linalg.eigvals(step_jacobian(net, state))
    np.testing.assert_allclose(np.sort(np.abs(ours)), np.sort(np.abs(jacobian_eigvals(sim)[0])), rtol=1e-8)
    assert abs(np.abs(ours).max() - comparison.theory_radius) / comparison.theory_radius < 0.1


def _toy_data(seed: int = 0) -> SequenceData:
    """Two classes told apart by the sign of the mean input: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 240)
    x = rng.standard_normal((240, 10, 1)) * 0.5 + (2 * y - 1)[:, None, None] * 0.5
    return SequenceData("toy", x[:200], y[:200], x[200:], y[200:], 2)


def test_training_learns_a_toy_task_and_is_seeded() -> None:
    data = _toy_data()
    kwargs = {"N": 16, "epochs": 4, "batch_size": 20, "lr": 1e-2, "seed": 5}
    run = train_gated(rmtgate.gru(), {"a_h": 1.0, "a_z": 1.0, "a_r": 0.5}, data, **kwargs)
    again = train_gated(rmtgate.gru(), {"a_h": 1.0, "a_z": 1.0, "a_r": 0.5}, data, **kwargs)
    assert run.test_accuracy > 0.9
    assert run.loss_history[-1] < run.loss_history[0]
    assert run.accuracy_history == again.accuracy_history
    assert run.epochs_to_target is not None
    lstm = train_gated(rmtgate.lstm(), {"a_h": 1.0, "a_f": 1.0, "a_i": 1.0, "a_o": 1.0}, data, **kwargs)
    assert lstm.test_accuracy > 0.9


def test_npz_loader(tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "seq.npz"
    images = rng.integers(0, 256, (20, 8, 8))
    np.savez(path, x_train=images[:15], y_train=np.arange(15) % 3, x_test=images[15:], y_test=np.arange(5) % 3)
    data = load_npz(path)
    assert data.x_train.shape == (15, 64, 1) and data.n_classes == 3
    np.savez(path, x_train=images[:15])
    with pytest.raises(ParameterError):
        load_npz(path)
    with pytest.raises(ParameterError):
        load_npz(tmp_path / "missing.npz")


def test_errors_are_typed() -> None:
    with pytest.raises(StateError):
        init_gated(rmtgate.gru(), GRU_PARAMS, N=4, n_inputs=1, n_classes=2, seed=0, readout="c")
    with pytest.raises(ParameterError):
        train_gated(rmtgate.gru(), GRU_PARAMS, _toy_data(), N=4, epochs=1, lr=-1.0)


def test_cli_train_digits_json(capsys, monkeypatch) -> None:
    pytest.importorskip("sklearn")
    from rmtgate.cli.main import main
    from rmtgate.training import sequential

    full = sequential.load_digits_sequential
    monkeypatch.setattr(sequential, "load_digits_sequential", lambda: full().subset(200, 100))  # keep it fast

    argv = ["train", "digits", "--arch", "gru", "-p", "a_h=2", "-p", "a_z=5", "-p", "a_r=0.1"]
    assert main([*argv, "--N", "8", "--epochs", "1", "--batch-size", "200", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("train_accuracy", "test_accuracy", "accuracy_history", "epochs_to_75", "loss_history"):
        assert key in out
    assert len(out["accuracy_history"]) == 1 and 0.0 <= out["test_accuracy"] <= 1.0


def test_driven_jacobian_matches_finite_differences() -> None:
    """With an input, the backward-step Jacobian is the derivative of the driven step (central differences)."""
    from rmtgate.training.gated import _fixed_parameters

    arch = rmtgate.lstm()
    net = init_gated(arch, LSTM_PARAMS, N=5, n_inputs=2, n_classes=2, seed=2)
    model = compile_gated(arch)
    rng = np.random.default_rng(1)
    state = {name: rng.standard_normal(5) for name in arch.state}
    x = rng.standard_normal(2)
    J = step_jacobian(net, state, x)
    pvals = _fixed_parameters(model, net.params, net.weights)

    def step(flat: np.ndarray) -> np.ndarray:
        # one driven step written out directly from the compiled local map
        s = {name: flat[i * 5 : (i + 1) * 5] for i, name in enumerate(arch.state)}
        values = [s[name][None] for name in arch.state]
        etas: list = [0.0] * len(model.matrices)
        for fld, make_input in zip(arch.local_form.fields, model.step.field_inputs, strict=True):
            u = np.broadcast_to(make_input(*values, *etas, *pvals), (1, 5))
            k = model.matrices.index(fld.matrix)
            etas[k] = u @ net.weights[fld.matrix].T + x @ net.weights["V_" + fld.matrix].T
        new = model.step.new_state(*values, *etas, *pvals)
        return np.concatenate([np.broadcast_to(v, (1, 5))[0] for v in new])

    flat = np.concatenate([state[name] for name in arch.state])
    eps = 1e-6
    numeric = np.stack([(step(flat + eps * e) - step(flat - eps * e)) / (2 * eps) for e in np.eye(10)], axis=1)
    np.testing.assert_allclose(J, numeric, atol=1e-8)
