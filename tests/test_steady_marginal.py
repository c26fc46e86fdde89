"""The steady-state approach ρ → 1 along a gain: the decay fit, the warm-started chain, the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rmtgate import gru
from rmtgate.cli.main import main
from rmtgate.errors import ParameterError
from rmtgate.mft.steady_marginal import fit_exponential_decay, steady_approach
from rmtgate.mft.steady_spectrum import steady_spectrum


def test_the_fit_recovers_an_exact_exponential() -> None:
    gains = np.array([3.0, 5.0, 7.0, 10.0])
    excess = 0.1 * np.exp(-0.18 * gains)
    fit = fit_exponential_decay(gains, excess, 0.01 * excess)
    # noiseless data: the weighted least squares line is exact up to rounding
    assert fit.rate == pytest.approx(0.18, abs=1e-12)
    assert fit.intercept == pytest.approx(math.log(0.1), abs=1e-12)
    assert fit.excess(6.0) == pytest.approx(0.1 * math.exp(-1.08), rel=1e-12)


def test_the_fits_error_bar_covers_the_truth_as_often_as_it_claims() -> None:
    # 400 synthetic data sets with Gaussian errors of known size: the rate's 1σ interval must
    # contain the true rate in ≈ 68 % of them (binomial sd 2.3 %, so 0.58–0.78 is > 4 sd wide
    # either way), and the χ² scaling must not inflate it when the error bars are right
    rng = np.random.default_rng(7)
    gains = np.array([1.0, 3.0, 5.0, 7.0, 10.0])
    truth = 0.07 * np.exp(-0.15 * gains)
    errors = np.array([0.002, 0.002, 0.001, 0.0014, 0.0008])
    inside = 0
    for _ in range(400):
        fit = fit_exponential_decay(gains, truth + errors * rng.standard_normal(gains.size), errors)
        inside += abs(fit.rate - 0.15) < fit.rate_error
    assert 0.58 < inside / 400 < 0.78


def test_the_fit_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(ParameterError, match="positive excess"):
        fit_exponential_decay([1.0, 2.0], [0.01, -0.001], [0.001, 0.001])
    with pytest.raises(ParameterError, match="at least two points"):
        fit_exponential_decay([1.0], [0.01], [0.001])
    with pytest.raises(ParameterError, match="positive, finite error bars"):
        fit_exponential_decay([1.0, 2.0], [0.01, 0.005], [0.001, math.nan])
    with pytest.raises(ParameterError, match="one common length"):
        fit_exponential_decay([1.0, 2.0], [0.01, 0.005], [0.001])


def test_a_bad_gain_is_refused_before_any_solve() -> None:
    with pytest.raises(ParameterError, match="gain='a_q'"):
        steady_approach(gru(), {"a_h": 3.0, "a_r": 1.0}, "a_q", [1.0, 2.0])
    with pytest.raises(ParameterError, match="non-empty sequence"):
        steady_approach(gru(), {"a_h": 3.0, "a_r": 1.0}, "a_z", [])
    with pytest.raises(ParameterError, match="a_z"):
        steady_approach(gru(), {"a_h": 3.0, "a_r": 1.0}, "a_z", [1.0, -2.0])


def test_a_warm_started_point_agrees_with_a_cold_solve() -> None:
    # the chain starts a_z = 2 from a_z = 1's correlation functions; a cold solve of a_z = 2 with
    # another seed must agree within 4 combined error bars (each is a standard error of 4 replicas)
    params = {"a_h": 3.0, "a_r": 1.0}
    chain = steady_approach(gru(), params, "a_z", [1.0, 2.0], seed=0, trajectories=1024, size=8000)
    cold = steady_spectrum(gru(), {**params, "a_z": 2.0}, seed=5, trajectories=1024, size=8000)
    warm = chain.points[1]
    assert warm.gain == 2.0
    combined = math.hypot(warm.spectral_radius_error, cold.spectral_radius_error)
    assert abs(warm.spectral_radius - cold.spectral_radius) < 4 * combined
    c0_combined = math.hypot(warm.C0_error, cold.state.C0_error["h"])
    assert abs(warm.C0 - cold.state.C0["h"]) < 4 * c0_combined
    summary = chain.summary()
    assert summary["state"] == "h"
    assert summary["points"][0]["a_z"] == 1.0 and summary["parameters"] == {
        "a_h": 3.0,
        "a_r": 1.0,
        "b_h": 0.0,
        "b_r": 0.0,
        "b_z": 0.0,
    }
    assert summary["fit"]["rate"] == pytest.approx(
        math.log(chain.points[0].excess / chain.points[1].excess), rel=1e-9
    )  # two points: the line passes through both


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--approach", "a_z=1"], "at least two values of a_z"),
        (["--approach", "a_z=1,x"], "comma-separated numbers for a_z but got a_z='x'"),
        (["--approach", "a_z"], "--approach NAME=V1,V2"),
        (["--approach", "a_z=1,2", "-p", "a_z=1"], "a_z set by --approach only"),
        (["--approach", "a_z=1,2", "--plot", "/nonexistent-dir/f.png"], "existing directory"),
    ],
)
def test_approach_command_line_errors_are_one_typed_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["mft", "gru", "-p", "a_h=3", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("rmtgate: error: ") and message in err[0], err


def test_approach_command_line_json(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    figure = f"{tmp_path}/approach.png"
    argv = ["mft", "gru", "-p", "a_h=3", "-p", "a_r=1", "--approach", "a_z=1,3", "--trajectories", "512"]
    code = main([*argv, "--json", "--quiet", "--plot", figure])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert [p["a_z"] for p in payload["points"]] == [1.0, 3.0]
    # the theory's radius at a_z = 1 is 1.066 (issue 10's seed-spread runs: sd 0.08 %); 512 paths
    # give an error bar of ≈ 0.002, so 0.01 is 5 of them
    assert payload["points"][0]["spectral_radius"] == pytest.approx(1.066, abs=0.01)
    assert payload["fit"]["rate"] > 0  # the radius falls toward one as a_z grows
    with open(figure, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_one_replica_gives_null_error_bars_and_no_fit() -> None:
    # one replica has no spread: its error bars are null in the JSON (never NaN) and, with
    # nothing to weight the points by, the fit says why it is missing
    chain = steady_approach(gru(), {"a_h": 3.0, "a_r": 1.0}, "a_z", [1.0, 2.0], replicas=1, trajectories=256, size=2000)
    summary = chain.summary()
    assert summary["points"][0]["spectral_radius_error"] is None and summary["points"][0]["C0_error"] is None
    assert "error bars" in summary["fit"]["error"]
    json.dumps(summary, allow_nan=False)


def test_repeated_solves_are_averaged_and_their_spread_enters_the_error_bar() -> None:
    # the first point has no warm start, so its two solves are exactly the cold solves at seeds
    # 3 and 4 (same seed, same numbers on the CPU): the point is their mean, and its error bar
    # the larger of the combined replica error and the two solves' standard error
    params = {"a_h": 3.0, "a_r": 1.0}
    options = {"trajectories": 512, "size": 4000, "n_angles": 90}
    chain = steady_approach(gru(), params, "a_z", [1.0, 2.0], seed=3, repeats=2, **options)
    cold = [steady_spectrum(gru(), {**params, "a_z": 1.0}, seed=s, **options) for s in (3, 4)]
    radii = [c.spectral_radius for c in cold]
    first = chain.points[0]
    assert first.radii == pytest.approx(radii, rel=1e-12)
    assert first.spectral_radius == pytest.approx(np.mean(radii), rel=1e-12)
    replica = math.sqrt((cold[0].spectral_radius_error ** 2 + cold[1].spectral_radius_error ** 2) / 2 / 2)
    spread = np.std(radii, ddof=1) / math.sqrt(2)
    assert first.spectral_radius_error == pytest.approx(max(replica, spread), rel=1e-12)
    assert len(chain.points[1].radii) == 2 and "radii" in chain.summary()["points"][1]
    with pytest.raises(ParameterError, match="repeats"):
        steady_approach(gru(), params, "a_z", [1.0, 2.0], repeats=0)
