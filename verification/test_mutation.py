"""Mutation testing of the theory on simulated networks (slow: one scenario takes minutes).

``rmtgate verify --mutants --quick`` runs four scenarios; this test runs the GRU one and holds
the promise of :mod:`rmtgate.verification.mutation`: the true theory passes every check, every
mutant whose effect exceeds a check's resolution is killed, and the true theory's deviations
shrink from N/4 to N as the finite-size model says (N^{-1/2}: by 2 up to the spread).
"""

from __future__ import annotations

import pytest

from rmtgate.verification.mutation import CHECK_NAMES, QUICK, run_scenario


@pytest.mark.slow
def test_gru_scenario_kills_every_mutant_above_resolution() -> None:
    report = run_scenario(QUICK[0], N=1000, networks=3, n_angles=90)
    assert all(report.true_passes.values()), report.true_deviation
    detectable = [m for m in report.mutants if m["effect"] > m["resolution"]]
    assert len(detectable) >= 5  # the catalogue is not vacuous at this N
    assert all(m["killed_by"] for m in detectable), [m["name"] for m in detectable if not m["killed_by"]]
    # the finite-size model: deviations at N are at most those at N/4 (they shrink ~ N^-1/2)
    for check in CHECK_NAMES:
        assert report.true_deviation[check] <= report.true_deviation_quarter[check] + report.tolerance[check]
