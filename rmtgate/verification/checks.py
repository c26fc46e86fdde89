"""The verification harness: every prediction checked against simulated networks.

A :class:`Check` is data: what the theory predicts, what the simulation measures, the network
size, and a tolerance with the reason it is that large.  Checks belong to profiles (``ci``:
fast and derandomized, part of ``make test``; ``thorough``: bigger N; ``gpu``: run on CuPy).
:func:`run_checks` runs a profile and :func:`write_report` writes Markdown plus figures.
``rmtgate verify`` is the command-line entry point.

Why this module is long: it is the catalogue of checks (data: theory, simulation, N, tolerance and its justification for each), which reads best as one table.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from rmtgate.errors import ParameterError, expected
from rmtgate.simulation.simulate import jacobian_eigvals, simulate
from rmtgate.symbolic.builtins import builtin
from rmtgate.verification.compare import Comparison, compare_with_simulation

PROFILES = ("ci", "thorough", "gpu")


@dataclass(frozen=True)
class Outcome:
    """What one check found."""

    theory: float
    simulation: float
    error: float
    passed: bool
    N: int
    detail: str = ""
    figure: tuple[Any, np.ndarray | None, str] | None = None  # (curve, eigenvalues, title)


@dataclass(frozen=True)
class Check:
    """One prediction against one measurement.

    ``run(profile, backend)`` returns an :class:`Outcome`; ``tolerance`` is on ``error`` (its
    meaning is in ``error_kind``) and ``justification`` says why it is that large.
    """

    name: str
    description: str
    theory: str
    simulation: str
    error_kind: str
    tolerance: float
    justification: str
    run: Callable[[str, str], Outcome]
    profiles: tuple[str, ...] = ("ci", "thorough", "gpu")


@dataclass
class Result:
    check: Check
    outcome: Outcome | None
    seconds: float
    failure: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is not None and self.outcome.passed


@dataclass
class Report:
    profile: str
    backend: str
    results: list[Result] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _size(profile: str, ci: int, thorough: int, gpu: int | None = None) -> int:
    return {"ci": ci, "thorough": thorough, "gpu": gpu or thorough * 2}[profile]


# ---------------------------------------------------------------------------------------- checks
def _zero_disk(name: str, params: dict[str, float], center: float, radius: float) -> Callable[[str, str], Outcome]:
    def run(profile: str, backend: str) -> Outcome:
        n = _size(profile, 1000, 2000)
        result = simulate(builtin(name), params, N=n, steps=1, seed=5, ensemble=2, backend=backend, initial_scale=0.0)
        eig = jacobian_eigvals(result)
        # the LSTM's zero state has N exact zero eigenvalues (an atom at 0, off the disk)
        eig = np.where(np.abs(eig) < 1e-9, center, eig)
        simulated = float(np.mean(np.max(np.abs(eig - center), axis=-1)))
        error = abs(simulated - radius) / radius
        # every eigenvalue lies in the predicted disk up to the finite-N edge band
        outside = float(np.mean(np.abs(eig - center) > radius * 1.1))
        return Outcome(
            radius, simulated, error, error < 0.06 and outside < 0.01, n, f"share outside 1.1·R: {outside:.4f}"
        )

    return run


def _network_curve(name: str, params: dict[str, float], tolerance: float) -> Callable[[str, str], Outcome]:
    def run(profile: str, backend: str) -> Outcome:
        n = _size(profile, 1000, 2000)
        comparison = compare_with_simulation(
            builtin(name),
            params,
            N=n,
            steps=300,
            seed=11,
            ensemble=3 if profile == "ci" else 4,
            n_angles=360,
            backend=backend,
        )
        return _curve_outcome(comparison, tolerance, f"{name} {params}")

    return run


def _dmft_curve(name: str, params: dict[str, float], tolerance: float) -> Callable[[str, str], Outcome]:
    """Pure theory: the curve from steady-state DMFT samples, against simulated eigenvalues."""

    def run(profile: str, backend: str) -> Outcome:
        from rmtgate.mft.dmft import steady_state_sample

        n = _size(profile, 1000, 2000)
        arch = builtin(name)
        sample = steady_state_sample(arch, params, seed=1)
        comparison = compare_with_simulation(
            arch, params, N=n, steps=300, seed=11, ensemble=3, state=sample, n_angles=360, backend=backend
        )
        return _curve_outcome(comparison, tolerance, f"{name} (DMFT) {params}")

    return run


def _curve_outcome(comparison: Comparison, tolerance: float, title: str) -> Outcome:
    passed = comparison.radius_error < tolerance and comparison.fraction_inside >= 0.97
    return Outcome(
        comparison.theory_radius,
        comparison.simulated_radius,
        comparison.radius_error,
        passed,
        comparison.simulation.N,
        f"fraction inside: {comparison.fraction_inside:.3f}",
        (comparison.curve, comparison.eigenvalues, title),
    )


def _reset_gate_scaling(profile: str, backend: str) -> Outcome:
    """[Prop 4.5]: with a_z = 0 the radius is σ(b_z) + (1 − σ(b_z)) ρ_t and ρ_t = Θ(√a_r)."""
    n = _size(profile, 800, 2000)
    a_r_values = np.array([50.0, 100.0, 200.0, 400.0])
    rho = []
    for a_r in a_r_values:
        result = simulate(builtin("gru"), {"a_h": 3, "a_z": 0, "a_r": a_r}, N=n, steps=300, seed=3, backend=backend)
        rho.append(float(np.max(np.abs(jacobian_eigvals(result)))) - expit(0.0))
    slope = float(np.polyfit(np.log(a_r_values), np.log(np.array(rho) / (1 - expit(0.0))), 1)[0])
    return Outcome(0.5, slope, abs(slope - 0.5), abs(slope - 0.5) < 0.1, n, f"ρ_t: {np.round(rho, 3).tolist()}")


def _accumulation(name: str, gate: str, others: dict[str, float]) -> Callable[[str, str], Outcome]:
    """More eigenvalues near λ = 1 as the gate variance grows ([G Fig 1], [G Fig 3f])."""

    def run(profile: str, backend: str) -> Outcome:
        n = _size(profile, 600, 1500)
        radius = 0.05
        fractions = []
        for value in (1.0, 5.0, 25.0):
            result = simulate(builtin(name), {**others, gate: value}, N=n, steps=300, seed=2, backend=backend)
            eig = jacobian_eigvals(result)
            fractions.append(float(np.mean(np.abs(eig - 1.0) < radius)))
        # theory: the binary-gate limit puts the eigenvalues of gated-off neurons at λ = 1,
        # so the share near 1 must grow with the gate variance; reported as the ratio
        ratio = fractions[2] / max(fractions[0], 1e-9)
        # theory column: the growth factor required (at least 2); the error is the shortfall of
        # the growth below that factor, plus one for every step where the share fails to grow
        steps_down = sum(b <= a for a, b in itertools.pairwise(fractions))
        error = max(0.0, 2.0 - ratio) / 2.0 + steps_down
        return Outcome(2.0, ratio, error, error == 0.0, n, f"fractions: {fractions}")

    return run


def _random_architectures(profile: str, backend: str) -> Outcome:
    """Random gated architectures (Hypothesis strategy): curve from network statistics."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from rmtgate.symbolic.architecture import Architecture
    from rmtgate.verification.strategies import architecture_specs, random_parameters

    n = _size(profile, 800, 1500)
    worst = {"error": 0.0, "inside": 1.0}
    examples = 20 if profile == "ci" else 60

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as drawn
        suppress_health_check=list(HealthCheck),
    )
    @given(architecture_specs(smooth=True, bounded=True), st.integers(0, 2**16))
    def one(spec: dict[str, Any], seed: int) -> None:
        from rmtgate.symbolic.spec import declare

        arch: Architecture = declare(**spec)
        comparison = compare_with_simulation(
            arch, random_parameters(arch, seed), N=n, steps=200, seed=seed, n_angles=180, backend=backend
        )
        worst["error"] = max(worst["error"], comparison.radius_error)
        worst["inside"] = min(worst["inside"], comparison.fraction_inside)
        assert comparison.radius_error < 0.06 and comparison.fraction_inside >= 0.95, (spec, comparison.summary())

    try:
        one()
        passed, detail = True, f"{examples} architectures; lowest share inside {worst['inside']:.3f}"
    except AssertionError as err:
        passed, detail = False, str(err)[:300]
    return Outcome(0.0, worst["error"], worst["error"], passed, n, detail)


GRU_FIG1 = [{"a_h": 3, "a_z": az, "a_r": ar} for az, ar in ((1, 10), (10, 10), (1, 1), (10, 1))]
LSTM_FIG3 = [{"a_h": 3, "a_i": 1, "a_f": af, "a_o": ao} for af, ao in ((1, 1), (10, 1), (1, 10), (10, 10))]

_FINITE_N_EDGE = (
    "edge of a finite non-Hermitian ensemble: max|eig| of N=600..1000 Ginibre-type matrices "
    "fluctuates by ±5% (seen over 200 draws at N=400: [0.998, 1.103]·R)"
)


def _build_checks() -> list[Check]:
    checks = [
        Check(
            "gru-zero-disk",
            "GRU zero fixed point: uniform disk [Prop 4.2]",
            "(1−σ(b_z))σ(b_r)a_h",
            "max|λ − σ(b_z)|",
            "relative",
            0.06,
            _FINITE_N_EDGE,
            _zero_disk(
                "gru",
                {"a_h": 1.5, "a_z": 2, "a_r": 2, "b_z": 0.4, "b_r": -0.3},
                expit(0.4),
                (1 - expit(0.4)) * expit(-0.3) * 1.5,
            ),
        ),
        Check(
            "lstm-zero-disk",
            "LSTM zero fixed point: disk [Cor 5.3]",
            "σ(b_o)σ(b_i)a_h",
            "max|λ − σ(b_f)|",
            "relative",
            0.06,
            _FINITE_N_EDGE,
            _zero_disk(
                "lstm",
                {"a_h": 2.0, "a_f": 1, "a_i": 1, "a_o": 1, "b_f": 0.5, "b_i": 0.2, "b_o": 0.1},
                expit(0.5),
                expit(0.1) * expit(0.2) * 2.0,
            ),
        ),
        Check(
            "vanilla-circular-law",
            "Vanilla RNN at the zero fixed point: circular law",
            "a_h",
            "max|λ|",
            "relative",
            0.06,
            _FINITE_N_EDGE,
            _zero_disk("vanilla", {"a_h": 0.8}, 0.0, 0.8),
        ),
    ]
    for params in GRU_FIG1:
        checks.append(
            Check(
                f"gru-network-curve-az{params['a_z']}-ar{params['a_r']}",
                f"GRU spectral curve from network statistics [Thm 4.1, Fig 1], {params}",
                "radius of ρ(L(λ)) = 1",
                "max|eig(J)| (mean over 3 networks)",
                "relative",
                0.05,
                _FINITE_N_EDGE + "; ≥97% of eigenvalues inside (edge band of width ~N^-1/2)",
                _network_curve("gru", params, 0.05),
            )
        )
    for params in LSTM_FIG3:
        checks.append(
            Check(
                f"lstm-network-curve-af{params['a_f']}-ao{params['a_o']}",
                f"LSTM spectral curve from network statistics [Cor 5.2, Fig 3], {params}",
                "radius of ρ(L(λ)) = 1",
                "max|eig(J)| (mean over 3 networks)",
                "relative",
                0.05,
                _FINITE_N_EDGE + "; ≥97% of eigenvalues inside",
                _network_curve("lstm", params, 0.05),
                profiles=("thorough", "gpu") if params["a_f"] == 10 else PROFILES,
            )
        )
    for params in ({"a_h": 3, "a_f": 3}, {"a_h": 3, "a_f": 1, "b_f": 1}):
        checks.append(
            Check(
                f"mgu-network-curve-af{params['a_f']}",
                f"MGU spectral curve (no paper derived it), {params}",
                "radius of ρ(L(λ)) = 1",
                "max|eig(J)|",
                "relative",
                0.05,
                _FINITE_N_EDGE,
                _network_curve("mgu", params, 0.05),
            )
        )
    for name, params, profiles in (
        ("gru", {"a_h": 3, "a_z": 1, "a_r": 1}, PROFILES),
        ("gru", {"a_h": 3, "a_z": 1, "a_r": 10}, ("thorough", "gpu")),
        ("gru", {"a_h": 3, "a_z": 10, "a_r": 1}, ("thorough", "gpu")),
        ("lstm", {"a_h": 3, "a_i": 1, "a_f": 1, "a_o": 1}, PROFILES),
    ):
        checks.append(
            Check(
                f"{name}-dmft-curve-" + "-".join(f"{k}{v}" for k, v in params.items() if k != "a_h"),
                f"{name.upper()} spectral curve from the steady-state DMFT alone (no simulation input), {params}",
                "radius of ρ(L(λ)) = 1 over DMFT samples",
                "max|eig(J)| (mean over 3 networks)",
                "relative",
                0.05,
                _FINITE_N_EDGE + "; Monte Carlo DMFT error ~1% on C(τ) (1000 paths)",
                _dmft_curve(name, params, 0.05),
                profiles=profiles,
            )
        )
    checks += [
        Check(
            "gru-reset-sqrt-scaling",
            "GRU with a_z = 0: ρ_t = Θ(√a_r) [Prop 4.5]: exponent of a log-log fit",
            "exponent 1/2",
            "slope of log ρ_t vs log a_r, a_r ∈ {50..400}",
            "absolute",
            0.1,
            "Θ(√a_r) is asymptotic: at a_r = 50..400 the fitted exponent still carries O(1/√a_r) "
            "corrections, plus ±3% edge fluctuations per point (±0.03 on the slope)",
            _reset_gate_scaling,
        ),
        Check(
            "gru-accumulation-az",
            "GRU: eigenvalues accumulate near λ = 1 as a_z grows [G Fig 1, eq. 22]",
            "share near 1 grows with a_z",
            "share of eigenvalues with |λ−1| < 0.05 at a_z = 1, 5, 25",
            "monotone",
            0.0,
            "a trend: the share must increase monotonically and at least double",
            _accumulation("gru", "a_z", {"a_h": 3, "a_r": 1}),
        ),
        Check(
            "lstm-accumulation-af",
            "LSTM: eigenvalues accumulate near λ = 1 as a_f grows [G Fig 3f]",
            "share near 1 grows with a_f",
            "share of eigenvalues with |λ−1| < 0.05 at a_f = 1, 5, 25",
            "monotone",
            0.0,
            "a trend: the share must increase monotonically and at least double",
            _accumulation("lstm", "a_f", {"a_h": 3, "a_i": 1, "a_o": 1}),
            profiles=("thorough", "gpu"),
        ),
    ]
    checks.append(
        Check(
            "random-architectures",
            "Hypothesis-drawn gated architectures: spectral curve from network statistics",
            "radius of ρ(L(λ)) = 1",
            "max|eig(J)|",
            "relative (worst case)",
            0.06,
            "N = 800 edge fluctuations (±5%) for architectures no paper derived; ≥95% inside",
            _random_architectures,
        )
    )
    return checks


CHECKS: list[Check] = _build_checks()


def checks_for(profile: str) -> list[Check]:
    if profile not in PROFILES:
        raise ParameterError(expected(f"one of {list(PROFILES)}", "profile", profile))
    return [c for c in CHECKS if profile in c.profiles]


def select_checks(profile: str = "ci", only: Sequence[str] | None = None) -> list[Check]:
    """The checks of ``profile`` whose names start with one of ``only`` (all when ``only`` is empty).

    A prefix that selects nothing is an error: a typo would otherwise run no check and "pass".
    """
    checks = checks_for(profile)
    for prefix in only or ():
        if not any(c.name.startswith(prefix) for c in checks):
            raise ParameterError(
                expected(
                    f"a prefix of a check of profile {profile} ({', '.join(c.name for c in checks)})", "only", prefix
                )
            )
    return [c for c in checks if not only or any(c.name.startswith(o) for o in only)]


def run_checks(
    profile: str = "ci",
    *,
    backend: str = "numpy",
    only: Sequence[str] | None = None,
    progress: Callable[[Check], None] | None = None,
    on_result: Callable[[Report], None] | None = None,
) -> Report:
    """Run the checks of ``profile`` (optionally only those whose names start with ``only``).

    ``progress`` is called with each check before it runs (the command line draws a bar);
    ``on_result(report)`` after every check, so a caller can write the report as it grows (an
    interrupted run keeps what it finished).
    """
    report = Report(profile, backend)
    for check in select_checks(profile, only):
        if progress:
            progress(check)
        start = time.perf_counter()
        try:
            outcome = check.run(profile, backend)
            report.results.append(Result(check, outcome, time.perf_counter() - start))
        except Exception as err:  # a crashing check is a failed check, reported with its reason
            report.results.append(Result(check, None, time.perf_counter() - start, f"{type(err).__name__}: {err}"))
        if on_result:
            on_result(report)
    return report


def write_report(report: Report, directory: str | Path) -> Path:
    """Markdown table (one row per check) and a PNG per curve check."""
    from rmtgate.figures import save_spectrum

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# rmtgate verification report — profile `{report.profile}`, backend `{report.backend}`",
        "",
        f"{sum(r.passed for r in report.results)} of {len(report.results)} checks passed.",
        "",
        "| check | theory | simulation | error | tolerance | N | result | time [s] |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = ["", "## Checks", ""]
    for result in report.results:
        check, outcome = result.check, result.outcome
        if outcome is None:
            lines.append(
                f"| {check.name} | {check.theory} | {check.simulation} | — | {check.tolerance:g} | — | ERROR | {result.seconds:.1f} |"
            )
        else:
            verdict = "pass" if outcome.passed else "FAIL"
            lines.append(
                f"| {check.name} | {outcome.theory:.5g} | {outcome.simulation:.5g} | {outcome.error:.3g} ({check.error_kind}) "
                f"| {check.tolerance:g} | {outcome.N} | {verdict} | {result.seconds:.1f} |"
            )
            if outcome.figure is not None:
                curve, eigenvalues, title = outcome.figure
                save_spectrum(directory / f"{check.name}.png", curve, eigenvalues, title=title)
        notes.append(
            f"* **{check.name}** — {check.description}. Theory: {check.theory}; simulation: {check.simulation}."
        )
        notes.append(f"  Tolerance {check.tolerance:g} ({check.error_kind}): {check.justification}.")
        if outcome is not None and outcome.detail:
            notes.append(f"  {outcome.detail}")
        if result.failure:
            notes.append(f"  Error: {result.failure}")
        if outcome is not None and outcome.figure is not None:
            notes.append(f"  ![{check.name}]({check.name}.png)")
    path = directory / "report.md"
    path.write_text("\n".join(lines + notes) + "\n", encoding="utf-8")
    return path


def format_table(report: Report) -> str:
    rows = [f"{'check':38} {'theory':>10} {'simulation':>10} {'error':>8} {'tol':>6} {'N':>5}  result"]
    for r in report.results:
        o = r.outcome
        if o is None:
            rows.append(
                f"{r.check.name:38} {'—':>10} {'—':>10} {'—':>8} {r.check.tolerance:6.3g} {'—':>5}  ERROR {r.failure[:60]}"
            )
        else:
            rows.append(
                f"{r.check.name:38} {o.theory:10.4g} {o.simulation:10.4g} {o.error:8.3g} {r.check.tolerance:6.3g} {o.N:5d}  "
                + ("pass" if o.passed else "FAIL")
            )
    return "\n".join(rows)
