"""Steady-state DMFT of any architecture (:func:`steady_state`).

The single-site process is driven by Gaussian processes whose covariances are iterated to
self-consistency by Monte Carlo (common random numbers, so that successive iterates differ by
the map, not by sampling noise); :func:`rmtgate.mft.closed.gru_closed_dmft` solves the GRU's
closed difference equations [G 50-51] as a cross-check.

:class:`SteadyState` carries the self-consistent correlation functions and draws joint
one-time samples of the local variables, the input the boundary evaluators average over.

Why this module is long: the runner, the iteration and the check that the memory window
covers the dynamics share the path arrays of one solve; split, each would re-derive them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtgate.errors import ConvergenceError, DerivationError, ParameterError, expected
from rmtgate.mft.fixed_points import fixed_points
from rmtgate.mft.system import FixedPointSystem, fixed_point_system
from rmtgate.numerics.compile import lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.symbolic.architecture import Architecture
from rmtgate.validation import check_integer

if TYPE_CHECKING:
    from rmtgate.numerics.samples import LocalSample


# ============================================================================ steady-state DMFT


def _stationary_sampler(n_steps: int) -> int:
    """FFT length of the circulant embedding for ``n_steps`` samples."""
    return 1 << max(4, math.ceil(math.log2(2 * n_steps)))


def _taper(n: int) -> np.ndarray:
    """Cosine taper on the last quarter of ``n`` lags (keeps the embedded covariance smooth)."""
    w = np.ones(n)
    q = max(1, n // 4)
    w[n - q :] = 0.5 * (1 + np.cos(np.pi * (np.arange(q) + 1) / q))
    return w


def _split_static(cov: np.ndarray) -> tuple[float, np.ndarray]:
    """``cov(τ) = c_∞ + c̃(τ)``: ``c_∞`` is the mean over the last quarter of lags, clipped to ``[0, cov(0)]``."""
    q = max(1, len(cov) // 4)
    static = float(np.clip(np.mean(cov[-q:]), 0.0, max(cov[0], 0.0)))
    return static, (cov - static) * _taper(len(cov))


def _gaussian_paths(cov: np.ndarray, normals: np.ndarray, static_normals: np.ndarray, n_steps: int) -> np.ndarray:
    """Paths ``(M, n_steps)`` of a stationary Gaussian process with autocovariance ``cov(τ)``.

    Circulant embedding of the fluctuating part (negative eigenvalues clipped) plus a static
    Gaussian of variance ``c_∞`` per path.  ``normals`` is complex ``(ceil(M/2), P)``; the real
    and imaginary parts of one FFT are two independent paths.  The draws are fixed across
    iterations (common random numbers).
    """
    M = static_normals.shape[0]
    if not np.any(cov):
        return np.zeros((M, n_steps))
    static, fluct = _split_static(cov)
    size = normals.shape[1]
    row = np.zeros(size)
    lags = min(len(fluct), size // 2)
    row[:lags] = fluct[:lags]
    row[size - lags + 1 :] = fluct[1:lags][::-1]
    eig = np.clip(np.fft.fft(row).real, 0.0, None)
    both = np.fft.fft(np.sqrt(eig / size)[None, :] * normals, axis=1)[:, :n_steps]
    paths = np.concatenate([both.real, both.imag], axis=0)[:M]
    return paths + math.sqrt(static) * static_normals[:, None]


def _autocovariance(x: np.ndarray, lags: int) -> np.ndarray:
    """``mean_{m,t} x[m,t] x[m,t+τ]`` for ``τ < lags`` (unbiased in the number of pairs)."""
    n = x.shape[1]
    size = 1 << math.ceil(math.log2(2 * n))
    f = np.fft.rfft(x, n=size, axis=1)
    acf = np.fft.irfft(np.abs(f) ** 2, n=size, axis=1)[:, :lags].mean(axis=0)
    return acf / (n - np.arange(lags))


@dataclass
class SteadyState:
    """Self-consistent steady state of the single-site DMFT.

    ``C_inputs[name][τ]`` is ``E[u_t u_{t+τ}]`` of each distinct presynaptic vector (names as
    in :class:`FixedPoint`), ``C_states[s][τ]`` the state autocorrelation, and
    ``field_covariances[eta_k][τ] = a_k² C_{u_k}(τ)`` (plus bias-noise variances).  ``C0``
    maps each state to its equal-time moment; :attr:`C_h0` is that of the first state.
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

    @property
    def C0(self) -> dict[str, float]:
        return {s: float(c[0]) for s, c in self.C_states.items()}

    @property
    def C_h0(self) -> float:
        return float(next(iter(self.C_states.values()))[0])

    def summary(self) -> dict[str, Any]:
        return {
            "C_h0": self.C_h0,
            "C0": self.C0,
            "iterations": self.iterations,
            "residual": self.residual,
            "lags": self.lags.tolist(),
            "C_states": {k: v.tolist() for k, v in self.C_states.items()},
            "C_inputs": {k: v.tolist() for k, v in self.C_inputs.items()},
        }

    def sample(self, n: int, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint draws of the one-time local variables from the steady state.

        Keys: state names (the *previous* state ``s_{t-1}``), field names ``eta_k`` (the
        fields at step ``t``) and bias-noise names: the symbols of ``arch.local_form``.
        """
        n = check_integer(n, "n", 1)
        runner = _DMFTRunner(self.architecture, self.parameters, self.steps, self.burn_in, self.trajectories, seed)
        covs = {name: self.C_inputs[name] for name in runner.input_names}
        record = runner.run(covs, keep_locals=True)
        rng = np.random.default_rng(seed if isinstance(seed, int) else None)
        locals_ = record["locals"]
        total = next(iter(locals_.values())).size
        pick = rng.choice(total, size=n, replace=n > total)
        return {k: v.ravel()[pick] for k, v in locals_.items()}

    def local_sample(self, n: int, seed: int | np.random.Generator) -> LocalSample:
        """:meth:`sample` as the :class:`~rmtgate.numerics.samples.LocalSample` the boundary averages over.

        A declared bias variance makes each neuron's bias its own: the draws ``epsilon_b`` become
        per-neuron values of the parameter ``b`` (``b + epsilon_b``), which the boundary
        evaluators average over like any local variable.
        """
        from rmtgate.numerics.samples import LocalSample

        values = self.sample(n, seed)
        for bias, _ in self.architecture.bias_variances:
            noise = values.pop(f"epsilon_{bias}", None)
            if noise is not None:
                values[bias] = self.parameters[bias] + noise
        return LocalSample.from_arrays(values, source="steady")


class _DMFTRunner:
    """Monte Carlo of the single-site process for given input autocovariances."""

    def __init__(
        self,
        arch: Architecture,
        params: Mapping[str, float],
        steps: int,
        burn_in: int,
        trajectories: int,
        seed: int | np.random.Generator,
    ):
        system = fixed_point_system_dynamic(arch)
        self.arch = arch
        self.system = system
        self.params = dict(params)
        self.steps, self.burn_in, self.M = steps, burn_in, trajectories
        self.n_t = steps + burn_in
        rng = np.random.default_rng(seed)
        form = arch.local_form
        self.input_names = [m.name for m in system.moments]
        P = _stationary_sampler(self.n_t)
        self.normals = {
            f.symbol.name: rng.standard_normal(((trajectories + 1) // 2, P))
            + 1j * rng.standard_normal(((trajectories + 1) // 2, P))
            for f in form.fields
        }
        self.static_normals = {f.symbol.name: rng.standard_normal(trajectories) for f in form.fields}
        noise_std = system._noise_stds(self.params)
        self.noise = {eps.name: rng.standard_normal(trajectories) * noise_std[eps] for eps in system.noise}
        self.initial = [rng.standard_normal(trajectories) * 0.5 for _ in form.state]
        self.scales = system.scales(self.params)
        self.pvals = system._pvals(self.params)

    def run(self, covs: Mapping[str, np.ndarray], keep_locals: bool = False) -> dict[str, Any]:
        system, form = self.system, self.arch.local_form
        fields = {}
        for k, fld in enumerate(form.fields):
            cov = self.scales[k] ** 2 * np.asarray(covs[system.moments[system.field_moment[k]].name])
            fields[fld.symbol.name] = _gaussian_paths(
                cov, self.normals[fld.symbol.name], self.static_normals[fld.symbol.name], self.n_t
            )
        state = [s.copy() for s in self.initial]
        noise = list(self.noise.values())
        n_in = len(system.moments)
        inputs = np.empty((n_in, self.M, self.steps))
        states = np.empty((len(state), self.M, self.steps))
        keep: dict[str, list[np.ndarray]] = {}
        for t in range(self.n_t):
            eta = [fields[f.symbol.name][:, t] for f in form.fields]
            args = (*state, *eta, *noise, *self.pvals)
            if t >= self.burn_in:
                i = t - self.burn_in
                for j in range(n_in):
                    inputs[j, :, i] = system.dyn_inputs[j](*args)
                if keep_locals:
                    for s_sym, value in zip(form.state, state, strict=True):
                        keep.setdefault(s_sym.name, []).append(value)
                    for f, value in zip(form.fields, eta, strict=True):
                        keep.setdefault(f.symbol.name, []).append(value)
                    for name, value in self.noise.items():
                        keep.setdefault(name, []).append(value)
            new = system.dyn_step(*args)
            state = [np.broadcast_to(np.asarray(v, dtype=float), (self.M,)).copy() for v in new]
            if t >= self.burn_in:
                states[:, :, t - self.burn_in] = np.array(state)
        out: dict[str, Any] = {"inputs": inputs, "states": states}
        if keep_locals:
            out["locals"] = {k: np.array(v) for k, v in keep.items()}
        return out


def fixed_point_system_dynamic(arch: Architecture) -> FixedPointSystem:
    """The :class:`FixedPointSystem` of ``arch`` with compiled single-site step functions."""
    system = fixed_point_system(arch)
    if not hasattr(system, "dyn_step"):
        form = arch.local_form
        args = (*form.state, *form.field_symbols, *system.noise, *system.params)
        subs = system.noise_subs
        system.dyn_step = lambdify_local(args, tuple(e.xreplace(subs) for e in form.new_state))  # type: ignore[attr-defined]
        system.dyn_inputs = tuple(  # type: ignore[attr-defined]
            _broadcasting(lambdify_local(args, m.input.xreplace(subs)), len(form.state)) for m in system.moments
        )
    return system


def _broadcasting(fn: Callable[..., Any], n_state: int) -> Callable[..., Any]:
    def call(*args: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(fn(*args), dtype=float), np.shape(args[0]))

    return call


def steady_state(
    arch: Architecture,
    params: Mapping[str, Any],
    *,
    trajectories: int = 1000,
    steps: int = 400,
    burn_in: int = 200,
    lags: int = 64,
    damping: float = 0.8,
    tol: float = 1e-3,
    max_iter: int = 100,
    seed: int | np.random.Generator = 0,
    initial: Mapping[str, np.ndarray] | None = None,
    window_tol: float = 0.1,
) -> SteadyState:
    """Solve the steady-state DMFT of ``arch`` by damped Monte Carlo iteration.

    ``trajectories`` single-site paths of ``burn_in + steps`` steps are driven by Gaussian
    fields with covariance ``a_k² C_{u_k}(τ)`` (``τ < lags``; beyond, the static part
    ``C_∞``).  The input autocovariances are re-measured (averaged over paths and over the
    ``steps`` stationary times) and mixed, ``C ← (1 - damping) C + damping C_measured``,
    until ``max |C_measured - C| < tol``; otherwise :class:`ConvergenceError`.  The same
    Gaussian draws are reused in every iteration, so the iteration converges to a fixed
    point of the sampled map (Monte Carlo error ``~ sqrt(τ_c / (trajectories · steps))``).

    Args:
        arch: the architecture.
        params: parameter values by name.
        trajectories: single-site Monte Carlo paths.
        steps: stationary time steps per path over which covariances are measured.
        burn_in: time steps discarded at the start of each path.
        lags: length of the autocovariances (in time steps; at most ``steps/2``).
        damping: mixing weight of the measured covariance, in ``(0, 1]``.
        tol: convergence threshold on ``max |C_measured − C|``.
        max_iter: iterations before :class:`~rmtgate.errors.ConvergenceError`.
        seed: seed of the Gaussian draws (reused in every iteration).
        initial: starting input autocovariances by name (default: from the fixed point).
        window_tol: how much of the part of ``C(0)`` that has decorrelated the state
            autocovariance may still lose over the second half of the window; beyond it the
            memory is truncated and :class:`ConvergenceError` says so.

    Returns:
        A :class:`SteadyState`; ``summary()`` has ``iterations``, ``residual`` and the
        covariances, ``local_sample(n, seed)`` draws the one-time local variables.

    Raises:
        ConvergenceError: no convergence within ``max_iter`` (with ``residual``, ``iterations``),
            or the autocovariance still decaying at the end of the window (slow dynamics:
            everything beyond ``lags`` would be treated as static, a biased answer).
    """
    values = resolve_parameters(arch, params)
    if not 0 < window_tol < 1:
        raise ParameterError(expected("a window tolerance in (0, 1)", "window_tol", window_tol))
    trajectories = check_integer(trajectories, "trajectories", 2)
    steps = check_integer(steps, "steps", 8)
    burn_in = check_integer(burn_in, "burn_in", 0)
    lags = check_integer(lags, "lags", 4)
    max_iter = check_integer(max_iter, "max_iter", 1)
    if lags > steps // 2:
        raise ParameterError(expected(f"at most steps/2 = {steps // 2} lags", "lags", lags))
    if not 0 < damping <= 1:
        raise ParameterError(expected("a damping factor in (0, 1]", "damping", damping))
    if not (tol > 0 and math.isfinite(tol)):
        raise ParameterError(expected("a positive tolerance", "tol", tol))
    runner = _DMFTRunner(arch, values, steps, burn_in, trajectories, seed)
    system = runner.system
    if initial is not None:
        covs = {name: np.asarray(initial[name], dtype=float)[:lags].copy() for name in runner.input_names}
    else:
        try:
            branches = fixed_points(arch, values, grid=48)
            start = branches[-1].C
        except (ConvergenceError, DerivationError, ParameterError):
            # the fixed points only seed the iteration: one that double precision cannot
            # evaluate (L(1) non-finite at saturating forget gates) leaves the default start
            start = {}
        decay = np.exp(-np.arange(lags) / 8.0)
        covs = {name: max(start.get(name, 0.5), 0.05) * decay for name in runner.input_names}
    history: list[float] = []
    residual = math.inf
    for iteration in range(1, max_iter + 1):
        record = runner.run(covs)
        measured = {name: _autocovariance(record["inputs"][j], lags) for j, name in enumerate(runner.input_names)}
        residual = max(float(np.max(np.abs(measured[n] - covs[n]))) for n in covs)
        history.append(residual)
        if residual < tol:
            covs = measured
            states = {s.name: _autocovariance(record["states"][i], lags) for i, s in enumerate(arch.local_form.state)}
            _check_window(arch, record["states"], window_tol, iteration, lags)
            field_cov = {}
            for k, fld in enumerate(arch.local_form.fields):
                field_cov[fld.symbol.name] = runner.scales[k] ** 2 * covs[system.moments[system.field_moment[k]].name]
            return SteadyState(
                architecture=arch,
                parameters=values,
                lags=np.arange(lags),
                C_inputs=covs,
                C_states=states,
                field_covariances=field_cov,
                iterations=iteration,
                residual=residual,
                trajectories=trajectories,
                steps=steps,
                burn_in=burn_in,
                history=history,
            )
        covs = {n: (1 - damping) * covs[n] + damping * measured[n] for n in covs}
    raise ConvergenceError(
        f"steady-state DMFT of {arch.name} did not reach max|ΔC| < {tol}", residual=residual, iterations=max_iter
    )


def _check_window(arch: Architecture, paths: np.ndarray, window_tol: float, iterations: int, lags: int) -> None:
    """Refuse a truncated memory: the state autocovariance must have levelled off inside the window.

    The fall between the block means over ``[K/2, 3K/4)`` and ``[3K/4, K)`` may be at most
    ``window_tol`` times the part of ``C(0)`` that has decorrelated at all (``C(0) − C(K)``):
    a larger fall means the process decorrelates on timescales beyond ``K`` (large
    update/forget gains), which the fixed window would treat as static.  Measured relative to
    the decorrelated part, it also catches the self-consistent trap where the truncated memory
    freezes most of the variance (GRU ``a_z = 10``: C_h falls only 1.6 % of C(0) over the last
    half-window, but a sixth of what decorrelated at all).  A fall is refused only if it also
    exceeds 0.5 % of C(0) and three standard errors across ten independent groups of paths,
    so that few paths do not raise on noise.
    """
    K = lags
    for name, states in zip([s.name for s in arch.local_form.state], paths, strict=True):
        covs = [_autocovariance(group, lags) for group in np.array_split(states, 10, axis=0)]
        if min(float(cov[0]) for cov in covs) <= 1e-12:
            continue  # a state at rest (zero fixed point): nothing to decorrelate
        lates = [float(np.mean(cov[3 * K // 4 :])) for cov in covs]
        falls = [
            (float(np.mean(cov[K // 2 : 3 * K // 4])) - late) / cov[0] for cov, late in zip(covs, lates, strict=True)
        ]
        decorrelated = [max(cov[0] - late, 0.0) / cov[0] for cov, late in zip(covs, lates, strict=True)]
        fall, spread = float(np.mean(falls)), float(np.std(falls, ddof=1) / math.sqrt(len(falls)))
        part = float(np.mean(decorrelated))
        if fall > 3 * spread and fall > 0.005 and fall > window_tol * part:
            raise ConvergenceError(
                f"steady-state DMFT of {arch.name}: C_{name}(τ) is still decaying at the end of the "
                f"{K}-lag window (it falls by {fall:.3g} ± {spread:.2g} of C(0) over lags {K // 2}..{K - 1}, while "
                f"{part:.3g} of C(0) has decorrelated in all; allowed: window_tol={window_tol} of the "
                f"decorrelated part); the dynamics are slower than the window, so the answer would be "
                f"biased: raise lags (and steps ≥ 2·lags)",
                residual=fall,
                iterations=iterations,
            )


def steady_state_sample(
    arch: Architecture, params: dict[str, float], *, seed: int = 0, size: int = 4000
) -> LocalSample:
    """Pure theory: the joint one-time local variables drawn from the steady-state DMFT."""
    return steady_state(arch, params, seed=seed).local_sample(size, seed)
