"""[G] Fig. 4 at a scale that runs here: initial Jacobian mass near 1 and trainability over (a_h, a_z).

For every grid point and seed a GRU (zero biases, ``a_r = 0.1`` as in [G] App. H) is drawn from the
theory's ensemble (:func:`rmtgate.training.gated.init_gated`, i.e. :func:`rmtgate.simulation.simulate`
with the same seed) and

* the *mass near 1* is the fraction of Jacobian eigenvalues with ``|λ - 1| < radius`` (left
  panel), at the states the digit sequences drive the untrained network to (last step of
  ``jacobian_sequences`` training sequences: what training sees; with zero biases and a_h ≤ 2 the
  autonomous network sits at the zero fixed point, where z = 1/2 and a_z has no effect), and
  also (``mass_near_one_autonomous``) at the autonomous steady state of
  :func:`rmtgate.simulation.simulate` for the same seed;
* the same network is trained on sequential digits: epochs to 75 % training accuracy (middle) and
  the training accuracy after the last epoch (right), averaged over seeds.

[G] trains N = 256 on 784-step MNIST for 15 epochs; the default here is N = 48 on a 4×4 grid with 3 seeds (≈ 7 CPU-s per run), on the 64-step
8×8 digits (the scaled-down sequential MNIST of :mod:`rmtgate.training.sequential`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.figures import save_figure
from rmtgate.simulation.simulate import jacobian_eigvals, simulate
from rmtgate.symbolic.builtins import gru

DEFAULT_AH = (1.0, 2.0, 3.0, 4.0)
DEFAULT_AZ = (0.5, 1.0, 2.0, 5.0)
NEAR_ONE_RADIUS = 0.1


@dataclass(frozen=True)
class Fig4Settings:
    """Sizes of one Fig. 4 reproduction (defaults fit ≈ 30 min on two busy cores)."""

    a_h: tuple[float, ...] = DEFAULT_AH
    a_z: tuple[float, ...] = DEFAULT_AZ
    a_r: float = 0.1
    seeds: tuple[int, ...] = (0, 1, 2)
    N: int = 48
    epochs: int = 15
    batch_size: int = 100
    lr: float = 1e-2
    radius: float = NEAR_ONE_RADIUS
    transient: int = 200
    jacobian_sequences: int = 4
    dtype: str = "float32"


def mass_near_one(params: dict[str, float], *, N: int, seed: int, radius: float, transient: int) -> float:
    """Fraction of steady-state Jacobian eigenvalues within ``radius`` of 1 (network drawn by ``seed``)."""
    sim = simulate(gru(), params, N=N, steps=1, transient=transient, seed=seed)
    eigenvalues = jacobian_eigvals(sim).reshape(-1)
    return float(np.mean(np.abs(eigenvalues - 1.0) < radius))


def _one_point(job: tuple[float, float, int, Fig4Settings]) -> dict[str, Any]:
    """Train one network of the grid (a top-level function: runs in a worker process)."""
    from rmtgate.training.gated import driven_jacobian
    from rmtgate.training.sequential import load_digits_sequential, train_gated

    a_h, a_z, seed, s = job
    params = {"a_h": a_h, "a_z": a_z, "a_r": s.a_r, "b_h": 0.0, "b_z": 0.0, "b_r": 0.0}
    autonomous = mass_near_one(params, N=s.N, seed=seed, radius=s.radius, transient=s.transient)
    data = load_digits_sequential()
    run = train_gated(
        gru(),
        params,
        data,
        N=s.N,
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        seed=seed,
        dtype=s.dtype,
    )
    eigenvalues = np.concatenate(
        [np.linalg.eigvals(driven_jacobian(run.initial, data.x_train[i])) for i in range(s.jacobian_sequences)]
    )
    return {
        "a_h": a_h,
        "a_z": a_z,
        "seed": seed,
        "mass_near_one": float(np.mean(np.abs(eigenvalues - 1.0) < s.radius)),
        "mass_near_one_autonomous": autonomous,
        "epochs_to_75": run.epochs_to_target,
        "train_accuracy": run.train_accuracy,
        "test_accuracy": run.test_accuracy,
        "accuracy_history": run.accuracy_history,
        "seconds": run.settings["seconds"],
    }


def reproduce_fig4(settings: Fig4Settings = Fig4Settings(), *, workers: int = 1) -> dict[str, Any]:
    """Run the grid; return per-run records and per-point means as ``len(a_h) × len(a_z)`` lists.

    ``epochs_to_75`` of a run that never reaches 75 % counts as ``epochs + 1`` in the mean (and
    the number of such runs is reported in ``never_reached``), so slow corners are not hidden.
    """
    jobs = [(a_h, a_z, seed, settings) for a_h in settings.a_h for a_z in settings.a_z for seed in settings.seeds]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(_one_point, jobs))
    else:
        runs = [_one_point(job) for job in jobs]
    shape = (len(settings.a_h), len(settings.a_z))
    keys = ("mass_near_one", "mass_near_one_autonomous", "epochs_to_75", "train_accuracy", "test_accuracy")
    grids = {k: np.zeros(shape) for k in keys}
    never = np.zeros(shape, dtype=int)
    for i, a_h in enumerate(settings.a_h):
        for j, a_z in enumerate(settings.a_z):
            point = [r for r in runs if r["a_h"] == a_h and r["a_z"] == a_z]
            for key in ("mass_near_one", "mass_near_one_autonomous", "train_accuracy", "test_accuracy"):
                grids[key][i, j] = float(np.mean([r[key] for r in point]))
            epochs = [settings.epochs + 1 if r["epochs_to_75"] is None else r["epochs_to_75"] for r in point]
            grids["epochs_to_75"][i, j] = float(np.mean(epochs))
            never[i, j] = sum(r["epochs_to_75"] is None for r in point)
    return {
        "settings": {
            **settings.__dict__,
            "a_h": list(settings.a_h),
            "a_z": list(settings.a_z),
            "seeds": list(settings.seeds),
        },
        "a_h": list(settings.a_h),
        "a_z": list(settings.a_z),
        **{k: v.tolist() for k, v in grids.items()},
        "never_reached": never.tolist(),
        "runs": runs,
    }


def draw_fig4(result: dict[str, Any], path: Path) -> Path:
    """The three panels of [G] Fig. 4 as heat maps over (a_z, a_h), with colour bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patheffects import withStroke

    halo = [withStroke(linewidth=2.5, foreground="white")]
    a_h, a_z = result["a_h"], result["a_z"]
    s = result["settings"]
    panels = [
        (
            "mass_near_one",
            f"initial Jacobian: fraction of eigenvalues\nwith |λ-1| < {s['radius']:g} (input-driven state)",
            "viridis",
        ),
        ("epochs_to_75", f"epochs to 75 % training accuracy\n({s['epochs'] + 1} = never)", "viridis_r"),
        ("train_accuracy", f"training accuracy after {s['epochs']} epochs", "viridis"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for ax, (key, title, cmap) in zip(axes, panels, strict=True):
        values = np.asarray(result[key])
        image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap)
        for i in range(len(a_h)):
            for j in range(len(a_z)):
                # black on a white halo: readable on the dark and the bright end of the map
                ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize=8, path_effects=halo)
        ax.set_xticks(range(len(a_z)), [f"{v:g}" for v in a_z])
        ax.set_yticks(range(len(a_h)), [f"{v:g}" for v in a_h])
        ax.set_xlabel("$a_z$")
        ax.set_ylabel("$a_h$")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax)
    fig.suptitle(
        f"[G] Fig. 4, scaled down: GRU N={s['N']}, $a_r$={s['a_r']:g}, zero biases, sequential 8×8 digits (64 steps), "
        f"{len(s['seeds'])} seeds",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def figure_g4(out: Path, *, full: bool = False, workers: int | None = None) -> dict[str, Any]:
    """``rmtgate reproduce g-fig4``: run the grid, write ``g-fig4.json`` and ``g-fig4.png`` in ``out``.

    ``full`` uses [G]'s N = 256 and a 5×5 grid with 3 seeds (hours on a CPU).
    """
    settings = Fig4Settings()
    if full:
        settings = Fig4Settings(a_h=(0.5, 1.0, 2.0, 3.0, 4.0), a_z=(0.5, 1.0, 2.0, 3.5, 5.0), seeds=(0, 1, 2), N=256)
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1))
    result = reproduce_fig4(settings, workers=workers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "g-fig4.json").write_text(json.dumps(result, indent=1, default=_jsonable))
    draw_fig4(result, out / "g-fig4.png")
    return {k: v for k, v in result.items() if k != "runs"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(type(value))


def best_point(result: dict[str, Any], key: str = "test_accuracy") -> tuple[float, float, float]:
    """``(a_h, a_z, value)`` of the grid point with the largest mean ``key``."""
    values = np.asarray(result[key])
    i, j = np.unravel_index(int(np.argmax(values)), values.shape)
    return result["a_h"][i], result["a_z"][j], float(values[i, j])


def grid_summary(
    result: dict[str, Any], keys: Sequence[str] = ("mass_near_one", "epochs_to_75", "train_accuracy")
) -> str:
    """A plain-text table of the panels (rows a_h, columns a_z)."""
    lines = []
    for key in keys:
        lines.append(f"{key} (rows a_h={result['a_h']}, columns a_z={result['a_z']})")
        lines += ["  " + " ".join(f"{v:7.3f}" for v in row) for row in result[key]]
    return "\n".join(lines)
