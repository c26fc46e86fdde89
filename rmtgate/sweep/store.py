"""The Zarr store of a sweep: created once, then filled point by point by the driver.

Layout (``xarray.open_zarr(path)`` opens it): one dimension per swept parameter, named after
it, with the values as coordinate; one variable per quantity plus ``<quantity>_mc_error``;
per-point diagnostics ``seconds``, ``iterations``, ``residual``, ``point_seed``, ``error``
(message of a failed point, ``""`` otherwise) and ``done``.  Every variable is chunked one
point per chunk, so writing a point touches only that point's chunk files: a ``kill -9``
loses at most the point being written, which ``done`` (written last) still marks as missing.
A chained sweep (:attr:`SweepSpec.chained`) also keeps, per point, the input correlation
functions of its steady state under ``warm_starts/`` (written before ``done``): the next point
along the last axis starts from them, on a resumed run as on the first.

The store is first written under a temporary name and renamed into place, so a store that
exists is always complete; its attrs carry a fingerprint of the sweep (:meth:`SweepSpec.fingerprint`)
and a different sweep is refused rather than mixed in.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import SweepError
from rmtgate.sweep.grid import SweepSpec, describe_difference
from rmtgate.sweep.quantities import PointResult

DIAGNOSTICS = ("seconds", "iterations", "residual")
#: where a chained sweep keeps each point's steady-state correlations (its successor's start), in the store
WARM_DIRECTORY = "warm_starts"


def _template(spec: SweepSpec) -> Any:
    """The empty dataset: NaN values, ``done`` False, attrs describing the sweep."""
    import xarray as xr

    from rmtgate import __version__

    shape, dims = spec.shape, spec.dims
    nan = np.full(shape, np.nan)
    variables: dict[str, Any] = {}
    for q in spec.quantities:
        variables[q] = (dims, nan.copy(), {"long_name": q.replace("_", " "), "method": spec.method})
        variables[f"{q}_mc_error"] = (dims, nan.copy(), {"long_name": f"Monte Carlo standard error of {q}"})
    for name in DIAGNOSTICS:
        variables[name] = (dims, nan.copy())
    variables["point_seed"] = (dims, np.full(shape, -1, dtype=np.int64), {"long_name": "seed of the point"})
    errors = np.empty(shape, dtype=object)
    errors[...] = ""
    variables["error"] = (dims, errors, {"long_name": "error message of a failed point"})
    variables["done"] = (dims, np.zeros(shape, dtype=bool), {"long_name": "point computed and stored"})
    coords = {a.name: (a.name, np.asarray(a.values, dtype=float)) for a in spec.axes}
    identity = spec.identity()
    attrs = {
        "architecture": spec.architecture.name,
        "architecture_hash": identity["architecture_hash"],
        "architecture_spec": spec.architecture.canonical_text(),
        "fixed_parameters": json.dumps(identity["fixed"]),
        "method": spec.method,
        "seed": spec.seed,
        "settings": json.dumps(spec.settings()),
        "rmtgate_version": __version__,
        "sweep_identity": json.dumps(identity, default=float),
        "fingerprint": spec.fingerprint(),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


class SweepStore:
    """Read ``done`` and write finished points of one sweep's Zarr store (single writer)."""

    def __init__(self, path: str | os.PathLike[str], spec: SweepSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        if self.path.exists():
            self._check()
        else:
            self._create()
        import zarr

        self.group = zarr.open_group(str(self.path), mode="r+")

    def _create(self) -> None:
        template = _template(self.spec)
        encoding = {name: {"chunks": (1,) * len(self.spec.shape)} for name in template.data_vars}
        partial = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        with warnings.catch_warnings():
            # consolidated metadata is a zarr-python extension of format 3; we want it (fast open_zarr)
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            template.to_zarr(str(partial), mode="w", encoding=encoding, consolidated=True)
        os.replace(partial, self.path)  # atomic: the store appears complete or not at all

    def _check(self) -> None:
        import xarray as xr

        try:
            attrs = xr.open_zarr(str(self.path)).attrs
        except Exception as err:  # not a Zarr store at all: refuse rather than overwrite it
            raise SweepError(f"{self.path} exists but is not a sweep store ({err}); choose another --out") from None
        if attrs.get("fingerprint") == self.spec.fingerprint():
            return
        stored = json.loads(attrs.get("sweep_identity", "{}"))
        raise SweepError(
            f"{self.path} holds a different sweep ({describe_difference(stored, self.spec.identity())}); "
            "use another --out or delete it"
        )

    def done(self) -> np.ndarray:
        """Which points are stored.  An unreadable ``done`` chunk (killed mid-write) counts as missing."""
        array = self.group["done"]
        try:
            return np.asarray(array[...], dtype=bool)
        except Exception:
            out = np.zeros(self.spec.shape, dtype=bool)
            for where in np.ndindex(*self.spec.shape):
                try:
                    out[where] = bool(array[where])
                except Exception:
                    out[where] = False
            return out

    def write(self, where: tuple[int, ...], result: PointResult) -> None:
        """Store one point; ``done`` last, so a point is marked only once all of it is on disk."""
        g = self.group
        for q in self.spec.quantities:
            g[q][where] = result.values.get(q, np.nan)
            g[f"{q}_mc_error"][where] = result.mc_error.get(q, np.nan)
        g["seconds"][where] = result.seconds
        g["iterations"][where] = result.iterations
        g["residual"][where] = result.residual
        g["point_seed"][where] = result.seed
        g["error"][where] = result.error
        if result.warm is not None:  # set only in chained sweeps
            self._write_warm(result.index, result.warm)
        g["done"][where] = True

    def _warm_path(self, index: int) -> Path:
        return self.path / WARM_DIRECTORY / f"{index}.npz"

    def _write_warm(self, index: int, warm: dict[str, np.ndarray]) -> None:
        target = self._warm_path(index)
        target.parent.mkdir(exist_ok=True)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        with open(partial, "wb") as handle:
            np.savez(handle, **warm)
        os.replace(partial, target)  # a successor never reads half a file

    def read_warm(self, index: int | None) -> dict[str, np.ndarray] | None:
        """The steady-state correlations stored with point ``index`` (None: no point, failed, or not chained)."""
        if index is None:
            return None
        try:
            with np.load(self._warm_path(index)) as data:
                return {name: np.array(data[name]) for name in data.files}
        except (OSError, ValueError):
            return None
