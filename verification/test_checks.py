"""The `ci` profile of the verification harness, one pytest test per check.

Each check states its theory quantity, simulated quantity, N and justified tolerance in
:mod:`rmtgate.checks`; ``rmtgate verify --report DIR`` runs the same checks and writes a report.
"""

from __future__ import annotations

import pytest

from rmtgate.verification.checks import checks_for

CI_CHECKS = checks_for("ci")


@pytest.mark.parametrize("check", CI_CHECKS, ids=[c.name for c in CI_CHECKS])
def test_ci_check(check) -> None:
    outcome = check.run("ci", "numpy")
    assert outcome.passed, (check.name, outcome.theory, outcome.simulation, outcome.error, outcome.detail)


THOROUGH_ONLY = [c for c in checks_for("thorough") if c not in CI_CHECKS]


@pytest.mark.slow
@pytest.mark.parametrize("check", THOROUGH_ONLY, ids=[c.name for c in THOROUGH_ONLY])
def test_thorough_check(check) -> None:
    outcome = check.run("thorough", "numpy")
    assert outcome.passed, (check.name, outcome.theory, outcome.simulation, outcome.error, outcome.detail)
