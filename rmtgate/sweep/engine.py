"""Run a sweep on Dask: one task per missing point, each committed to the store as it finishes.

The driver (this process) is the only writer of the store; workers only compute.  A rerun
of the same sweep reads ``done`` and submits only the missing points, and since a point's
seed depends only on its index (:meth:`SweepSpec.point_seed`), and a chained point's warm
start only on its predecessor's stored solution, the resumed dataset equals an uninterrupted
run's.  Dask and xarray are imported here, lazily, so ``import rmtgate`` stays
light.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rmtgate.sweep.grid import SweepSpec
from rmtgate.sweep.quantities import PointResult, evaluate_point
from rmtgate.sweep.store import SweepStore
from rmtgate.validation import check_integer

#: ``callback(finished, total, result)`` after each stored point (``result`` None for the initial call)
Progress = Callable[[int, int, PointResult | None], None]


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A ``distributed.Client`` on ``scheduler`` or on a fresh local cluster (and that cluster)."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    n = workers if workers is not None else max(1, min(os.cpu_count() or 1, 4))
    # processes, one thread each: the numerics hold the GIL and BLAS is already parallel
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_sweep(
    spec: SweepSpec,
    path: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    callback: Progress | None = None,
) -> Any:
    """Compute the missing points of ``spec`` into the Zarr store at ``path``; return the dataset.

    ``scheduler`` is the address of a running ``distributed`` scheduler (``tcp://host:port``);
    without it a local cluster of ``workers`` processes is started (``workers=0`` computes in
    this process, without Dask: for debugging and tiny sweeps).  Raises
    :class:`~rmtgate.errors.SweepError` when ``path`` holds a different sweep.
    """
    import xarray as xr

    if workers is not None:
        workers = check_integer(workers, "workers", 0)
    store = SweepStore(path, spec)
    done = store.done()
    missing = [(i, where, params) for i, where, params in spec.points() if not done[where]]
    total, finished = spec.size, spec.size - len(missing)
    locations = {i: where for i, where, _ in missing}
    if callback is not None:
        callback(finished, total, None)

    def commit(result: PointResult) -> None:
        nonlocal finished
        store.write(locations[result.index], result)
        finished += 1
        if callback is not None:
            callback(finished, total, result)

    if missing and workers == 0 and not scheduler:
        for i, _, params in missing:  # C order: a chained point's predecessor is already stored
            commit(evaluate_point(spec, i, params, store.read_warm(spec.predecessor(i))))
    elif missing:
        _run_distributed(spec, store, missing, scheduler, workers, commit)
    return xr.open_zarr(str(Path(path)))


def _run_distributed(
    spec: SweepSpec,
    store: SweepStore,
    missing: list[tuple[int, tuple[int, ...], dict[str, float]]],
    scheduler: str | None,
    workers: int | None,
    commit: Callable[[PointResult], None],
) -> None:
    """Every missing point as a task; a chained sweep submits a line's next point when the one before it is stored.

    Chains are scheduled here, not as Dask dependencies: a point whose predecessor failed (or
    whose worker died) then still runs, from scratch, instead of inheriting the failure.
    """
    from distributed import as_completed

    client, cluster = _client(scheduler, workers)
    try:
        spec_future = client.scatter(spec, broadcast=True)  # ship the architecture once, not per task
        tag = spec.fingerprint()[:12]
        # one queue per line along the last axis when chained (each point waits for the one before it)
        queues: dict[int, list[tuple[int, dict[str, float]]]] = {}
        for i, _, params in missing:
            queues.setdefault(spec.chain(i), []).append((i, params))
        index_of: dict[str, int] = {}

        def submit(line: int) -> Any:
            i, params = queues[line].pop(0)
            warm = store.read_warm(spec.predecessor(i))
            future = client.submit(evaluate_point, spec_future, i, params, warm, key=f"sweep-{tag}-{i}", pure=False)
            index_of[future.key] = i
            return future

        pending = as_completed([submit(line) for line in list(queues)])
        for future in pending:
            i = index_of[future.key]
            try:
                result = future.result()
            except Exception as err:  # a worker died or a bug escaped: record it, keep sweeping
                result = PointResult(i, spec.point_seed(i), {q: math.nan for q in spec.quantities})
                result.error = f"{type(err).__name__}: {err}"
            commit(result)
            future.release()  # results are on disk now; free the worker's memory
            if queues[spec.chain(i)]:
                pending.add(submit(spec.chain(i)))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
