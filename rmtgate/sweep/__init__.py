"""Parameter sweeps on Dask with labelled, resumable xarray/Zarr results (issue 13).

* :mod:`~rmtgate.sweep.grid` — :class:`SweepSpec` (what is swept, what is computed, how),
  ``-p NAME=START:STOP:NUM`` parsing, per-point seeds and the store fingerprint;
* :mod:`~rmtgate.sweep.quantities` — one point: ``spectral_radius``, ``C_h``,
  ``fraction_near_1``, ``stable_fixed_points``, ``a_r_star`` and diagnostics;
* :mod:`~rmtgate.sweep.store` — the Zarr store, one chunk per point, ``done`` written last;
* :mod:`~rmtgate.sweep.engine` — :func:`run_sweep` on a local or remote Dask cluster;
* :mod:`~rmtgate.sweep.plot` and :mod:`~rmtgate.sweep.figures` — heatmaps/lines and [G] Fig. 1e, 2.

Dask, xarray and Zarr are imported lazily (the ``sweep`` extra), never by ``import rmtgate``.
"""

from rmtgate.sweep.engine import run_sweep
from rmtgate.sweep.grid import QUANTITIES, Axis, SweepSpec, parse_sweep_parameters

__all__ = ["QUANTITIES", "Axis", "SweepSpec", "parse_sweep_parameters", "run_sweep"]
