"""Issue 10's slow points: pure theory (steady-state DMFT + spectral curve) against simulated networks.

The references are single N = 2000 networks simulated with :func:`rmtgate.simulation.simulate`
(seed 1): ``C_h(0)`` is ``mean(h²)`` over neurons and steps after the burn-in, the radius is
``max|eig(J)|`` of the Jacobian at the last step.  Burn-in 3000 and 6000 averaged steps, i.e.
more than five of the DMFT's measured correlation times each, except GRU ``a_z = 10``
(τ_c ≈ 850 in the network): there 2000 burn-in and 18000 averaged steps.  Re-running those
simulations takes 1-4 min per point, so the numbers are recorded here; ``test_dmft_slow_gates_
match_simulation`` (tests/test_mft.py) re-simulates the slowest point on every slow run.

Tolerance 3 % (the issue's): the simulated C_h(0) of one network moves by up to ±1.5 % between
blocks of its own trajectory at a_z = 10, and a finite network's spectral edge by ±1-2 %.
Cost per point (this machine, 2 cores, next to another test run): 10-65 s, GRU a_z = 10 about 130 s;
all six 5.3 min.
GRU a_z = 20 is not here: the adaptive DMFT refuses it (window not confirmed up to 16384
lags) and the N = 2000 network is not stationary over 48000 steps (C_h(0) 0.396 → 0.364).
"""

from __future__ import annotations

import pytest

from rmtgate import gru, lstm
from rmtgate.mft.dmft import steady_sample_size, steady_state
from rmtgate.numerics.curves import theory

# (architecture, parameters, simulated C_h(0), simulated max|eig J|)
SLOW_POINTS = [
    ("gru", {"a_h": 3.0, "a_z": 5.0, "a_r": 1.0}, 0.3428, 1.0200),
    ("gru", {"a_h": 3.0, "a_z": 10.0, "a_r": 1.0}, 0.3545, 1.0109),
    ("gru", {"a_h": 3.0, "a_z": 10.0, "a_r": 10.0}, 0.3948, 1.5435),
    ("lstm", {"a_h": 3.0, "a_f": 10.0, "a_i": 1.0, "a_o": 1.0}, 0.1046, 1.1268),
    ("lstm", {"a_h": 3.0, "a_f": 10.0, "a_i": 1.0, "a_o": 10.0}, 0.1477, 1.3144),
    ("lstm", {"a_h": 3.0, "a_f": 20.0, "a_i": 1.0, "a_o": 1.0}, 0.1193, 1.1546),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "params", "sim_C_h0", "sim_radius"),
    SLOW_POINTS,
    ids=[f"{n}-" + "-".join(f"{k}{v:g}" for k, v in p.items() if k != "a_h") for n, p, _, _ in SLOW_POINTS],
)
def test_slow_point_matches_simulation(name: str, params: dict[str, float], sim_C_h0: float, sim_radius: float) -> None:
    arch = {"gru": gru, "lstm": lstm}[name]()
    state = steady_state(arch, params, seed=0)
    C_h0 = state.C0["h"]
    _, curve = theory(arch, state.local_sample(steady_sample_size(arch), 0), params, n_angles=180)
    assert C_h0 == pytest.approx(sim_C_h0, rel=0.03)
    assert curve.spectral_radius == pytest.approx(sim_radius, rel=0.03)
    # the memory was measured, not assumed: the window holds the correlation time several times
    # over (the confirmed window is returned: 256 lags for 65 steps at a_z = 5, 4096 for 760 at 10)
    assert len(state.lags) >= 3 * state.correlation_time
