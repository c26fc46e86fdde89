"""[S]'s analyses of trained connectivity, on a trained gated network (per recurrent matrix).

For a :class:`~rmtgate.training.sequential.GatedRun`: singular values of ``ΔU_k = U_k - U_k(0)``
for every recurrent matrix (``U_z, U_r, U_h`` of a GRU); the test loss and accuracy after
truncating all ``ΔU_k`` at once to rank ``r`` (``U_k(0) + [ΔU_k]_r``, input and readout weights as
trained); and the *functional rank*, the smallest ``r`` whose truncated network keeps
``threshold`` of the trained network's improvement of the test loss over the untrained one (the
classification analogue of [S]'s "loss below 5 % of the initial loss").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rmtgate.training.gated import GatedNetwork, compile_gated, logits_of
from rmtgate.training.sequential import GatedRun, SequenceData

FUNCTIONAL_FRACTION = 0.95


def delta_singular_values(run: GatedRun) -> dict[str, np.ndarray]:
    """Singular values (descending) of ``ΔU_k`` for every recurrent matrix of the architecture."""
    matrices = [f.matrix for f in run.initial.architecture.local_form.fields]
    return {name: np.linalg.svd(run.delta(name), compute_uv=False) for name in matrices}


def _evaluate(net: GatedNetwork, data: SequenceData) -> tuple[float, float]:
    """Test cross-entropy and accuracy of ``net`` (numpy, forward only)."""
    model = compile_gated(net.architecture)
    logits = logits_of(model, net.params, net.weights, data.x_test, net.readout)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_p[np.arange(len(data.y_test)), data.y_test].mean())
    return loss, float((logits.argmax(axis=1) == data.y_test).mean())


def truncated(run: GatedRun, rank: int) -> GatedNetwork:
    """The trained network with every ``ΔU_k`` replaced by its best rank-``rank`` approximation."""
    net = run.final.copy()
    for f in run.initial.architecture.local_form.fields:
        U, s, Vt = np.linalg.svd(run.delta(f.matrix), full_matrices=False)
        r = min(int(rank), s.size)
        net.weights[f.matrix] = run.initial.weights[f.matrix] + (U[:, :r] * s[:r]) @ Vt[:r]
    return net


def truncation_curve(run: GatedRun, data: SequenceData, ranks: Sequence[int]) -> dict[str, list[float]]:
    """Test loss and accuracy after truncating all ``ΔU_k`` to each rank."""
    losses, accuracies = [], []
    for r in ranks:
        loss, acc = _evaluate(truncated(run, r), data)
        losses.append(loss)
        accuracies.append(acc)
    return {"ranks": [int(r) for r in ranks], "test_loss": losses, "test_accuracy": accuracies}


def functional_rank(
    run: GatedRun, data: SequenceData, *, fraction: float = FUNCTIONAL_FRACTION, max_rank: int | None = None
) -> int:
    """Smallest ``r`` with ``L(r) <= L_trained + (1 - fraction)(L_untrained - L_trained)`` (test loss).

    Returns ``-1`` if no rank up to ``max_rank`` (default N) reaches it.
    """
    # the untrained readout is random: keep the trained input/readout weights, undo only ΔU
    untrained, _ = _evaluate(truncated(run, 0), data)
    trained, _ = _evaluate(run.final, data)
    goal = trained + (1 - fraction) * (untrained - trained)
    limit = run.final.N if max_rank is None else min(max_rank, run.final.N)
    for r in range(limit + 1):
        if _evaluate(truncated(run, r), data)[0] <= goal:
            return r
    return -1


def analyse(run: GatedRun, data: SequenceData, ranks: Sequence[int] = (0, 1, 2, 4, 8, 16)) -> dict[str, Any]:
    """Everything above as one JSON-ready dict (first 10 singular values per matrix)."""
    sv = delta_singular_values(run)
    return {
        "delta_singular_values": {k: v[:10].tolist() for k, v in sv.items()},
        "delta_norms": {k: float(np.linalg.norm(v)) for k, v in sv.items()},
        "truncation": truncation_curve(run, data, ranks),
        "functional_rank": functional_rank(run, data),
    }
