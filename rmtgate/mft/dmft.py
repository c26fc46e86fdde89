"""Steady-state DMFT of any architecture (:func:`steady_state`).

The single-site process (:mod:`rmtgate.mft.single_site`) is driven by Gaussian processes
whose covariances are iterated to self-consistency by Monte Carlo (common random numbers, so
that successive iterates differ by the map, not by sampling noise);
:func:`rmtgate.mft.closed.gru_closed_dmft` solves the GRU's closed difference equations
[G 50-51] as a cross-check.

The memory follows the dynamics: unless a window is given, the solve starts with 64 lags and
doubles the window (and the path length and burn-in, from the measured correlation time)
until the state autocovariance has levelled off inside it.  Independent replicas, each
self-consistent on its own paths, give the Monte Carlo error bar.

:class:`SteadyState` carries the self-consistent correlation functions, what the solve did
(window, correlation time, iterations, residual, error bar) and draws joint one-time samples
of the local variables, the input the boundary evaluators average over.

Why this module is long: the window loop, the mixing, the replica statistics and the window
check share the per-replica covariances and path arrays of one solve; split, each would
re-derive them (the path simulation itself lives in :mod:`rmtgate.mft.single_site`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.special

from rmtgate.errors import ConvergenceError, DerivationError, ParameterError, expected
from rmtgate.mft.control_variates import corrected_autocovariances, hermite_controls, replica_autocovariances
from rmtgate.mft.fixed_points import fixed_points
from rmtgate.mft.free_factors import FactoredInput, gate_moments
from rmtgate.mft.single_site import SingleSiteRunner, autocovariance, realized_covariance
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.symbolic.architecture import Architecture
from rmtgate.validation import check_integer

if TYPE_CHECKING:
    from rmtgate.numerics.samples import LocalSample

FIRST_WINDOW = 64
"""Lags of the first window of an adaptive solve (doubled until the memory fits)."""

MIN_STEPS = 512
"""Fewest stationary steps per path of an adaptive solve (short windows are cheap; their noise is not)."""

DEFAULT_MIN_STEPS = 1024
"""... and when ``steps`` is not given.  The replicas' fixed points carry the map's noise
amplified by the slow mode, so the default must sample long: GRU a_h = 3, a_z = a_r = 1, seeds
0–11, ``C_h(0)`` spread 0.103 % with 512 steps per path and 0.05 % with 1024, at 1.7× the time."""

MIN_DECORRELATED = 0.05
"""Part of ``C(0)`` that must decorrelate inside the window when every fixed point is unstable.

Small on purpose: a static part is legitimate (per-neuron biases, quenched means: 72 % of
``C(0)`` for a GRU with bias variance 0.5); what this catches is a replica frozen on the
unstable fixed point (0.1 % decorrelated at ``a_z = 10`` with 64 lags)."""

#: a window that passes its check is confirmed by the next (twice as long) one only if the
#: correlation time grows by less than this factor and C_h0 moves by less than CONFIRM_TOL
#: (relative) or twice the combined error bar: a window too short for the dynamics can hold a
#: self-consistent but truncated solution (GRU a_z = 10 at 64 lags: τ_c = 22, C_h0 = 0.307,
#: while the network has τ_c ≈ 850 and C_h0 = 0.355) that passes every check made inside it
CONFIRM_GROWTH = 1.5
CONFIRM_TOL = 0.02
#: the returned window is iterated to this fraction of the Monte Carlo noise of one map
#: evaluation: the bias of stopping there is then at most a few tenths of the error bar (the
#: replicas' spread over √replicas), while stopping at the noise itself left biases of
#: 0.15 % (GRU a_h = 3, a_z = a_r = 1) and 1.3 % (LSTM a_h = 3, gains 1), larger than it
POLISH = 0.125
#: ... and to this fraction of ``tol`` where the noise is smaller still, in at most this many
#: iterations (measured: 8-15 with 2048 paths; a map too rough to get there, as with 64 paths
#: per replica, would otherwise spend max_iter iterations learning so)
POLISH_TOL = 0.01
POLISH_ITERATIONS = 40
#: ... giving up after this many iterations without a new smallest residual (a window of 4096
#: lags with 62 paths per replica: 40 iterations, 90 s, spent on a map too rough to polish)
POLISH_PATIENCE = 8
#: ... and not tried with fewer paths per replica than this (62 per replica: the polish failed at
#: every window measured; 256: it converged in 8-15 iterations)
POLISH_MIN_PATHS = 128
#: a window's runner (its fixed draws) is kept for the polish when it holds at most this many
#: bytes (GRU, 64 lags, 2048 paths: 39 MB), and drawn again from a copy of its generator when
#: larger, so that two long windows' draws are never held at once
KEEP_RUNNER_BYTES = 64 << 20


@dataclass(frozen=True)
class WindowStage:
    """One window of an adaptive solve: its size, the paths it used and what the check measured.

    ``refused_by`` is the measured quantity that refused the window (the fall of the
    autocovariance over its second half, or the part of ``C(0)`` that decorrelated), None if
    it passed that check.  ``agrees_with_previous`` says whether this window confirmed the one
    before it (both passed, same correlation time and ``C_h0``; see :func:`_confirms`), None
    where there was nothing to confirm.
    """

    lags: int
    steps: int
    burn_in: int
    iterations: int
    C_h0: float
    refused_by: float | None
    correlation_time: float
    accepted: bool
    C_h0_error: float = math.nan
    agrees_with_previous: bool | None = None


@dataclass
class SteadyState:
    """Self-consistent steady state of the single-site DMFT.

    ``C_inputs[name][τ]`` is ``E[u_t u_{t+τ}]`` of each distinct presynaptic vector (names as
    in :class:`FixedPoint`), ``C_states[s][τ]`` the state autocorrelation, and
    ``field_covariances[eta_k][τ] = a_k² C_{u_k}(τ)`` (plus bias-noise variances), all
    averaged over the replicas.  ``C0`` maps each state to its equal-time moment;
    :attr:`C_h0` is that of the first state and :attr:`C_h0_error` its Monte Carlo standard
    error (spread of the independent replicas over ``√replicas``).  ``correlation_time`` is
    the integrated correlation time of the first state, ``stages`` the windows tried;
    ``residual`` is below ``max(tol, noise)``, ``noise`` the Monte Carlo standard error of one
    evaluation of the map; ``polished`` says whether the answer was then iterated below the
    noise (:data:`POLISH`), as it is unless the sampled map is too rough for that.
    """

    architecture: Architecture
    parameters: dict[str, float]
    lags: np.ndarray
    C_inputs: dict[str, np.ndarray]
    C_states: dict[str, np.ndarray]
    field_covariances: dict[str, np.ndarray]
    iterations: int
    residual: float
    trajectories: int
    steps: int
    burn_in: int
    history: list[float] = field(default_factory=list)
    replica_C0: list[dict[str, float]] = field(default_factory=list)
    correlation_time: float = math.nan
    stages: list[WindowStage] = field(default_factory=list)
    noise: float = math.nan
    replica_inputs: list[dict[str, np.ndarray]] = field(default_factory=list)
    polished: bool = True

    @property
    def C0(self) -> dict[str, float]:
        return {s: float(c[0]) for s, c in self.C_states.items()}

    @property
    def C0_error(self) -> dict[str, float]:
        """Standard error of each ``C0`` from the replica spread (NaN with one replica)."""
        return {s: _standard_error([r[s] for r in self.replica_C0]) for s in self.C_states}

    @property
    def C_h0(self) -> float:
        return float(next(iter(self.C_states.values()))[0])

    @property
    def C_h0_error(self) -> float:
        return next(iter(self.C0_error.values()))

    @property
    def C_h0_window_systematic(self) -> float:
        """How much ``C_h0`` moved between the returned window and the one that confirmed it, beyond noise.

        ``sqrt(max(0, ΔC² − σ₁² − σ₂²))`` from the two windows' ``C_h0`` and replica error
        bars (:func:`window_systematic`); NaN where no longer window confirmed this one (a
        fixed window solved alone).  The replica error bar does not contain it: the replicas of
        one solve share their window.  It is only as sharp as the confirming window is
        precise: under the path budget a long window has fewer paths (GRU ``a_h = 3, a_r = 1,
        a_z = 10``, seed 0: 2048 lags 0.3537 ± 0.0005, 4096 lags 0.3549 ± 0.0022, systematic 0).
        """
        if len(self.stages) < 2 or not self.stages[-1].agrees_with_previous:
            return math.nan
        return window_systematic(self.stages[-2], self.stages[-1])

    @property
    def replicas(self) -> int:
        return len(self.replica_C0)

    def summary(self) -> dict[str, Any]:
        return {
            "C_h0": self.C_h0,
            "C_h0_error": finite_or_none(self.C_h0_error),
            "C_h0_window_systematic": finite_or_none(self.C_h0_window_systematic),
            "C0": self.C0,
            "C0_error": {k: finite_or_none(v) for k, v in self.C0_error.items()},
            "replicas": self.replicas,
            "replica_C0": self.replica_C0,
            "correlation_time": self.correlation_time,
            "window": len(self.lags),
            "steps": self.steps,
            "burn_in": self.burn_in,
            "trajectories": self.trajectories,
            "iterations": self.iterations,
            "residual": self.residual,
            "noise": finite_or_none(self.noise),
            "polished": self.polished,
            "stages": [vars(s) for s in self.stages],
            "lags": self.lags.tolist(),
            "C_states": {k: v.tolist() for k, v in self.C_states.items()},
            "C_inputs": {k: v.tolist() for k, v in self.C_inputs.items()},
        }

    def sample(self, n: int, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint draws of the one-time local variables from the steady state.

        Keys: state names (the *previous* state ``s_{t-1}``), field names ``eta_k`` (the
        fields at step ``t``) and bias-noise names: the symbols of ``arch.local_form``.
        Drawn from paths driven by the replica-averaged covariances, spread over paths and
        stationary times.  A field that no state update reads (the GRU's ``η_r``) is independent
        of all the rest: it is drawn stratified, as randomly paired quantiles of its Gaussian.
        """
        n = check_integer(n, "n", 1)
        return self._draw([self.C_inputs], n, seed)[0]

    def replica_samples(self, n: int, seed: int | np.random.Generator) -> list[dict[str, np.ndarray]]:
        """``n`` draws (as in :meth:`sample`) from each replica's own self-consistent covariances.

        The replicas differ by their Monte Carlo noise only, so anything computed from these
        samples spreads as the solution does: their spread is its error bar.
        """
        n = check_integer(n, "n", 1)
        if len(self.replica_inputs) < 2:
            raise ParameterError(expected("a steady state solved with replicas >= 2", "replicas", self.replicas))
        return self._draw(self.replica_inputs, n, seed)

    def _draw(
        self, inputs: list[dict[str, np.ndarray]], n: int, seed: int | np.random.Generator
    ) -> list[dict[str, np.ndarray]]:
        runner = SingleSiteRunner(
            self.architecture,
            self.parameters,
            self.steps,
            self.burn_in,
            self.trajectories,
            seed,
            lags=len(self.lags),
            replicas=len(inputs),
        )
        covs = [{name: cov[name] for name in runner.input_names} for cov in inputs]
        locals_ = runner.run(covs, keep_locals=True)["locals"]
        rng = np.random.default_rng(seed)  # a Generator is used as is: same generator, same draws
        draws = []
        for r in range(len(inputs)):
            columns = {k: np.asarray(v)[:, runner.replica_slice(r)].ravel() for k, v in locals_.items()}
            total = next(iter(columns.values())).size
            pick = rng.choice(total, size=n, replace=n > total)
            draw = {k: v[pick] for k, v in columns.items()}
            # a field that no state update reads is independent of every other local variable:
            # its draws can be stratified (randomly paired quantiles of its exact Gaussian), which
            # removes their marginal noise (GRU η_r: the radius's draw-only spread over 8 draw
            # seeds 0.18 % -> 0.11 % at 20,000 draws)
            for k in runner.system.dyn_factors.independent:
                name = self.architecture.local_form.fields[k].symbol.name
                std = math.sqrt(max(float(runner.field_covariance(k, covs[r])[0]), 0.0))
                draw[name] = std * scipy.special.ndtri((rng.permutation(n) + rng.random(n)) / n)
            draws.append(draw)
        return draws

    def local_sample(self, n: int, seed: int | np.random.Generator) -> LocalSample:
        """:meth:`sample` as the :class:`~rmtgate.numerics.samples.LocalSample` the boundary averages over.

        A declared bias variance makes each neuron's bias its own: the draws ``epsilon_b`` become
        per-neuron values of the parameter ``b`` (``b + epsilon_b``), which the boundary
        evaluators average over like any local variable.
        """
        return self._local(self.sample(n, seed))

    def replica_local_samples(self, n: int, seed: int | np.random.Generator) -> list[LocalSample]:
        """:meth:`replica_samples` as :class:`~rmtgate.numerics.samples.LocalSample` (see :meth:`local_sample`)."""
        return [self._local(values) for values in self.replica_samples(n, seed)]

    def _local(self, values: dict[str, np.ndarray]) -> LocalSample:
        from rmtgate.numerics.samples import LocalSample

        for bias, _ in self.architecture.bias_variances:
            noise = values.pop(f"epsilon_{bias}", None)
            if noise is not None:
                values[bias] = self.parameters[bias] + noise
        return LocalSample.from_arrays(values, source="steady")


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: an error bar that one replica cannot give is null."""
    return value if math.isfinite(value) else None


def _correlation_time(cov: np.ndarray) -> float:
    """Integrated correlation time ``Σ_τ (C(τ) − C_∞)/(C(0) − C_∞)``, ``C_∞`` the last-quarter mean."""
    late = float(np.mean(cov[3 * len(cov) // 4 :]))
    spread = float(cov[0]) - late
    if spread <= 1e-12 * max(abs(float(cov[0])), 1e-300):
        return 0.0
    return float(max(np.sum(cov - late) / spread, 0.5))


def _initial_covariances(
    arch: Architecture,
    values: Mapping[str, float],
    names: list[str],
    lags: int,
    initial: Mapping[str, np.ndarray] | None,
) -> tuple[dict[str, np.ndarray], bool]:
    """Starting covariances and whether every fixed point is unstable (so the state must decorrelate)."""
    try:
        branches = fixed_points(arch, values, grid=48)
        start = branches[-1].C
        unstable = all(b.stable is False for b in branches)
    except (ConvergenceError, DerivationError, ParameterError):
        # the fixed points only seed the iteration: one that double precision cannot
        # evaluate (L(1) non-finite at saturating forget gates) leaves the default start
        start, unstable = {}, False
    if initial is not None:
        return {name: _extend(np.asarray(initial[name], dtype=float), lags) for name in names}, unstable
    decay = np.exp(-np.arange(lags) / 8.0)
    return {name: max(start.get(name, 0.5), 0.05) * decay for name in names}, unstable


def _extend(cov: np.ndarray, lags: int, *, decaying: bool = False) -> np.ndarray:
    """``cov`` on ``lags`` lags: cut, or continued by its last-quarter mean (the static part it implied).

    With ``decaying``, the continuation instead decays from the last value on the scale of
    the old window: the start of a larger window after a refused one, which must not carry
    the frozen memory the short window implied.
    """
    if len(cov) >= lags:
        return cov[:lags].copy()
    n = len(cov)
    if decaying:
        tail = cov[-1] * np.exp(-np.arange(1, lags - n + 1) / n)
    else:
        tail = np.full(lags - n, float(np.mean(cov[-max(1, n // 4) :])))
    return np.concatenate([cov, tail])


@dataclass
class _Solve:
    covs: list[dict[str, np.ndarray]]
    states: list[dict[str, np.ndarray]]
    state_acf: list[np.ndarray]  # per state, the autocovariance of every path (lags, M)
    iterations: int
    residual: float
    history: list[float]
    noise: float
    #: the mixer: its history stays valid for the same map (the same draws), so the polish goes
    #: on from it instead of learning the slow mode again
    mixer: _Anderson | None = None


@dataclass
class _Window:
    """A solved window: its solution, its runner's ``(steps, burn_in, paths, lags)``, a copy of
    the generator its runner drew from, and the correlation time measured in it."""

    solve: _Solve
    shape: tuple[int, int, int, int]
    draws: np.random.Generator
    correlation_time: float
    #: the runner itself where it is small (:data:`KEEP_RUNNER_BYTES`): the polish reuses it
    #: instead of drawing the same normals again
    runner: SingleSiteRunner | None = None


class _Anderson:
    """Anderson mixing (type II, Tikhonov-regularized) of the flattened covariances of all replicas together.

    Plain damping contracts the slow self-consistent mode by only ``1 − damping·(1 − λ)`` per
    iteration (``λ ≈ 0.9`` for the GRU at ``a_h = 3``); extrapolating over the last ``depth``
    residuals takes it in a few.  The history restarts when the residual grows, so a step
    that left the basin costs one damped step, not the solve.

    The extrapolated step is the full Anderson update (no damping): damped by 0.5 as the plain
    steps are, it took a third more iterations (GRU a_h = 3, a_z = a_r = 1, seeds 0-7: 167
    against 127 with the two changes below; LSTM a_h = 3, gains 1, seeds 0-3: 96 against 65).
    The replicas are mixed as one vector because their maps are coupled: each replica's control
    variates are fitted on the other replicas' paths, so one replica's measured covariances
    move with the others' (mixed one by one, the polish stalled for several iterations).
    """

    def __init__(self, damping: float, depth: int = 5):
        self.damping, self.depth = damping, depth
        self.xs: list[np.ndarray] = []
        self.fs: list[np.ndarray] = []
        self.best = math.inf

    def step(self, x: np.ndarray, gx: np.ndarray) -> np.ndarray:
        f = gx - x
        norm = float(np.max(np.abs(f)))
        if norm > 2 * self.best:
            self.xs, self.fs = [], []
        self.best = min(self.best, norm)
        self.xs.append(x)
        self.fs.append(f)
        self.xs, self.fs = self.xs[-self.depth - 1 :], self.fs[-self.depth - 1 :]
        if len(self.fs) < 2:
            return x + self.damping * f
        dF = np.stack([b - a for a, b in zip(self.fs[:-1], self.fs[1:], strict=True)], axis=1)
        dX = np.stack([b - a for a, b in zip(self.xs[:-1], self.xs[1:], strict=True)], axis=1)
        gram = dF.T @ dF
        gram += 1e-10 * np.trace(gram) * np.eye(len(gram))
        gamma = np.linalg.solve(gram, dF.T @ f)
        return x + f - (dX + dF) @ gamma


def _gate_moments(
    runner: SingleSiteRunner,
    covs: list[dict[str, np.ndarray]],
    lags: int,
    factored_by_index: Mapping[int, FactoredInput],
) -> dict[int, list[np.ndarray]]:
    """Per factored input (or state), each replica's exact free-gate autocovariance, where quadrature resolves the gates."""
    out = {}
    for j, factored in factored_by_index.items():
        per_replica = []
        for cov in covs:
            fields = [
                realized_covariance(runner.field_covariance(f.field, cov), runner.fft_size)[:lags]
                for f in factored.factors
            ]
            moment = gate_moments(factored, fields, runner.pvals)
            if moment is None:
                break
            per_replica.append(moment)
        else:
            out[j] = per_replica
    return out


def _iterate(
    runner: SingleSiteRunner,
    covs: list[dict[str, np.ndarray]],
    lags: int,
    *,
    damping: float,
    tol: float,
    max_iter: int,
    control_variates: bool = True,
    noise_stop: float = 1.0,
    patience: int | None = None,
    mixer: _Anderson | None = None,
) -> _Solve:
    """Anderson-mixed iteration of the replicas' covariances to ``max|ΔC| < max(tol, noise_stop · noise)``."""
    history: list[float] = []
    residual = math.inf
    names = runner.input_names
    if mixer is None:
        mixer = _Anderson(damping)
    for iteration in range(1, max_iter + 1):
        gates = _gate_moments(runner, covs, lags, runner.factored)
        # an input whose gates are averaged exactly is needed only through its rest
        record = runner.run(covs, exact=gates.keys())
        # a free gate's field enters only through its exactly averaged factor: no control needed
        skip = {f.field for j in gates for f in runner.factored[j].factors}
        controls = hermite_controls(runner, record["fields"], covs, lags, skip) if control_variates else None
        measured_by_name, noise = {}, 0.0
        # a rest that is another input is the same array (GRU: u_h's rest is h): measured once
        measured_paths: dict[int, tuple[list[np.ndarray], float]] = {}
        for j, name in enumerate(names):
            paths = record["rests"][j] if j in gates else record["inputs"][j]
            if id(paths) not in measured_paths:
                measured_paths[id(paths)] = replica_autocovariances(runner, paths, lags, controls)
            means, name_noise = measured_paths[id(paths)]
            if j in gates:
                measured_by_name[name] = [g * rest for g, rest in zip(gates[j], means, strict=True)]
                name_noise *= max(float(np.max(np.abs(g))) for g in gates[j])
            else:
                measured_by_name[name] = means
            noise = max(noise, name_noise)
        measured = [{name: measured_by_name[name][r] for name in names} for r in range(runner.replicas)]
        residual = max(float(np.max(np.abs(m[n] - c[n]))) for m, c in zip(measured, covs, strict=True) for n in c)
        history.append(residual)
        if patience is not None and len(history) > patience and min(history[-patience:]) >= min(history[:-patience]):
            break  # no progress in `patience` iterations: a map too rough for the tolerance asked
        # At the noise level the iterate can still sit several residuals from the fixed point, on
        # the side it started from (the map contracts its slow mode by only ~0.95 per step): good
        # enough to compare windows, not for the answer, which is polished (see POLISH)
        if residual < max(tol, noise_stop * noise):
            state_names = [s.name for s in runner.arch.local_form.state]
            # per path, once: the replica means below and the window check both use it
            state_acf = [autocovariance(paths, lags) for paths in record["states"]]
            per_state = {
                s: corrected_autocovariances(runner, acf, controls)[0]
                for s, acf in zip(state_names, state_acf, strict=True)
            }
            # a state that is a free gate times a rest: the gate averaged exactly, as for the inputs
            state_gates = _gate_moments(runner, covs, lags, runner.factored_states)
            for i, gate in state_gates.items():
                rest = replica_autocovariances(runner, record["state_rests"][i], lags, controls)[0]
                per_state[state_names[i]] = [g * r for g, r in zip(gate, rest, strict=True)]
            states = [{s: per_state[s][r] for s in state_names} for r in range(runner.replicas)]
            return _Solve(measured, states, state_acf, iteration, residual, history, noise, mixer)
        x = mixer.step(
            np.concatenate([c[n] for c in covs for n in names]), np.concatenate([m[n] for m in measured for n in names])
        )
        parts = np.split(x, len(covs) * len(names))
        covs = [dict(zip(names, parts[r * len(names) : (r + 1) * len(names)], strict=True)) for r in range(len(covs))]
    raise ConvergenceError(
        f"steady-state DMFT of {runner.arch.name} did not reach max|ΔC| < max(tol={tol}, {noise_stop:g} × the "
        f"Monte Carlo noise) with a {lags}-lag window",
        residual=residual,
        iterations=len(history),
    )


def steady_state(
    arch: Architecture,
    params: Mapping[str, Any],
    *,
    trajectories: int = 2048,
    replicas: int = 4,
    steps: int | None = None,
    burn_in: int | None = None,
    lags: int | None = None,
    max_lags: int = 8192,
    damping: float = 0.5,
    tol: float = 1e-3,
    max_iter: int = 100,
    seed: int | np.random.Generator = 0,
    initial: Mapping[str, np.ndarray] | None = None,
    window_tol: float = 0.1,
    path_budget: int = 1 << 24,
    control_variates: bool = True,
    first_lags: int | None = None,
) -> SteadyState:
    """Solve the steady-state DMFT of ``arch`` by damped Monte Carlo iteration.

    ``trajectories`` single-site paths of ``burn_in + steps`` steps, split into ``replicas``
    independent groups, are driven by Gaussian fields with covariance ``a_k² C_{u_k}(τ)``
    (``τ`` below the window; beyond it, the static part ``C_∞``).  Each replica's input
    autocovariances are re-measured on its own paths and mixed,
    ``C ← (1 - damping) C + damping C_measured`` and then Anderson-extrapolated (all replicas
    together, see :class:`_Anderson`), until ``max |C_measured - C| < tol``;
    otherwise :class:`ConvergenceError`.  The same Gaussian draws are reused in every
    iteration, so each replica converges to a fixed point of its sampled map; the replicas
    differ by Monte Carlo noise only, and their spread is the error bar.

    The window: with ``lags=None`` (default) it starts at 64 lags and doubles until the state
    autocovariance has levelled off inside it (see :func:`_check_window`); the path length is
    ``max(steps, 4·lags, 512)`` (``max(4·lags, 1024)`` when ``steps`` is not given) and the burn-in ``max(burn_in, lags, 5 τ_c)`` with ``τ_c`` the
    correlation time measured in the previous window.  Each window starts from the last one's
    solution, and a window is accepted only when the next one confirms it (same correlation
    time and ``C_h0``; see :data:`CONFIRM_GROWTH`); the confirmed window is the answer (under
    the path budget it has up to twice the paths of its confirming one), iterated further
    below the noise (:data:`POLISH`).  A fixed ``lags`` solves that window and, to
    confirm it, one twice as long; it is refused if the dynamics outlast it or the longer
    window disagrees.

    Args:
        arch: the architecture.
        params: parameter values by name.
        trajectories: single-site Monte Carlo paths, all replicas together.
        replicas: independent self-consistent groups of paths (≥ 2 for an error bar).
        steps: stationary time steps per path over which covariances are measured (default
            ``4·lags``; at least ``2·lags``).
        burn_in: time steps discarded at the start of each path (default: see above).
        lags: a fixed memory window in time steps, or None to size it from the dynamics.
        max_lags: the largest window an adaptive solve may reach (at least 128: the answer is a
            window that the one twice its length reproduced, so two windows are the fewest).
        damping: mixing weight of the measured covariance in a plain step (the first, and after
            a restart of the Anderson history), in ``(0, 1]``.
        tol: convergence threshold on ``max |C_measured − C|`` while windows are compared
            (raised to the Monte Carlo noise of one evaluation of the map when that is
            larger); the window returned goes on to ``max(POLISH_TOL · tol, POLISH · noise)``.
        max_iter: iterations per window before :class:`~rmtgate.errors.ConvergenceError`.
        seed: seed of the Gaussian draws (reused in every iteration).
        initial: starting input autocovariances by name (default: from the fixed point).
        window_tol: how much of the part of ``C(0)`` that has decorrelated the state
            autocovariance may still lose over the second half of the window.
        control_variates: correct every measured autocovariance with the Hermite moments of
            the fields (:mod:`rmtgate.mft.control_variates`), for windows up to
            ``MAX_ELEMENTS`` lags × paths.
        first_lags: the first window of an adaptive solve (default 64), doubled from there; a
            warm start from a nearby parameter point begins at that point's window (the one
            it returned) instead of growing the window again.
        path_budget: the most time steps (paths × steps per path) one iteration simulates;
            long windows use fewer than ``trajectories`` paths to stay within it (memory
            about 100 bytes per time step).

    Returns:
        A :class:`SteadyState`; ``summary()`` has ``C_h0`` with its error bar, the window,
        correlation time, iterations, residual and the covariances; ``local_sample(n, seed)``
        draws the one-time local variables.

    Raises:
        ConvergenceError: no convergence within ``max_iter`` (with ``residual``, ``iterations``),
            or the autocovariance still decaying at the end of the largest window allowed.
    """
    values = resolve_parameters(arch, params)
    if not 0 < window_tol < 1:
        raise ParameterError(expected("a window tolerance in (0, 1)", "window_tol", window_tol))
    trajectories = check_integer(trajectories, "trajectories", 2)
    replicas = check_integer(replicas, "replicas", 1, trajectories // 2)
    if steps is not None:
        steps = check_integer(steps, "steps", 8)
    if burn_in is not None:
        burn_in = check_integer(burn_in, "burn_in", 0)
    max_iter = check_integer(max_iter, "max_iter", 1)
    path_budget = check_integer(path_budget, "path_budget", 1024)
    if not 0 < damping <= 1:
        raise ParameterError(expected("a damping factor in (0, 1]", "damping", damping))
    if not (tol > 0 and math.isfinite(tol)):
        raise ParameterError(expected("a positive tolerance", "tol", tol))
    if lags is not None:
        lags = check_integer(lags, "lags", 4)
        if steps is not None and lags > steps // 2:
            raise ParameterError(expected(f"at most steps/2 = {steps // 2} lags", "lags", lags))
        windows = [lags, 2 * lags]  # the window asked for, and the one that must confirm it
    else:
        max_lags = check_integer(max_lags, "max_lags", 2 * FIRST_WINDOW)  # two windows: one to confirm the other
        first = FIRST_WINDOW
        if first_lags is not None:
            first = check_integer(first_lags, "first_lags", 4, max_lags // 2)
        windows = [first << k for k in range(int(math.log2(max_lags / first)) + 1)]
    rng = np.random.default_rng(seed)
    names: list[str] | None = None
    start: dict[str, np.ndarray] | None = dict(initial) if initial is not None else None
    solve: _Solve | None = None
    stages: list[WindowStage] = []
    tau = 0.0
    total_iterations = 0
    history: list[float] = []
    fall_error: ConvergenceError | None = None
    # the window that is returned: the one its successor (twice as long) confirmed.  Its runner
    # is kept if small, else rebuilt from a copy of the generator taken before it drew its paths
    # (same draws), so that two long windows' paths are never held at once
    previous: _Window | None = None
    chosen: _Window | None = None
    for window in windows:
        if lags is None or window == 2 * lags:
            n_steps = max(steps or 0, 4 * window, MIN_STEPS if steps is not None else DEFAULT_MIN_STEPS)
        else:
            n_steps = steps or max(400, 4 * window)
        if burn_in is not None and lags is not None:
            n_burn = burn_in
        else:  # several measured correlation times, at least one window
            n_burn = max(burn_in or 0, window, 200, math.ceil(5 * tau))
        # long windows need long paths: fewer of them keep the memory and the time per iteration bounded
        paths = min(trajectories, max(2 * replicas * 32, path_budget // (n_steps + n_burn)))
        shape = (n_steps, n_burn, paths, window)
        draws = copy.deepcopy(rng)
        runner = SingleSiteRunner(arch, values, n_steps, n_burn, paths, rng, replicas=replicas, lags=window)
        if names is None:
            names = runner.input_names
            base, must_decorrelate = _initial_covariances(arch, values, names, window, start)
            covs = [dict(base) for _ in range(replicas)]
        else:
            assert solve is not None
            mean = {n: np.mean([c[n] for c in solve.covs], axis=0) for n in names}
            covs = [{n: _extend(mean[n], window, decaying=True) for n in names} for _ in range(replicas)]
        solve = _iterate(
            runner, covs, window, damping=damping, tol=tol, max_iter=max_iter, control_variates=control_variates
        )
        total_iterations += solve.iterations
        history.extend(solve.history)
        first = arch.local_form.state[0].name
        mean_state = np.mean([s[first] for s in solve.states], axis=0)
        tau = _correlation_time(mean_state)
        fall_error = _check_window(
            arch, solve.state_acf, window_tol, total_iterations, window, must_decorrelate=must_decorrelate
        )
        replica_c0 = [float(r[first][0]) for r in solve.states]
        stage = WindowStage(
            lags=window,
            steps=n_steps,
            burn_in=n_burn,
            iterations=solve.iterations,
            C_h0=float(mean_state[0]),
            refused_by=None if fall_error is None else fall_error.residual,
            correlation_time=tau,
            accepted=fall_error is None,
            C_h0_error=_standard_error(replica_c0),
        )
        if stages and stages[-1].accepted and stage.accepted:
            stage = dataclasses.replace(stage, agrees_with_previous=_confirms(stages[-1], stage))
        stages.append(stage)
        kept = runner if runner.nbytes <= KEEP_RUNNER_BYTES else None
        current = _Window(solve, shape, draws, tau, kept)
        del runner, kept
        if lags is None:
            if fall_error is None and stage.agrees_with_previous:
                chosen = previous
                break  # confirmed by its successor
            previous = current
            continue
        # a fixed window is returned only if twice its length reproduces it: a truncated but
        # self-consistent solution passes every check made inside its own window
        if fall_error is not None:
            break
        if previous is None:
            previous = current
            continue
        if not stage.agrees_with_previous:
            asked = stages[0]
            fall_error = ConvergenceError(
                f"steady-state DMFT of {arch.name}: the fixed {lags}-lag window is not confirmed by a "
                f"{window}-lag one (C_{first}(0) {asked.C_h0:.4g} vs {stage.C_h0:.4g}, correlation time "
                f"{asked.correlation_time:.3g} vs {stage.correlation_time:.3g}): the memory is truncated; "
                f"use the adaptive window (lags=None) or a longer one",
                residual=abs(stage.C_h0 - asked.C_h0),
                iterations=total_iterations,
            )
            break
        chosen = previous
        break
    if fall_error is None and lags is None and not stages[-1].agrees_with_previous:
        # the largest window passed its own check, but nothing longer confirmed it
        last = stages[-1]
        message = (
            f"steady-state DMFT of {arch.name}: the largest window allowed ({last.lags} lags: C_h0 "
            f"{last.C_h0:.4g}, correlation time {last.correlation_time:.3g}) is not confirmed by a longer one"
        )
        previous = stages[-2]  # max_lags allows at least two windows
        message += (
            f" (the {previous.lags}-lag window: C_h0 {previous.C_h0:.4g}, correlation time "
            f"{previous.correlation_time:.3g})"
        )
        residual = abs(last.C_h0 - previous.C_h0)
        fall_error = ConvergenceError(
            message + f"; the memory may be truncated: raise max_lags (now {max_lags})",
            residual=residual,
            iterations=total_iterations,
        )
    if fall_error is not None:
        raise fall_error
    assert chosen is not None and names is not None
    solve, tau = chosen.solve, chosen.correlation_time
    n_steps, n_burn, paths, window = chosen.shape
    runner = chosen.runner or SingleSiteRunner(
        arch, values, n_steps, n_burn, paths, chosen.draws, replicas=replicas, lags=window
    )
    # the windows were iterated to the noise level, enough to compare them; the answer is taken
    # further, because every replica approaches its fixed point along the map's slow mode from
    # the same side, so stopping at the noise leaves a bias shared by all replicas that their
    # spread (the error bar) does not show (LSTM a_h = 3, gains 1: C_c(0) 1.3 % low)
    # (a map too rough to iterate below its noise, as without control variates, keeps the
    # noise-level answer and says so: ``polished`` is False)
    try:
        if runner.per_replica < POLISH_MIN_PATHS:
            raise ConvergenceError("too few paths per replica to polish", residual=solve.residual, iterations=0)
        polish = _iterate(
            runner,
            solve.covs,
            len(solve.covs[0][names[0]]),
            damping=damping,
            tol=POLISH_TOL * tol,
            max_iter=min(max_iter, POLISH_ITERATIONS),
            control_variates=control_variates,
            noise_stop=POLISH,
            patience=POLISH_PATIENCE,
            mixer=solve.mixer,
        )
        solve = dataclasses.replace(polish, state_acf=solve.state_acf)
        total_iterations += polish.iterations
        history.extend(polish.history)
        polished = True
    except ConvergenceError as error:
        total_iterations += error.iterations or 0
        polished = False
    covs_mean = {n: np.mean([c[n] for c in solve.covs], axis=0) for n in names}
    states_mean = {s: np.mean([r[s] for r in solve.states], axis=0) for s in solve.states[0]}
    field_cov = {fld.symbol.name: runner.field_covariance(k, covs_mean) for k, fld in enumerate(arch.local_form.fields)}
    return SteadyState(
        architecture=arch,
        parameters=values,
        lags=np.arange(len(covs_mean[names[0]])),
        C_inputs=covs_mean,
        C_states=states_mean,
        field_covariances=field_cov,
        iterations=total_iterations,
        residual=solve.residual,
        trajectories=runner.M,
        steps=runner.steps,
        burn_in=runner.burn_in,
        history=history,
        replica_C0=[{s: float(v[0]) for s, v in r.items()} for r in solve.states],
        correlation_time=tau,
        stages=stages,
        noise=solve.noise,
        replica_inputs=[{n: np.asarray(c[n]) for n in names} for c in solve.covs],
        polished=polished,
    )


def _standard_error(values: list[float]) -> float:
    """Standard error of the mean of independent replicas (NaN for a single one)."""
    if len(values) < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def window_systematic(shorter: WindowStage, longer: WindowStage) -> float:
    """The part of ``|ΔC_h0|`` between two windows that their Monte Carlo errors do not explain.

    ``sqrt(max(0, ΔC² − σ₁² − σ₂²))``: zero when the difference is within the noise of two
    independent solves, the excess otherwise.
    """
    excess = (longer.C_h0 - shorter.C_h0) ** 2 - shorter.C_h0_error**2 - longer.C_h0_error**2
    return math.sqrt(excess) if excess > 0 else 0.0


def _confirms(previous: WindowStage, current: WindowStage) -> bool:
    """Whether doubling the window left the solution unchanged (see :data:`CONFIRM_GROWTH`)."""
    if not current.correlation_time <= CONFIRM_GROWTH * previous.correlation_time + 1.0:
        return False
    noise = 2.0 * math.hypot(previous.C_h0_error, current.C_h0_error)
    allowed = max(CONFIRM_TOL * abs(current.C_h0), noise if math.isfinite(noise) else 0.0)
    return abs(current.C_h0 - previous.C_h0) <= allowed


def _check_window(
    arch: Architecture,
    state_acf: list[np.ndarray],
    window_tol: float,
    iterations: int,
    lags: int,
    *,
    must_decorrelate: bool = False,
) -> ConvergenceError | None:
    """Refuse a truncated memory: the state autocovariance must have levelled off inside the window.

    ``state_acf`` holds each state's autocovariance per path, ``(lags, M)``.  The fall between the block means over
    ``[K/2, 3K/4)`` and ``[3K/4, K)`` may be at most ``window_tol`` times the part of ``C(0)``
    that has decorrelated at all (``C(0) − C(K)``): a larger fall means the process
    decorrelates on timescales beyond ``K`` (large update/forget gains), which the window
    would treat as static.  Measured relative to the decorrelated part, it also catches the
    self-consistent trap where the truncated memory freezes most of the variance (GRU
    ``a_z = 10`` with 64 lags: C_h falls only 1.6 % of C(0) over the last half-window, but a
    sixth of what decorrelated at all).  A fall is refused only if it also exceeds 0.5 % of
    C(0) and three standard errors across ten independent groups of paths, so that few paths
    do not raise on noise.

    With ``must_decorrelate`` (every fixed point unstable: the steady state is dynamic), at
    least :data:`MIN_DECORRELATED` of ``C(0)`` must decorrelate inside the window.  A shorter window lets the
    iteration settle on a frozen solution, the unstable fixed point itself (at ``a_z = 10``
    with 64 lags, replicas with 0.1 % of C(0) decorrelated), which the fall alone accepts.
    Returns the error to raise, or None.
    """
    K = lags
    for name, acf in zip([s.name for s in arch.local_form.state], state_acf, strict=True):
        covs = [group.mean(axis=1) for group in np.array_split(acf, 10, axis=1)]
        if min(float(cov[0]) for cov in covs) <= 1e-12:
            continue  # a state at rest (zero fixed point): nothing to decorrelate
        lates = [float(np.mean(cov[3 * K // 4 :])) for cov in covs]
        falls = [
            (float(np.mean(cov[K // 2 : 3 * K // 4])) - late) / cov[0] for cov, late in zip(covs, lates, strict=True)
        ]
        decorrelated = [max(cov[0] - late, 0.0) / cov[0] for cov, late in zip(covs, lates, strict=True)]
        fall, spread = float(np.mean(falls)), float(np.std(falls, ddof=1) / math.sqrt(len(falls)))
        part = float(np.mean(decorrelated))
        if must_decorrelate and part < MIN_DECORRELATED:
            return ConvergenceError(
                f"steady-state DMFT of {arch.name}: only {part:.3g} of C_{name}(0) decorrelates inside the "
                f"{K}-lag window although every fixed point is unstable (at least {MIN_DECORRELATED} must): the "
                f"dynamics are slower than the window; raise lags (and steps ≥ 2·lags), or max_lags for an "
                f"adaptive window",
                residual=part,
                iterations=iterations,
            )
        if fall > 3 * spread and fall > 0.005 and fall > window_tol * part:
            return ConvergenceError(
                f"steady-state DMFT of {arch.name}: C_{name}(τ) is still decaying at the end of the "
                f"{K}-lag window (it falls by {fall:.3g} ± {spread:.2g} of C(0) over lags {K // 2}..{K - 1}, while "
                f"{part:.3g} of C(0) has decorrelated in all; allowed: window_tol={window_tol} of the "
                f"decorrelated part); the dynamics are slower than the window, so the answer would be "
                f"biased: raise lags (and steps ≥ 2·lags), or max_lags for an adaptive window",
                residual=fall,
                iterations=iterations,
            )
    return None


#: draws of a steady-state curve where each sample has one real pole, so that the boundary
#: evaluator bins them (:mod:`rmtgate.numerics.pole_compression`): their noise in the radius is
#: 0.040 % (GRU a_h = 3, a_z = a_r = 1, one DMFT solution, 6 draw seeds), against 0.12 % for
#: 20,000 draws, at 0.4 s more for the curve
BINNED_SAMPLE_SIZE = 400_000
#: draws where the samples' poles are summed one by one (a state of several dimensions: LSTM)
EXACT_SAMPLE_SIZE = 20_000


def steady_sample_size(arch: Architecture) -> int:
    """Default draws for a steady-state curve of ``arch``: as many as its boundary evaluator can afford."""
    return BINNED_SAMPLE_SIZE if len(arch.local_form.state) == 1 else EXACT_SAMPLE_SIZE


def steady_state_sample(
    arch: Architecture, params: dict[str, float], *, seed: int = 0, size: int | None = None
) -> LocalSample:
    """Pure theory: the joint one-time local variables drawn from the steady-state DMFT.

    ``size`` draws average ``L(λ)`` (default :func:`steady_sample_size`); their sampling noise
    moves the spectral radius too (GRU a_h = 3, a_z = a_r = 1, one DMFT solution: standard
    deviation 0.18 % over 8 draw seeds with 20,000 draws, 0.11 % once the reset gate's field is
    stratified (see :meth:`SteadyState.sample`), 0.040 % over 6 draw seeds with 400,000, the
    default for a one-dimensional state).
    """
    size = steady_sample_size(arch) if size is None else size
    return steady_state(arch, params, seed=seed).local_sample(size, seed)
