"""Free gates averaged exactly in the DMFT map (:mod:`rmtgate.mft.free_factors`) and the polished answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from rmtgate import gru, lstm, mgu, vanilla
from rmtgate.mft.dmft import steady_state
from rmtgate.mft.free_factors import gate_moments, pair_moment, quadrature_nodes
from rmtgate.mft.single_site import (
    SingleSiteRunner,
    autocovariance,
    dynamic_system,
    gaussian_paths,
    realized_covariance,
)
from rmtgate.numerics.parameters import resolve_parameters


def _sigmoid(x: np.ndarray, bias: float = 0.3) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * (x + bias)))


def test_the_free_gates_of_the_gru_and_lstm_are_found_and_no_others() -> None:
    # GRU: u_h = σ(η_r + b_r)·h, and η_r enters no state update; η_z does (it is not free)
    system = dynamic_system(gru())
    (j, factored), *rest = system.dyn_factors.inputs.items()
    assert not rest and system.moments[j].name == "u_h"
    assert [str(f.expression) for f in factored.factors] == ["sigmoid(b_r + eta_r)"]
    assert str(factored.rest_expression) == "h"
    # LSTM: the input h is the output gate times tanh of the new cell; η_o drives nothing else
    system = dynamic_system(lstm())
    assert list(system.dyn_factors.states) == [1]  # the state h, as the input
    (j, factored), *rest = system.dyn_factors.inputs.items()
    assert not rest and system.moments[j].name == "h"
    assert [str(f.expression) for f in factored.factors] == ["sigmoid(b_o + eta_o)"]
    assert "eta_o" not in str(factored.rest_expression) and "tanh" in str(factored.rest_expression)
    # the vanilla network's state h = tanh(η_h + b_h) is read by no update: a free gate itself
    factors = dynamic_system(vanilla()).dyn_factors
    assert [str(f.expression) for f in factors.inputs[0].factors] == ["tanh(b_h + eta_h)"]
    assert factors.inputs[0].rest_expression == 1 and factors.states[0].rest_expression == 1
    # the MGU's gate f drives its state: nothing is free
    assert dynamic_system(mgu()).dyn_factors.inputs == {}


def test_the_vanilla_dmft_is_pure_quadrature() -> None:
    # h_t = tanh(η_t) with η Gaussian: the map is deterministic (zero Monte Carlo noise, identical
    # replicas) and C_h(0) is the static mean-field q = E[tanh²(a √q g)], here solved by scipy
    # (brentq on adaptive quad, 1e-14); tolerance 1e-4, ten times the polished residual (1e-5)
    a = 2.0
    ss = steady_state(vanilla(), {"a_h": a}, seed=0)
    assert ss.noise == 0.0 and ss.C_h0_error == 0.0

    def excess(q: float) -> float:
        def integrand(g: float) -> float:
            return math.tanh(a * math.sqrt(q) * g) ** 2 * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)

        return integrate.quad(integrand, -12, 12, epsabs=1e-14)[0] - q

    assert ss.C_h0 == pytest.approx(optimize.brentq(excess, 0.1, 1.0, xtol=1e-14), rel=1e-4)


@pytest.mark.parametrize("std", [0.6, 2.0])
def test_pair_moment_is_the_bivariate_gaussian_integral(std: float) -> None:
    # reference: scipy's adaptive 2-D quadrature (absolute error 1e-12) of the same integral in
    # standardized coordinates; the Gauss–Hermite rule chosen by quadrature_nodes must agree to
    # its tolerance (1e-6 relative) at every correlation, negative ones included
    covariance = std**2 * np.array([1.0, 0.97, 0.6, 0.0, -0.4])
    nodes = quadrature_nodes(_sigmoid, covariance)
    assert nodes is not None
    values = pair_moment(_sigmoid, covariance, nodes)
    for value, cov in zip(values, covariance, strict=True):
        rho = cov / covariance[0]
        s = math.sqrt(1.0 - rho * rho)

        def integrand(g2: float, g1: float, rho: float = rho, s: float = s) -> float:
            density = math.exp(-0.5 * (g1 * g1 + g2 * g2)) / (2.0 * math.pi)
            return float(_sigmoid(std * g1) * _sigmoid(std * (rho * g1 + s * g2))) * density

        reference = integrate.dblquad(integrand, -10, 10, -10, 10, epsabs=1e-12)[0]
        assert value == pytest.approx(reference, rel=1e-6)


def test_a_gate_too_sharp_for_the_rule_is_left_to_sampling() -> None:
    # field standard deviation 20: the sigmoid is a step on the scale of the Gaussian, which 192
    # Gauss–Hermite nodes cannot resolve to 1e-6; a field at rest needs one node
    sharp = 400.0 * np.array([1.0, 0.5])
    assert quadrature_nodes(_sigmoid, sharp) is None
    factored = dynamic_system(gru()).dyn_factors.inputs[1]
    assert gate_moments(factored, [sharp], [0.0] * 6) is None
    assert quadrature_nodes(_sigmoid, np.zeros(3)) == 1
    np.testing.assert_allclose(pair_moment(_sigmoid, np.zeros(3), 1), _sigmoid(np.zeros(1))[0] ** 2)


def test_factored_input_autocovariance_is_the_sampled_one() -> None:
    # the factorization is an identity of the single-site process: C_{u_h}(τ) = E[r r'] C_h(τ).
    # Sampled whole on 8192 paths, C_{u_h} must agree with the exact gate moment times the
    # sampled C_h within 4 standard errors (the errors from 16 independent groups of paths)
    arch = gru()
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 2.0, "b_r": 0.5}
    values = resolve_parameters(arch, params)
    lags = 24
    runner = SingleSiteRunner(arch, values, 256, 128, 8192, 3, lags=lags)
    covs = [{name: 0.3 * np.exp(-np.arange(lags) / 5.0) + 0.02 for name in runner.input_names}]
    record = runner.run(covs)
    j = runner.input_names.index("u_h")
    k = runner.factored[j].factors[0].field
    field = realized_covariance(runner.field_covariance(k, covs[0]), runner.fft_size)[:lags]
    gate = gate_moments(runner.factored[j], [field], runner.pvals)
    assert gate is not None
    whole = autocovariance(record["inputs"][j], lags)
    rest = autocovariance(record["rests"][j], lags)
    groups = np.array_split(np.arange(runner.M), 16)
    difference = np.stack([whole[:, g].mean(axis=1) - gate * rest[:, g].mean(axis=1) for g in groups])
    error = difference.std(axis=0, ddof=1) / math.sqrt(len(groups))
    assert np.all(np.abs(difference.mean(axis=0)) < 4 * error + 1e-12)


def test_the_runner_leaves_out_what_an_exactly_averaged_gate_makes_unused() -> None:
    # with u_h's gate averaged exactly, the map needs u_h only through its rest h: the runner
    # neither evaluates u_h nor simulates η_r (read by nothing else), returns the rest as the
    # input h itself (measured once), and every path it does produce is the one a full run gives
    arch = gru()
    values = resolve_parameters(arch, {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0})
    runner = SingleSiteRunner(arch, values, 64, 32, 64, 5, replicas=2, lags=16)
    covs = [{name: 0.3 * np.exp(-np.arange(16) / 5.0) for name in runner.input_names}] * 2
    j, h = runner.input_names.index("u_h"), runner.input_names.index("h")
    k = runner.factored[j].factors[0].field
    full = runner.run(covs)
    lean = runner.run(covs, exact={j})
    assert lean["inputs"][j] is None and lean["fields"][k] is None
    assert lean["rests"][j] is lean["inputs"][h]
    np.testing.assert_array_equal(lean["rests"][j], full["rests"][j])
    np.testing.assert_array_equal(lean["states"], full["states"])
    for other in (f for f in range(len(full["fields"])) if f != k):
        np.testing.assert_array_equal(lean["fields"][other], full["fields"][other])
    # the paths themselves: one transform for all replicas gives each replica's own paths
    for r, cov in enumerate(covs):
        name = arch.local_form.fields[0].symbol.name
        rows = slice(r * runner.per_replica // 2, (r + 1) * runner.per_replica // 2)
        alone = gaussian_paths(
            runner.field_covariance(0, cov),
            runner.normals[name][rows],
            runner.static_normals[name][runner.replica_slice(r)],
            runner.n_t,
        )
        np.testing.assert_allclose(full["fields"][0][:, runner.replica_slice(r)], alone[runner.burn_in :], atol=1e-14)


def test_the_answer_does_not_depend_on_where_the_iteration_started() -> None:
    # Every replica approaches its fixed point along the map's slow mode from the same side;
    # stopped at the noise level (as before the polish), the LSTM a_h = 3, gains 1 answer was
    # 0.2446 from the default start and 0.2477-0.2481 from 0.7x or 1.4x the solution.  Iterated
    # below the noise, the three starts agree to 5e-4 relative; tolerance 0.3 %, a third of the
    # old gap and well above the replicas' own fixed-point tolerance (~1e-4).
    arch, params = lstm(), {"a_h": 3.0, "a_f": 1.0, "a_i": 1.0, "a_o": 1.0}
    default = steady_state(arch, params, seed=0)
    assert default.polished
    shifted = steady_state(arch, params, seed=0, initial={k: 1.4 * v for k, v in default.C_inputs.items()})
    assert shifted.C_h0 == pytest.approx(default.C_h0, rel=3e-3)
    assert default.summary()["polished"] is True


def test_a_field_no_update_reads_is_drawn_stratified() -> None:
    # the GRU's η_r drives no state (the LSTM's η_o drives h): in the one-time sample it is
    # independent of everything else, so its draws are randomly paired quantiles of its exact
    # Gaussian.  Their empirical CDF is then within 1/n of the normal one (independent draws:
    # Kolmogorov distance ~ 0.87/√n = 0.014 here), and they stay uncorrelated with h and η_z
    # (|r| < 4/√n).
    from scipy.special import ndtr

    assert dynamic_system(gru()).dyn_factors.independent == (1,)
    assert dynamic_system(lstm()).dyn_factors.independent == ()
    state = steady_state(gru(), {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}, trajectories=256, seed=0)
    n = 4000
    draws = state.sample(n, 0)
    std = math.sqrt(state.field_covariances["eta_r"][0])
    cdf = ndtr(np.sort(draws["eta_r"]) / std)
    assert np.max(np.abs(cdf - (np.arange(n) + 0.5) / n)) < 1.0 / n
    for other in ("h", "eta_z"):
        assert abs(np.corrcoef(draws["eta_r"], draws[other])[0, 1]) < 4 / math.sqrt(n)
