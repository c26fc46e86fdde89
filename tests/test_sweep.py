"""Parameter sweeps (issue 13): labelled Zarr stores, Dask execution, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("xarray")
pytest.importorskip("zarr")

import xarray as xr

from rmtgate import gru
from rmtgate.errors import ParameterError, SweepError
from rmtgate.sweep import SweepSpec, parse_sweep_parameters, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _spec(pairs: list[str], quantities: tuple[str, ...], **settings: object) -> SweepSpec:
    fixed, axes = parse_sweep_parameters(pairs)
    return SweepSpec(gru(), fixed, tuple(axes), quantities, **settings)  # type: ignore[arg-type]


def test_parsing_seeds_and_fingerprint() -> None:
    fixed, axes = parse_sweep_parameters(["a_h=3", "a_r=0:4:5", "a_z=1,2"])
    assert fixed == {"a_h": 3.0}
    assert [(a.name, a.values) for a in axes] == [("a_r", (0.0, 1.0, 2.0, 3.0, 4.0)), ("a_z", (1.0, 2.0))]
    with pytest.raises(ParameterError, match="START:STOP:NUM"):
        parse_sweep_parameters(["a_r=0:4"])
    spec = _spec(["a_h=3", "a_r=0:4:5", "a_z=1,2"], ("spectral_radius",))
    assert spec.dims == ("a_r", "a_z") and spec.shape == (5, 2)
    seeds = [spec.point_seed(i) for i in range(spec.size)]
    assert len(set(seeds)) == spec.size  # distinct, and a pure function of (seed, index)
    assert seeds == [spec.point_seed(i) for i in range(spec.size)]
    assert spec.fingerprint() != _spec(["a_h=2", "a_r=0:4:5", "a_z=1,2"], ("spectral_radius",)).fingerprint()
    with pytest.raises(ParameterError, match="quantities"):
        _spec(["a_h=3", "a_r=0:4:2", "a_z=1"], ("radius",))


def test_theory_fraction_near_1_is_the_density_mass_of_the_disk(tmp_path: Path) -> None:
    # zero state of the GRU: uniform density on the disk of radius (1−σ(b_z))σ(b_r)a_h = 0.75
    # around 1/2 [G eq. 20], so the mass within 0.05 of λ = 1 is the area ratio (0.05/0.75)²
    import xarray

    from rmtgate.cli.main import main

    out = tmp_path / "near.zarr"
    argv = ["sweep", "gru", "-p", "a_h=3", "-p", "a_r=1", "-p", "a_z=1,4", "--quantity", "fraction_near_1"]
    assert main([*argv, "--state", "zero", "--workers", "0", "--out", str(out)]) == 0
    values = xarray.open_zarr(out)["fraction_near_1"].values
    np.testing.assert_allclose(values, (0.05 / 0.75) ** 2, rtol=1e-8)  # contour quadrature: ~1e-13


def test_in_process_sweep_is_labelled_and_refuses_another_sweep(tmp_path: Path) -> None:
    path = tmp_path / "zero.zarr"
    spec = _spec(["a_h=1:3:3", "a_r=0:4:2", "a_z=1"], ("spectral_radius", "a_r_star"), state="zero")
    ds = run_sweep(spec, path, workers=0)
    ds = xr.open_zarr(path).load()
    assert ds["spectral_radius"].dims == ("a_h", "a_r")
    np.testing.assert_allclose(ds["a_h"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(ds["a_r"], [0.0, 4.0])
    assert bool(ds["done"].all())
    # zero fixed point of the GRU with zero biases: ρ = (1 - σ(0)) + σ(0)·a_h/2 = 1/2 + a_h/4
    expected = 0.5 + ds["a_h"].values / 4
    np.testing.assert_allclose(ds["spectral_radius"].values, np.repeat(expected[:, None], 2, axis=1), rtol=1e-6)
    # a_r* exists only for √2 < a_h < 2: the other points fail, as data, without stopping the sweep
    assert np.isnan(ds["a_r_star"].sel(a_h=3.0)).all() and "ParameterError" in str(ds["error"].sel(a_h=3.0)[0].item())
    assert np.isnan(ds["a_r_star"]).all() and not np.isnan(ds["spectral_radius"]).any()
    attrs = ds.attrs
    assert attrs["architecture"] == "gru" and attrs["architecture_hash"] == gru().spec_hash()
    assert json.loads(attrs["fixed_parameters"]) == {"a_z": 1.0}
    assert attrs["method"] == "theory" and attrs["seed"] == 0 and attrs["rmtgate_version"]
    assert {"seconds", "iterations", "residual", "error", "point_seed", "spectral_radius_mc_error"} <= set(ds)
    from rmtgate.sweep.plot import plot_sweep

    assert plot_sweep(ds, tmp_path / "heat.png", "spectral_radius").stat().st_size > 1000
    assert plot_sweep(ds.isel(a_r=0), tmp_path / "line.png").stat().st_size > 1000
    # the same sweep again computes nothing; another one into the same store is refused
    calls: list[int] = []
    run_sweep(spec, path, workers=0, callback=lambda done, total, r: calls.append(done))
    assert calls == [6]
    changed = _spec(["a_h=1:3:3", "a_r=0:4:2", "a_z=2"], ("spectral_radius", "a_r_star"), state="zero")
    with pytest.raises(SweepError, match="a_z"):
        run_sweep(changed, path, workers=0)
    with pytest.raises(SweepError, match="method"):
        run_sweep(
            _spec(["a_h=1:3:3", "a_r=0:4:2", "a_z=1"], ("spectral_radius", "a_r_star"), method="simulation"), path
        )


def test_scheduler_with_two_workers_matches_local_run(tmp_path: Path) -> None:
    from distributed import LocalCluster

    spec = _spec(["a_h=2", "a_z=1", "a_r=0:3:4"], ("spectral_radius", "C_h"), method="simulation", N=40, steps=50)
    local = run_sweep(spec, tmp_path / "local.zarr", workers=0).load()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = run_sweep(spec, tmp_path / "remote.zarr", scheduler=cluster.scheduler_address).load()
    assert bool(remote["done"].all())
    for name in ("spectral_radius", "C_h", "point_seed"):
        np.testing.assert_allclose(remote[name].values, local[name].values, rtol=1e-12)


def _done_count(path: Path) -> int:
    try:
        import zarr

        return int(np.sum(zarr.open_group(str(path), mode="r")["done"][...]))
    except Exception:  # store not created yet, or a chunk being written
        return 0


def test_kill_9_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    pairs = ["a_h=2.5", "a_z=1", "a_r=0:3:8"]
    settings = {"method": "simulation", "N": 100, "steps": 200, "seed": 7}
    path = tmp_path / "killed.zarr"
    command = [sys.executable, "-m", "rmtgate", "sweep", "gru", *[f"-p{p}" for p in pairs]]
    command += ["--quantity", "spectral_radius,C_h", "--method", "simulation", "--N", "100", "--steps", "200"]
    command += ["--seed", "7", "--out", str(path), "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _done_count(path) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the driver, like `kill -9 PID`
        proc.wait()
    finally:
        try:  # the local cluster's processes the test started (same session), if any outlived the driver
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    partial = _done_count(path)
    assert 2 <= partial < 8, f"kill landed at {partial}/8 points"
    spec = _spec(pairs, ("spectral_radius", "C_h"), **settings)
    computed: list[int] = []
    resumed = run_sweep(spec, path, workers=0, callback=lambda d, t, r: r and computed.append(r.index)).load()
    assert len(computed) == 8 - partial and len(set(computed)) == len(computed)  # only the missing ones
    reference = run_sweep(spec, tmp_path / "whole.zarr", workers=0).load()
    assert bool(resumed["done"].all())
    np.testing.assert_array_equal(resumed["point_seed"].values, reference["point_seed"].values)
    for name in ("spectral_radius", "C_h"):
        # equal up to rounding: Dask's workers pin BLAS to one thread, this process does not
        np.testing.assert_allclose(resumed[name].values, reference[name].values, rtol=1e-12)
    assert resumed.attrs["fingerprint"] == reference.attrs["fingerprint"]


class _Interrupted(Exception):
    pass


def test_chained_steady_state_sweep_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    # each steady-state point starts its DMFT from the previous point along a_z; interrupted
    # after two points and resumed on a 2-worker Dask cluster (the third point then warm-starts
    # from the second's stored solution), the sweep must equal an uninterrupted in-process run
    # bit for bit: the chain depends only on stored data, and the DMFT only on its inputs
    # 1024 paths: with 256 (64 per replica) the sampled map is too rough to polish below its
    # noise, and the polish, not the start, decides the iterations (warm 48, 59, 38 against cold
    # 41, 30, 53); with 1024: 16, 19, 14 against 24, 46, 34
    settings = {"trajectories": 1024, "samples": 500, "angles": 32}
    spec = _spec(["a_h=3", "a_r=1", "a_z=1:2:4"], ("spectral_radius", "C_h"), **settings)
    assert spec.chained and spec.predecessor(0) is None and spec.predecessor(3) == 2
    whole = run_sweep(spec, tmp_path / "whole.zarr", workers=0).load()

    def stop_after_two(finished: int, total: int, result: object) -> None:
        if result is not None and finished == 2:
            raise _Interrupted

    path = tmp_path / "resumed.zarr"
    with pytest.raises(_Interrupted):
        run_sweep(spec, path, workers=0, callback=stop_after_two)
    assert sorted(p.name for p in (path / "warm_starts").iterdir()) == ["0.npz", "1.npz"]
    resumed = run_sweep(spec, path, workers=2).load()
    assert bool(resumed["done"].all()) and not any(resumed["error"].values.ravel())
    for name in ("spectral_radius", "C_h", "iterations"):
        np.testing.assert_array_equal(resumed[name].values, whole[name].values)
    # starting from the neighbour's solution (and its window) saves DMFT iterations over the
    # chain; not necessarily at every point, so the sum is compared
    cold = run_sweep(
        _spec(["a_h=3", "a_r=1", "a_z=1:2:4"], ("C_h",), warm_start=False, **settings),
        tmp_path / "cold.zarr",
        workers=0,
    ).load()
    assert float(whole["iterations"][..., 1:].sum()) <= float(cold["iterations"][..., 1:].sum())
