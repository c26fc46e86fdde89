"""Mutation testing of the theory: which distribution checks reject which wrong theories.

For each scenario (an architecture and a parameter point) the networks are simulated once,
at the profile's ``N`` and at ``N/4``.  The true theory and every mutant of
:mod:`rmtgate.verification.mutants` are evaluated on the simulated networks' own statistics.
Three checks compare a theory with the eigenvalue cloud:

* ``radius`` — predicted spectral radius against ``max |λ|`` (mean over networks), relative;
* ``edge-profile`` — per angular sector around the centre, the predicted edge radius against
  the farthest eigenvalue in the sector (mean over networks), worst sector, relative;
* ``share-outside`` — the share of eigenvalues outside the predicted support.

**Tolerances come from a finite-size model, not from a number typed in.**  Each check's
deviation for the true theory is measured at ``N/4`` and at ``N``; edge statistics of
non-Hermitian random matrices converge as ``N^{-1/2}`` (edge layer of width ``N^{-1/2}``), so
the deviation expected at ``N`` is ``dev(N/4)/2``.  The tolerance at ``N`` is that plus three
standard errors of the network-to-network spread.  The report shows ``dev(N/4)`` and
``dev(N)`` so that the predicted shrinking can be read off.

**Resolution.**  A mutant whose own effect on a check's statistic (mutant against true theory)
exceeds ``tolerance + |dev_true(N)|`` must fail that check (triangle inequality); that sum is
the check's resolution.  A mutant below the resolution of every check may survive, and the
report says so with the numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.curves import SpectralCurve, contains, spectral_curve
from rmtgate.numerics.evaluators import _Base, evaluator
from rmtgate.simulation.simulate import jacobian_eigvals, simulate
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.builtins import resolve_architecture
from rmtgate.symbolic.derive import derive
from rmtgate.verification.compare import network_sample
from rmtgate.verification.mutants import Mutant, mutants

SPEC_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mgu.toml"
CHECK_NAMES = ("radius", "edge-profile", "share-outside")
SECTORS = 8
#: standard errors of the network-to-network spread added to the finite-size deviation
SPREAD_SIGMAS = 3.0


@dataclass(frozen=True)
class Scenario:
    name: str
    architecture: str  # built-in name or spec path
    params: dict[str, float]


QUICK = (
    Scenario("gru-az1-ar1", "gru", {"a_h": 3, "a_z": 1, "a_r": 1}),
    Scenario("gru-az10-ar1", "gru", {"a_h": 3, "a_z": 10, "a_r": 1}),
    Scenario("lstm-af1-ao10", "lstm", {"a_h": 3, "a_i": 1, "a_f": 1, "a_o": 10}),
    Scenario("mgu-spec-af3", str(SPEC_EXAMPLE), {"a_h": 3, "a_f": 3}),
)
THOROUGH = (
    *QUICK,
    Scenario("gru-az1-ar10", "gru", {"a_h": 3, "a_z": 1, "a_r": 10}),
    Scenario("gru-az10-ar10", "gru", {"a_h": 3, "a_z": 10, "a_r": 10}),
    Scenario("lstm-af1-ao1", "lstm", {"a_h": 3, "a_i": 1, "a_f": 1, "a_o": 1}),
)
PROFILES = {"quick": (QUICK, 1000, 3, 90), "thorough": (THOROUGH, 2000, 4, 360)}


@dataclass
class Cloud:
    """Simulated eigenvalues of ``networks`` networks of size ``N`` and their pooled statistics."""

    N: int
    eigenvalues: np.ndarray  # (networks, n_eigenvalues)
    sample: Any  # LocalSample of the pooled per-neuron values
    params: dict[str, float]


def _simulate(arch: Architecture, params: dict[str, float], N: int, networks: int, seed: int, backend: str) -> Cloud:
    lin = derive(arch).linearization
    result = simulate(arch, params, N=N, steps=300, seed=seed, ensemble=networks, backend=backend)
    eig = np.asarray(jacobian_eigvals(result, lin)).reshape(networks, -1)
    return Cloud(N, eig, network_sample(result), dict(result.params))


def _sector_radii(points: np.ndarray, center: float) -> np.ndarray:
    """Largest ``|p − c|`` per angular sector (NaN for an empty sector)."""
    angle = np.mod(np.angle(points - center), 2 * np.pi)
    sector = np.minimum((angle / (2 * np.pi) * SECTORS).astype(int), SECTORS - 1)
    out = np.full(SECTORS, np.nan)
    for s in range(SECTORS):
        values = np.abs(points[sector == s] - center)
        if values.size:
            out[s] = values.max()
    return out


@dataclass(frozen=True)
class TheoryShape:
    """What the checks need from one theory on one cloud."""

    radius: float
    sectors: np.ndarray
    outside: np.ndarray  # share outside, per network
    curve: SpectralCurve


def _shape(ev: _Base, cloud: Cloud, n_angles: int, center: float | None = None) -> TheoryShape:
    curve = spectral_curve(ev, n_angles=n_angles, center=center)
    outer = curve.outer
    full = np.concatenate([outer, np.conj(outer)]) if outer.size else np.array([curve.center + 0j])
    inside = contains(ev, cloud.eigenvalues)
    return TheoryShape(curve.spectral_radius, _sector_radii(full, curve.center), 1 - inside.mean(axis=1), curve)


def _deviations(shape: TheoryShape, cloud: Cloud) -> tuple[dict[str, float], dict[str, float]]:
    """Per check: deviation of a theory from the cloud, and the standard error of the cloud."""
    per_net_radius = np.max(np.abs(cloud.eigenvalues), axis=1)
    per_net_sectors = np.array([_sector_radii(e, shape.curve.center) for e in cloud.eigenvalues])
    n = cloud.eigenvalues.shape[0]
    sim_sectors = np.nanmean(per_net_sectors, axis=0)
    ratio = shape.sectors / sim_sectors - 1
    dev = {
        "radius": abs(shape.radius / per_net_radius.mean() - 1),
        "edge-profile": float(np.nanmax(np.abs(ratio))),
        "share-outside": float(shape.outside.mean()),
    }
    spread = {
        "radius": float(per_net_radius.std(ddof=1) / math.sqrt(n) / per_net_radius.mean()),
        "edge-profile": float(np.nanmax(np.nanstd(per_net_sectors, axis=0, ddof=1) / math.sqrt(n) / sim_sectors)),
        "share-outside": float(shape.outside.std(ddof=1) / math.sqrt(n)),
    }
    return dev, spread


def _effects(mutant: TheoryShape, true: TheoryShape) -> dict[str, float]:
    """The mutant's own effect on each check statistic (theory against theory)."""
    return {
        "radius": abs(mutant.radius / true.radius - 1),
        "edge-profile": float(np.nanmax(np.abs(mutant.sectors / true.sectors - 1))),
        "share-outside": abs(float(mutant.outside.mean() - true.outside.mean())),
    }


@dataclass
class ScenarioReport:
    scenario: Scenario
    N: int
    networks: int
    true_deviation_quarter: dict[str, float]
    true_deviation: dict[str, float]
    tolerance: dict[str, float]
    resolution: dict[str, float]
    true_passes: dict[str, bool]
    mutants: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def run_scenario(
    scenario: Scenario,
    *,
    N: int,
    networks: int,
    n_angles: int,
    seed: int = 11,
    backend: str = "numpy",
    select: Callable[[Mutant], bool] | None = None,
) -> ScenarioReport:
    """Simulate, calibrate the checks on the true theory at ``N/4`` and ``N``, run every mutant."""
    start = time.perf_counter()
    arch = resolve_architecture(scenario.architecture)
    bnd = derive(arch).boundary
    quarter = _simulate(arch, scenario.params, max(N // 4, 64), networks, seed + 1, backend)
    cloud = _simulate(arch, scenario.params, N, networks, seed, backend)
    true_q = _shape(evaluator(bnd, quarter.sample, quarter.params), quarter, n_angles)
    true = _shape(evaluator(bnd, cloud.sample, cloud.params), cloud, n_angles)
    dev_q, _ = _deviations(true_q, quarter)
    dev, spread = _deviations(true, cloud)
    scale = math.sqrt(quarter.N / N)  # edge statistics: deviation ∝ N^{-1/2}
    tolerance = {c: dev_q[c] * scale + SPREAD_SIGMAS * spread[c] for c in CHECK_NAMES}
    resolution = {c: tolerance[c] + dev[c] for c in CHECK_NAMES}
    report = ScenarioReport(
        scenario,
        N,
        networks,
        dev_q,
        dev,
        tolerance,
        resolution,
        {c: dev[c] <= tolerance[c] for c in CHECK_NAMES},
    )
    for mutant in mutants(bnd):
        if select is not None and not select(mutant):
            continue
        entry: dict[str, Any] = {"name": mutant.name, "kind": mutant.kind, "description": mutant.description}
        try:
            shape = _shape(mutant.build(cloud.sample, cloud.params), cloud, n_angles, center=true.curve.center)
        except Exception as err:  # a mutant the curve finder cannot follow is rejected by construction
            entry.update(killed_by=["curve"], effect=math.inf, resolution=0.0, check="curve", note=f"{err}"[:200])
            report.mutants.append(entry)
            continue
        mdev, _ = _deviations(shape, cloud)
        effects = _effects(shape, true)
        killed = [c for c in CHECK_NAMES if mdev[c] > tolerance[c]]
        worst = max(CHECK_NAMES, key=lambda c: effects[c] / resolution[c] if resolution[c] > 0 else math.inf)
        entry.update(
            killed_by=killed,
            effect=effects[worst],
            resolution=resolution[worst],
            check=worst,
            effects=effects,
            deviations=mdev,
            radius=shape.radius,
        )
        if not killed:
            entry["why_survived"] = (
                f"effect below the resolution of every check at N={N} (largest relative to its resolution: "
                f"{worst} effect {effects[worst]:.3g} < resolution {resolution[worst]:.3g})"
                if effects[worst] <= resolution[worst]
                else "effect above resolution but not detected: a defect of the checks"
            )
        report.mutants.append(entry)
    report.seconds = time.perf_counter() - start
    return report


def mutation_report(
    profile: str = "quick",
    *,
    backend: str = "numpy",
    seed: int = 11,
    only: Sequence[str] | None = None,
    scenarios: Sequence[Scenario] | None = None,
    N: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Run every scenario of ``profile`` (or the given ``scenarios``, e.g. a user's architecture,
    at the profile's sizes or ``N``); the JSON-able report with the mutation score."""
    if profile not in PROFILES:
        raise ParameterError(expected(f"one of {sorted(PROFILES)}", "profile", profile))
    default_scenarios, default_N, networks, n_angles = PROFILES[profile]
    scenarios = tuple(default_scenarios if scenarios is None else scenarios)
    N = default_N if N is None else N
    if only:
        unknown = [o for o in only if not any(s.name.startswith(o) for s in scenarios)]
        if unknown:
            raise ParameterError(expected(f"scenario prefixes of {[s.name for s in scenarios]}", "only", unknown[0]))
        scenarios = tuple(s for s in scenarios if any(s.name.startswith(o) for o in only))
    rows: list[dict[str, Any]] = []
    checks: dict[str, Any] = {}
    for index, scenario in enumerate(scenarios):
        if progress is not None:
            progress(index, len(scenarios), scenario.name)
        rep = run_scenario(scenario, N=N, networks=networks, n_angles=n_angles, seed=seed, backend=backend)
        checks[scenario.name] = {
            c: {
                "true_deviation_at_N/4": rep.true_deviation_quarter[c],
                "true_deviation_at_N": rep.true_deviation[c],
                "tolerance": rep.tolerance[c],
                "resolution": rep.resolution[c],
                "true_theory_passes": rep.true_passes[c],
            }
            for c in CHECK_NAMES
        } | {"N": rep.N, "networks": rep.networks, "seconds": rep.seconds}
        rows += [{**m, "name": f"{scenario.name}/{m['name']}", "scenario": scenario.name} for m in rep.mutants]
    if progress is not None:
        progress(len(scenarios), len(scenarios), "done")
    detectable = [m for m in rows if m["effect"] > m["resolution"]]
    score = sum(bool(m["killed_by"]) for m in detectable) / len(detectable) if detectable else 1.0
    return {
        "profile": profile,
        "mutants": rows,
        "mutation_score": score,
        "detectable": len(detectable),
        "killed": sum(bool(m["killed_by"]) for m in rows),
        "total": len(rows),
        "checks": checks,
    }
