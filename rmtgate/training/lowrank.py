"""Analyses of trained connectivity [S §3, Fig. S1-S5]: spectra, rank truncation, shuffling, scaling.

For a :class:`~rmtgate.training.TrainingRun`: singular values and eigenvalues of ``ΔW = W - W0``
and of ``W``; the loss after truncating ``ΔW`` (or ``W``) to rank ``r``; the *functional rank*
(the smallest ``r`` whose ``ΔW``-truncation loss is below 5% of the initial loss); the loss after
shuffling ``W0`` while keeping ``ΔW``; and the scaling of these with ``N``.  The figures of
[S] Fig. S1-S5 that ``rmtgate reproduce`` draws from them are in
:mod:`rmtgate.training.s_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.training.bptt import Network, TrainingRun, loss, train
from rmtgate.training.linear_theory import shuffle
from rmtgate.training.tasks import Batch, Task, generate

FUNCTIONAL_THRESHOLD = 0.05


def singular_values(run: TrainingRun) -> dict[str, np.ndarray]:
    """Singular values (descending) of ``ΔW`` and of ``W``."""
    return {
        "delta_W": np.linalg.svd(run.delta_W, compute_uv=False),
        "W": np.linalg.svd(run.final.W, compute_uv=False),
    }


def eigenvalues(run: TrainingRun) -> dict[str, np.ndarray]:
    """Eigenvalues of ``ΔW`` and of ``W`` (compare with the circle of radius g)."""
    return {"delta_W": np.linalg.eigvals(run.delta_W), "W": np.linalg.eigvals(run.final.W)}


def truncate(matrix: np.ndarray, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation (truncated SVD)."""
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or rank < 0:
        raise ParameterError(expected("an integer rank >= 0", "rank", rank))
    U, s, Vt = np.linalg.svd(matrix, full_matrices=False)
    r = min(int(rank), s.size)
    return (U[:, :r] * s[:r]) @ Vt[:r]


def evaluation_batch(run: TrainingRun, batch_size: int = 512, seed: int = 12345) -> Batch:
    """The fixed evaluation batch of [S §1] (512 independent trials)."""
    return generate(run.task, batch_size, dt=run.initial.dt, seed=seed)


def _with_W(run: TrainingRun, W: np.ndarray) -> Network:
    return run.final.with_(W=W)


def truncation_losses(
    run: TrainingRun, ranks: Sequence[int], *, which: str = "delta_W", batch: Batch | None = None
) -> np.ndarray:
    """Loss after truncating ``ΔW`` (``W0 + ΔW_r``) or ``W`` (``W_r``) to each rank."""
    if which not in ("delta_W", "W"):
        raise ParameterError(expected("'delta_W' or 'W'", "which", which))
    batch = evaluation_batch(run) if batch is None else batch
    U, s, Vt = np.linalg.svd(run.delta_W if which == "delta_W" else run.final.W, full_matrices=False)
    base = run.initial.W if which == "delta_W" else np.zeros_like(run.final.W)
    out = []
    for r in ranks:
        r = min(int(r), s.size)
        out.append(loss(_with_W(run, base + (U[:, :r] * s[:r]) @ Vt[:r]), batch))
    return np.asarray(out)


def functional_rank(
    run: TrainingRun,
    *,
    batch_size: int = 512,
    seed: int = 12345,
    threshold: float = FUNCTIONAL_THRESHOLD,
    max_rank: int | None = None,
) -> int:
    """Smallest rank ``r`` with ``L(W0 + ΔW_r) < threshold · L(initial network)`` on an evaluation batch.

    Returns ``-1`` if no rank up to ``max_rank`` (default N) reaches it (the run did not learn).
    """
    batch = generate(run.task, batch_size, dt=run.initial.dt, seed=seed)
    reference = loss(run.initial.with_(W=run.initial.W), batch)
    U, s, Vt = np.linalg.svd(run.delta_W, full_matrices=False)
    limit = s.size if max_rank is None else min(max_rank, s.size)
    for r in range(limit + 1):
        W = run.initial.W + (U[:, :r] * s[:r]) @ Vt[:r]
        if loss(_with_W(run, W), batch) < threshold * reference:
            return r
    return -1


def shuffled_loss(run: TrainingRun, *, batch: Batch | None = None, seed: int = 0) -> float:
    """Loss after replacing ``W0`` by a random permutation of its entries, keeping ``ΔW``."""
    batch = evaluation_batch(run) if batch is None else batch
    W0s = shuffle(run.initial.W, seed=seed)
    return loss(_with_W(run, W0s + run.delta_W), batch)


def epochs_to_fraction(losses: np.ndarray, fraction: float = FUNCTIONAL_THRESHOLD) -> int:
    """First epoch whose loss is below ``fraction`` of the initial loss (``-1`` if never)."""
    hits = np.nonzero(np.asarray(losses) < fraction * losses[0])[0]
    return int(hits[0]) if hits.size else -1


@dataclass(frozen=True)
class ScalingPoint:
    N: int
    g: float
    seed: int
    epochs_to_5pct: int
    delta_w_norm: float
    w_norm: float
    functional_rank: int


def scaling_with_N(
    task: str | Task,
    gs: Sequence[float],
    Ns: Sequence[int],
    *,
    seeds: Sequence[int] = (0,),
    epochs: int | None = None,
    eval_batch: int = 128,
) -> list[ScalingPoint]:
    """Fig. S1: epochs to 5%, ``‖ΔW‖_F``, ``‖W‖_F`` and functional rank against ``N``."""
    points = []
    for g in gs:
        for N in Ns:
            for seed in seeds:
                run = train(task, g=g, N=N, epochs=epochs, seed=seed)
                points.append(
                    ScalingPoint(
                        N,
                        g,
                        seed,
                        epochs_to_fraction(run.losses),
                        float(np.linalg.norm(run.delta_W)),
                        float(np.linalg.norm(run.final.W)),
                        functional_rank(run, batch_size=eval_batch, max_rank=min(N, 30)),
                    )
                )
    return points
