"""[S] Fig. S1-S5 drawn from the analyses of :mod:`rmtgate.training.lowrank` (``rmtgate reproduce s1 ... s5``).

Small networks by default (minutes on a CPU); the paper's sizes with ``full=True`` / ``--full``.
Fig. S5 has its own task (a pulse, then a cosine to produce), registered here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.figures import save_figure
from rmtgate.training.bptt import train
from rmtgate.training.lowrank import eigenvalues, scaling_with_N, singular_values
from rmtgate.training.tasks import Batch, Task, generate, register_structure


# ------------------------------------------------------------------------------------------ Fig. S5 task
def _oscillation(task: Task, batch: int, dt: float, rng: np.random.Generator) -> Batch:
    """Fig. S5: a delta pulse at t = 0 through the input vector, target ``cos(2π f t)`` throughout."""
    K = task.steps(dt)
    t = np.arange(K) * dt
    inputs = np.zeros((batch, K, 1))
    inputs[:, 0, 0] = task.input_amplitude / dt  # unit-area pulse
    targets = np.broadcast_to(np.cos(2 * np.pi * task.extra["frequency"] * (t + dt))[None, :, None], (batch, K, 1))
    return Batch(inputs, targets.copy(), np.ones((batch, K), dtype=bool), dt, {})


register_structure("oscillation", _oscillation)
OSCILLATION = Task("oscillation", "oscillation", 1, 1, 20.0, 0.0, None, None, None, None, 1.0, 1.0, {"frequency": 0.2})


# ------------------------------------------------------------------------------------------ figures
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_s1(out: Path, *, full: bool = False) -> dict[str, Any]:
    """Scaling with N for flip-flop, Mante, Romo (small: N ≤ 128, 1 seed, g ∈ {0, 0.9}).

    Both sizes train for [S]'s epoch budgets (1000, 2000, 6000): at g = 0 Romo needs ~2,500-2,900
    epochs to reach 5 % of its initial loss at N = 32-128, so a shorter default would leave the
    figure's first row with missing points.
    """
    plt = _plt()
    tasks = ["flipflop", "mante", "romo"]
    Ns = [64, 128, 256, 512, 1024] if full else [32, 64, 128]
    seeds = range(5) if full else range(1)
    gs = [0.0, 0.9, 1.8] if full else [0.0, 0.9]
    epochs = None
    fig, axes = plt.subplots(4, 3, figsize=(10, 11), sharex=True)
    summary: dict[str, Any] = {}
    for col, name in enumerate(tasks):
        points = scaling_with_N(name, gs, Ns, seeds=list(seeds), epochs=epochs, eval_batch=64 if not full else 512)
        summary[name] = [p.__dict__ for p in points]
        rows = {
            "epochs_to_5pct": "epochs to 5 % of initial loss",
            "delta_w_norm": "‖ΔW‖_F (final)",
            "w_norm": "‖W‖_F (final)",
            "functional_rank": "functional rank",
        }
        for g in gs:
            for row, attr in enumerate(rows):
                # -1 marks "never reached 5%": such runs are left out of the mean (a missing point
                # when no seed learned), never drawn as the value -1
                means = [
                    np.mean([v for p in points if p.N == N and p.g == g if (v := getattr(p, attr)) != -1] or [np.nan])
                    for N in Ns
                ]
                ax = axes[row, col]
                ax.plot(Ns, means, "o-", label=f"g = {g}")
                ax.set_xscale("log")
                ax.set_xticks(Ns, [str(N) for N in Ns])  # plain sizes, not 3×10¹-style labels
                ax.minorticks_off()
                ax.set_ylabel(rows[attr])
                ax.set_title(f"{name}: {rows[attr]}", fontsize=9)
    axes[0, 0].legend()
    for ax in axes[-1]:
        ax.set_xlabel("N")
    save_figure(fig, out / "s1.png", dpi=100)
    return summary


def figure_s2(out: Path, *, full: bool = False) -> dict[str, Any]:
    """Singular values and eigenvalues of ΔW and W after training, g ∈ {0, 0.9, 1.8}."""
    plt = _plt()
    N = 256 if full else 64
    epochs = None if full else 300
    tasks = ["flipflop", "mante", "romo"]
    gs = [0.0, 0.9, 1.8]
    fig, axes = plt.subplots(3, 5, figsize=(17, 10))
    summary: dict[str, Any] = {}
    for row, name in enumerate(tasks):
        for j, g in enumerate(gs):
            run = train(name, g=g, N=N, epochs=epochs, seed=j)
            sv = singular_values(run)
            ev = eigenvalues(run)
            summary[f"{name}_g{g}"] = {"sv_delta_W": sv["delta_W"][:10].tolist(), "loss_final": run.loss_final}
            axes[row, 0].plot(sv["delta_W"][:40], "o-", ms=3, label=f"g={g}")
            axes[row, 1].plot(sv["W"][:40], "o-", ms=3, label=f"g={g}")
            ax = axes[row, 2 + j]
            ax.plot(ev["W"].real, ev["W"].imag, ".", ms=3, label="W")
            ax.plot(ev["delta_W"].real, ev["delta_W"].imag, "x", ms=4, label="ΔW")
            theta = np.linspace(0, 2 * np.pi, 200)
            ax.plot(g * np.cos(theta), g * np.sin(theta), "k--", lw=0.8)
            ax.set_aspect("equal")
            ax.set_title(f"{name}, g={g}: eigenvalues")
            ax.set_xlabel("Re λ")
            ax.set_ylabel("Im λ")
        axes[row, 0].set_title(f"{name}: SVs of ΔW")
        axes[row, 1].set_title(f"{name}: SVs of W")
        for ax in axes[row, :2]:
            ax.set_xlabel("index")
            ax.set_ylabel("singular value")
        axes[row, 0].legend()
    axes[0, 2].legend()
    save_figure(fig, out / "s2.png", dpi=100)
    return summary


#: the s± predictions are series in x = β²τ truncated at x² (s₊) and x³ (s₋); beyond this x the
#: dropped terms are as large as the kept ones (at x = 2, s₊ = (ẑ/β)(x - x²/2) crosses zero and a
#: log axis shows it falling to its floor while the simulated s₁ stays ~ẑ), so the theory is drawn
#: only where it is a prediction
SERIES_RANGE = 0.6


def figure_s3(out: Path, *, full: bool = False) -> dict[str, Any]:
    """Evolution of the first five SVs of ΔW (log scale) for the simple task, with theory (dashed).

    Theory lines are drawn for ``x = β²τ <= SERIES_RANGE`` only (see :data:`SERIES_RANGE`).
    """
    from rmtgate.training.linear_theory import linear_learning_curve, predictions

    plt = _plt()
    N = 256 if full else 128
    fig, axes = plt.subplots(3, 2, figsize=(10, 11))
    summary: dict[str, Any] = {}
    for col, zhat in enumerate([0.5, 2.0]):
        for row, g in ((1, 0.0), (2, 0.6)):
            p = predictions(g, zhat)
            eta0 = 0.015 if zhat == 0.5 else 0.003
            epochs = 200
            tau_end = eta0 * (1 - g * g) ** 2 * epochs
            curve = linear_learning_curve(g, zhat, N, tau_end=tau_end, epochs=epochs, snapshot_every=2)
            ax = axes[row, col]
            for i in range(curve.singular_values.shape[1]):
                ax.semilogy(curve.tau, curve.singular_values[:, i] + 1e-16, label=f"$s_{i + 1}$ (simulation)")
            tau = curve.tau[p.x(curve.tau) <= SERIES_RANGE]
            ax.semilogy(tau, p.s_plus(tau), "k--", lw=1, label="$s_+$ theory (series)")
            ax.semilogy(tau, p.s_minus(tau), "k:", lw=1, label="$s_-$ theory (series)")
            ax.axvline(SERIES_RANGE / p.beta**2, color="grey", lw=0.6)
            ax.set_ylim(1e-8, 10)
            ax.set_title(f"SVs of ΔW, ẑ={zhat}, g={g}")
            ax.set_xlabel("τ = η · epoch")
            ax.set_ylabel("singular value")
            axes[0, col].semilogy(curve.tau[1:], curve.loss[: len(curve.tau)][1:], label=f"g={g}")
            summary[f"z{zhat}_g{g}"] = {
                "loss_final": float(curve.loss[-1]),
                "s1_final": float(curve.singular_values[-1, 0]),
                "theory_drawn_up_to_tau": float(SERIES_RANGE / p.beta**2),
            }
        axes[0, col].set_title(f"loss, ẑ={zhat}")
        axes[0, col].set_xlabel("τ = η · epoch")
        axes[0, col].set_ylabel("loss")
        axes[0, col].legend()
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(f"[S] Fig. S3: SVs of ΔW, linear network, simple task (N={N}); grey line: end of series range")
    fig.tight_layout()
    save_figure(fig, out / "s3.png", dpi=100)
    return summary


def figure_s4(out: Path, *, full: bool = False) -> dict[str, Any]:
    """Real parts of the leading eigenvalues of W during training (simple task, T = 201)."""
    from rmtgate.training.tasks import SIMPLE

    plt = _plt()
    N = 256 if full else 96
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    summary: dict[str, Any] = {}
    for zhat, eta0 in ((2.0, 0.002), (4.0, 0.001)):
        for g in (0.0, 0.8):
            task = SIMPLE.with_(duration=201.0, target_amplitude=zhat)
            run = train(
                task,
                g=g,
                N=N,
                epochs=200 if full else 100,
                batch_size=1,
                # --full: [S]'s rates η0 (1 − g²)², N = 256, 200 epochs (measured: ẑ = 2, g = 0.8 learns,
                # loss 2.0 → 8e-13; ẑ = 4, g = 0.8 fails, 8.0 → 6.2 after Re λ₁ reached 0.97).  The
                # small default (N = 96, 100 epochs) needs 5× the rate to learn in time, and at
                # g = 0.8 a tenth of that: near criticality the stable step shrinks faster than
                # (1 − g²)², and 1.3e-3 (ẑ = 2) or 1.3e-4 (ẑ = 4) pushed Re λ₁ past 1
                lr=eta0 * (1 - g * g) ** 2 if full else 5 * eta0 * (1 - g * g) ** 2 * (0.1 if g > 0.5 else 1.0),
                optimizer="gd",
                trained=("W",),
                nonlinearity="linear",
                seed=1,
                snapshot_every=5,
            )
            epochs = sorted(run.snapshots)
            lead = [np.sort(np.linalg.eigvals(run.snapshots[e]).real)[::-1][:5] for e in epochs]
            axes[0].semilogy(run.losses, label=f"ẑ={zhat}, g={g}")
            axes[1 if zhat == 2.0 else 2].plot(epochs, [v[0] for v in lead], label=f"g={g}")
            summary[f"z{zhat}_g{g}"] = {"loss_final": run.loss_final, "max_real_eig": float(lead[-1][0])}
    axes[0].set(title="loss (simple task, T = 201)", xlabel="epoch", ylabel="loss")
    for ax, zhat in zip(axes[1:], (2.0, 4.0), strict=True):
        ax.axhline(1.0, color="grey", ls="--", label="Re λ = 1")
        ax.set(title=f"largest Re λ of W, ẑ={zhat}", xlabel="epoch", ylabel="Re λ₁")
        ax.legend()
    axes[0].legend()
    fig.tight_layout()
    save_figure(fig, out / "s4.png", dpi=100)
    return summary


def figure_s5(out: Path, *, full: bool = False) -> dict[str, Any]:
    """Fig. S5: a linear network learns a cosine with ``m = w`` only when ``g > 0``.

    Plain gradient descent on ``W`` (as [S]'s linear model): from ``W0 = 0`` every update is built
    from the single vector ``w``, so ``ΔW ∝ w wᵀ`` stays rank one with a real eigenvalue and the
    oscillation (a complex pair) cannot form; random ``W0`` supplies the missing direction.  Adam
    would break this argument (its per-entry scaling leaves the span of ``w``: with Adam, g = 0
    learns too), hence GD.  The gradient is clipped to norm 0.05: once ``Re λ`` nears 1 it
    explodes ([S] Fig. S4) and unclipped rates large enough to learn in a few hundred epochs
    diverged.  Returns ``final_loss`` per g (keys ``"0.0"``, ``"0.4"``, ``"0.8"``).
    """
    from rmtgate.training.bptt import forward, init_network

    plt = _plt()
    N = 256 if full else 64
    epochs = 1000 if full else 400
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    summary: dict[str, Any] = {"final_loss": {}, "initial_loss": {}, "max_imag_eig": {}, "N": N, "epochs": epochs}
    batch = generate(OSCILLATION, 1, dt=0.1, seed=0)
    t = np.arange(batch.inputs.shape[1]) * 0.1 + 0.1
    axes[0].plot(t, batch.targets[0, :, 0], "k--", lw=1, label="target cos(2π·0.2 t)")
    for g in (0.0, 0.4, 0.8):
        net = init_network(N, 1, 1, g, seed=3, dt=0.1, nonlinearity="linear")
        net = net.with_(m=net.w / math.sqrt(N))  # input and output along the same vector
        run = train(
            OSCILLATION,
            g=g,
            N=N,
            epochs=epochs,
            batch_size=1,
            lr=1.0,
            clip=0.05,
            optimizer="gd",
            trained=("W",),
            nonlinearity="linear",
            dt=0.1,
            network=net,
        )
        z = np.asarray(forward(run.final, batch.inputs))[0, :, 0]
        axes[0].plot(t, z, label=f"g={g}")
        axes[1].semilogy(run.losses, label=f"g={g}")
        ev = np.linalg.eigvals(run.final.W)
        axes[2].plot(ev.real, ev.imag, ".", ms=3, label=f"g={g}")
        summary["final_loss"][f"{g:.1f}"] = run.loss_final
        summary["initial_loss"][f"{g:.1f}"] = run.loss_initial
        summary["max_imag_eig"][f"{g:.1f}"] = float(np.max(ev.imag))
    axes[0].set(title="(a) output after training", xlabel="time t", ylabel="readout z(t)")
    axes[1].set(title="(b) loss (GD on W, m = w)", xlabel="epoch", ylabel="loss")
    axes[2].set(title="(c) eigenvalues of W after training", xlabel="Re λ", ylabel="Im λ")
    axes[2].axvline(1.0, color="grey", ls="--", lw=0.8)
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(f"[S] Fig. S5: learning a cosine needs initial connectivity (linear RNN, N={N})")
    fig.tight_layout()
    save_figure(fig, out / "s5.png", dpi=100)
    return summary


FIGURES = {"s1": figure_s1, "s2": figure_s2, "s3": figure_s3, "s4": figure_s4, "s5": figure_s5}
