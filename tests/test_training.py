"""BPTT training: gradients against finite differences, optimizers, runs on disk, CLI, bad input."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from rmtgate.cli.train import register as add_training_commands
from rmtgate.errors import BackendUnavailable, ParameterError, RmtgateError
from rmtgate.training.bptt import (
    Adam,
    GradientDescent,
    TrainingRun,
    forward,
    init_network,
    loss,
    loss_and_gradients,
    train,
)
from rmtgate.training.lowrank import functional_rank, shuffled_loss, truncate, truncation_losses
from rmtgate.training.tasks import SIMPLE, generate


@pytest.mark.parametrize(
    ("task", "nonlinearity", "g"),
    [("flipflop", "tanh", 0.9), ("mante", "tanh", 1.8), ("romo", "tanh", 0.0), ("simple", "linear", 0.5)],
)
def test_bptt_gradient_matches_central_differences(task: str, nonlinearity: str, g: float) -> None:
    # Central differences along a random direction D: (L(θ+hD) - L(θ-hD))/2h = ∇L·D + O(h²) with
    # h = 1e-5; the truncation error h² L''' ~ 1e-10 relative and the rounding error
    # ε_mach L / h ~ 1e-11 relative are both far below the required 1e-6 (float64).
    batch = generate(task, 3, seed=2)
    net = init_network(24, batch.inputs.shape[2], batch.targets.shape[2], g, seed=1, nonlinearity=nonlinearity)
    value, grads = loss_and_gradients(net, batch)
    assert value == pytest.approx(loss(net, batch), rel=1e-12)
    rng = np.random.default_rng(0)
    h = 1e-5
    for name in ("W", "m", "w"):
        direction = rng.standard_normal(getattr(net, name).shape)
        plus = loss(net.with_(**{name: getattr(net, name) + h * direction}), batch)
        minus = loss(net.with_(**{name: getattr(net, name) - h * direction}), batch)
        numeric = (plus - minus) / (2 * h)
        analytic = float(np.sum(grads[name] * direction))
        assert abs(numeric - analytic) <= 1e-6 * abs(analytic), (name, numeric, analytic)


def test_linear_network_reaches_its_fixed_point_readout() -> None:
    # independent route: the linear network's last readout equals wᵀ(I-W)⁻¹ m / √N exactly once the
    # transient (contraction ≤ 1 - dt(1 - ρ(W)) ≈ 0.8 per step, 200 steps) has died out
    net = init_network(64, 1, 1, 0.5, seed=3, nonlinearity="linear")
    z = forward(net, generate("simple", 1, seed=0).inputs)[0, -1, 0]
    fixed = net.w[:, 0] @ np.linalg.solve(np.eye(64) - net.W, net.m[:, 0]) / math.sqrt(64)
    assert z == pytest.approx(fixed, rel=1e-10)


def test_gradient_descent_step_follows_the_flow_of_s6() -> None:
    # one GD step on W: ΔW = η (ẑ - z) Bᵀ w mᵀ Bᵀ exactly ([S 6], theory-normalized w/√N, m)
    N = 48
    run = train(
        SIMPLE, g=0.5, N=N, epochs=1, batch_size=1, lr=0.01, optimizer="gd", trained=("W",), nonlinearity="linear"
    )
    W0, m, w = run.initial.W, run.initial.m[:, 0], run.initial.w[:, 0] / math.sqrt(N)
    B = np.linalg.inv(np.eye(N) - W0)
    z = w @ B @ m
    expected = 0.01 * (0.5 - z) * np.outer(B.T @ w, B @ m)
    np.testing.assert_allclose(run.delta_W, expected, rtol=1e-8, atol=1e-14)
    assert np.array_equal(run.final.m, run.initial.m) and np.array_equal(run.final.w, run.initial.w)


def test_adam_training_reduces_the_loss_and_round_trips_through_npz(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = train("flipflop", g=0.9, N=48, epochs=60, batch_size=16, seed=4, snapshot_every=30)
    assert run.losses.shape == (61,)
    assert run.loss_final < 0.6 * run.loss_initial
    assert sorted(run.snapshots) == [0, 30, 60]
    path = run.save(tmp_path / "run.npz")
    back = TrainingRun.load(path)
    np.testing.assert_array_equal(back.final.W, run.final.W)
    np.testing.assert_array_equal(back.initial.W, run.initial.W)
    np.testing.assert_array_equal(back.losses, run.losses)
    assert back.settings["g"] == 0.9 and back.task.name == "flipflop"
    # analyses run on it
    assert truncation_losses(run, [0], batch=generate("flipflop", 8, seed=0))[0] == pytest.approx(
        loss(run.initial.with_(m=run.final.m, w=run.final.w), generate("flipflop", 8, seed=0))
    )
    assert math.isfinite(shuffled_loss(run, batch=generate("flipflop", 8, seed=0)))
    # the rank search against its two ends: any rank passes a threshold above the initial loss
    # ratio (rank 0), none passes a threshold no finite-N loss reaches (-1)
    assert functional_rank(run, batch_size=8, max_rank=3, threshold=2.0) == 0
    assert functional_rank(run, batch_size=8, max_rank=3, threshold=1e-12) == -1


def test_truncate_is_the_best_low_rank_approximation() -> None:
    # Eckart-Young: ‖M - M_r‖_F² = Σ_{i>r} s_i²
    M = np.random.default_rng(0).standard_normal((30, 20))
    s = np.linalg.svd(M, compute_uv=False)
    for r in (0, 1, 5, 20):
        assert np.linalg.norm(M - truncate(M, r)) ** 2 == pytest.approx(np.sum(s[r:] ** 2))


def test_same_seed_same_run() -> None:
    a = train("romo", g=0.9, N=16, epochs=3, batch_size=4, seed=9)
    b = train("romo", g=0.9, N=16, epochs=3, batch_size=4, seed=9)
    np.testing.assert_array_equal(a.final.W, b.final.W)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"task": "pong", "g": 0.5, "N": 8},
            "Expected one of ['flipflop', 'mante', 'romo', 'simple'] but got task='pong'",
        ),
        ({"task": "romo", "g": 0.5, "N": -3}, "Expected an integer N >= 1 but got N=-3"),
        ({"task": "romo", "g": -0.1, "N": 8}, "Expected a finite number g >= 0 but got g=-0.1"),
        (
            {"task": "romo", "g": 0.5, "N": 8, "optimizer": "sgd"},
            "Expected one of ['adam', 'gd'] but got optimizer='sgd'",
        ),
        (
            {"task": "romo", "g": 0.5, "N": 8, "trained": ("U",)},
            "Expected names among ['W', 'm', 'w'] but got trained='U'",
        ),
        ({"task": "romo", "g": float("nan"), "N": 8}, "Expected a finite number g >= 0 but got g=nan"),
    ],
)
def test_bad_input_raises_typed_errors(kwargs: dict, message: str) -> None:
    task = kwargs.pop("task")
    with pytest.raises(ParameterError) as info:
        train(task, epochs=1, **kwargs)
    assert isinstance(info.value, RmtgateError) and str(info.value) == message


def test_unknown_backend_is_typed() -> None:
    with pytest.raises(BackendUnavailable):
        train("romo", g=0.5, N=8, epochs=1, backend="tpu")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmtgate")
    add_training_commands(parser.add_subparsers(dest="command"))
    return parser


def test_train_command_json_and_npz(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.npz"
    args = _parser().parse_args(
        [
            "train",
            "flipflop",
            "-p",
            "g=0.9",
            "--N",
            "32",
            "--epochs",
            "20",
            "--out",
            str(out),
            "--json",
            "--eval-batch",
            "16",
        ]
    )
    assert args.handler(args) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("loss_initial", "loss_final", "functional_rank", "delta_w_singular_values"):
        assert key in summary
    assert len(summary["delta_w_singular_values"]) == 10
    assert TrainingRun.load(out).settings["N"] == 32


def test_train_command_rejects_bad_parameters() -> None:
    for argv in (
        ["train", "flipflop", "-p", "g=-1", "--N", "8"],
        ["train", "flipflop", "--N", "-4"],
        ["train", "nope"],
    ):
        args = _parser().parse_args(argv)
        with pytest.raises(ParameterError):
            args.handler(args)


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_optimizer_acts_on_the_papers_coordinates(optimizer: str) -> None:
    # [S]'s code trains P = k θ (its wi = √N m and wo = w / N); with coordinates={name: k} the
    # update of θ must be exactly the update of P (by the same optimizer without coordinates)
    # divided by k.  Reference: the plain optimizer run on P = k θ with gradient ∂L/∂P = g / k.
    rng = np.random.default_rng(0)
    k = 8.0
    theta = rng.standard_normal(5)
    grads = [rng.standard_normal(5) * 10.0**e for e in (-3, 0, 2)]  # Adam is not scale-invariant at ε
    make = (lambda **kw: Adam(0.01, **kw)) if optimizer == "adam" else (lambda **kw: GradientDescent(0.01, **kw))
    ours, plain = make(coordinates={"m": k}), make()
    params_theta, params_p = {"m": theta.copy()}, {"m": k * theta}
    for g in grads:
        ours.step(np, params_theta, {"m": g})
        plain.step(np, params_p, {"m": g / k})
    np.testing.assert_allclose(params_theta["m"], params_p["m"] / k, rtol=1e-13)
