"""Monte Carlo of the single-site process of the DMFT (the map that :mod:`rmtgate.mft.dmft` iterates).

Given the input autocovariances ``C_{u_j}(τ)``, :class:`SingleSiteRunner` draws stationary
Gaussian field paths by circulant embedding, runs the local update ``s_t = F(s_{t-1}, η_t)``
along them and returns the inputs ``u_j`` and states it produced.

The local update of the gated architectures is a *linear recurrence* driven by the fields:
the GRU's ``h_t = z_t h_{t-1} + (1 − z_t) φ_t`` and the LSTM's ``c_t = f_t c_{t-1} + i_t g_t``
have coefficients that depend on the fields only, and the LSTM's ``h_t = o_t tanh(c_t)``
is a function of the fields and of ``c_{t-1}``.  :func:`recurrence_plan` detects that
structure symbolically; the runner then evaluates every nonlinearity once on whole
``(time, path)`` arrays and loops over time only for the two operations of the recurrence.
That is what makes memory windows of thousands of steps affordable (the slow regime of
large update/forget gains); an update that is not of that form runs step by step.

Why this module is long: the symbolic detection of the recurrence, the circulant-embedding
path generator and the runner that skips what exactly averaged gates leave unused belong to
one map and share its arrays; split, each piece would expose the others' internal layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import sympy

from rmtgate.mft.free_factors import FactoredInput, free_factors
from rmtgate.mft.system import FixedPointSystem, fixed_point_system
from rmtgate.numerics.compile import lambdify_local
from rmtgate.symbolic.architecture import Architecture

# ============================================================================ Gaussian paths

#: threads per batched FFT (scipy.fft ``workers``): all cores; the transforms are most of a DMFT map
FFT_WORKERS = -1


def fft_length(n_steps: int, lags: int | None = None) -> int:
    """Even FFT length for ``n_steps`` samples of a covariance that vanishes beyond ``lags`` lags.

    The first ``n`` rows of a circulant of size ``P ≥ n + lags`` hold the covariance exactly
    (no wrapped-around lag reaches a pair less than ``n`` apart), and a linear autocovariance
    up to ``lags`` needs the same padding; ``P`` is the next length with small prime factors
    (``scipy.fft.next_fast_len``), not the next power of two above ``2n`` (which was up to 2.4×
    longer).  Without ``lags``: ``2 n``.
    """
    need = 2 * n_steps if lags is None else n_steps + lags
    return 2 * scipy.fft.next_fast_len(max(8, -(-need // 2)))


def _taper(n: int) -> np.ndarray:
    """Cosine taper on the last quarter of ``n`` lags (keeps the embedded covariance smooth)."""
    w = np.ones(n)
    q = max(1, n // 4)
    w[n - q :] = 0.5 * (1 + np.cos(np.pi * (np.arange(q) + 1) / q))
    return w


def split_static(cov: np.ndarray) -> tuple[float, np.ndarray]:
    """``cov(τ) = c_∞ + c̃(τ)``: ``c_∞`` is the mean over the last quarter of lags, clipped to ``[0, cov(0)]``."""
    q = max(1, len(cov) // 4)
    static = float(np.clip(np.mean(cov[-q:]), 0.0, max(cov[0], 0.0)))
    return static, (cov - static) * _taper(len(cov))


def _embedding(cov: np.ndarray, size: int) -> tuple[float, np.ndarray, int]:
    """Static part, clipped circulant eigenvalues (``rfft`` half) and lags used, for FFT length ``size``."""
    static, fluct = split_static(cov)
    row = np.zeros(size)
    lags = min(len(fluct), size // 2)
    row[:lags] = fluct[:lags]
    row[size - lags + 1 :] = fluct[1:lags][::-1]
    return static, np.clip(scipy.fft.rfft(row).real, 0.0, None), lags


def realized_covariance(cov: np.ndarray, size: int) -> np.ndarray:
    """The autocovariance (lags ``< len(cov)``) of :func:`gaussian_paths` for ``cov`` at FFT length ``size``.

    It differs from ``cov`` by the taper and the clipped negative eigenvalues of the embedding;
    control variates need the covariance the paths actually have.
    """
    if not np.any(cov):
        return np.zeros(len(cov))
    static, eig, lags = _embedding(cov, size)
    out = np.full(len(cov), static)
    out[:lags] += scipy.fft.irfft(eig, n=size)[:lags]
    return out


def gaussian_paths(
    covs: np.ndarray | Sequence[np.ndarray], normals: np.ndarray, static_normals: np.ndarray, n_steps: int
) -> np.ndarray:
    """Paths ``(n_steps, M)`` of stationary Gaussian processes with autocovariance ``covs``.

    Circulant embedding of the fluctuating part (negative eigenvalues clipped) plus a static
    Gaussian of variance ``c_∞`` per path.  ``covs`` is one autocovariance, or one for each of
    ``R`` equal groups of paths (the replicas): group ``r`` is columns ``r·M/R`` to
    ``(r+1)·M/R``, driven by rows ``r·M/(2R)`` on of the complex ``normals (M/2, P)``, whose
    real and imaginary parts give the group's first and second half of paths.  One transform
    serves every group.  The draws are fixed across iterations (common random numbers).
    """
    groups = [covs] if isinstance(covs, np.ndarray) and covs.ndim == 1 else list(covs)
    M, size = static_normals.shape[0], normals.shape[1]
    if not any(np.any(c) for c in groups):
        return np.zeros((n_steps, M))
    R = len(groups)
    h = normals.shape[0] // R
    embedded = [_embedding(c, size) for c in groups]
    amplitude = np.stack([np.sqrt(np.concatenate([eig, eig[1:-1][::-1]]) / size) for _, eig, _ in embedded])
    # a group at rest (zero covariance) has zero eigenvalues, hence zero paths
    spectra = normals.reshape(R, h, -1) * amplitude[:, None, :]
    both = scipy.fft.fft(spectra.reshape(R * h, -1), axis=1, overwrite_x=True, workers=FFT_WORKERS)[:, :n_steps]
    both = both.reshape(R, h, n_steps)
    paths = np.empty((n_steps, R, 2, h))
    paths[:, :, 0, :] = both.real.transpose(2, 0, 1)
    paths[:, :, 1, :] = both.imag.transpose(2, 0, 1)
    paths = paths.reshape(n_steps, M)
    static = np.array([math.sqrt(st) for st, _, _ in embedded])
    paths += np.repeat(static, M // R)[None, :] * static_normals[None, :]
    return paths


def autocovariance(x: np.ndarray, lags: int) -> np.ndarray:
    """``mean_{t,m} x[t,m] x[t+τ,m]`` for ``τ < lags`` and every column ``m`` (shape ``(lags, M)``).

    Unbiased in the number of pairs; ``x`` is ``(time, path)``.  The transforms run in single
    precision: twice as fast, and their rounding (≈ 2e-7 of C(0)) is four orders below the
    Monte Carlo noise of any estimate made from them.  (Inverting only the lags kept, as a
    matrix product with their cosines, was 4× faster than the inverse transform on an idle
    machine, but the threaded BLAS product slowed a whole solve 2.5× whenever another process
    held the second core.)
    """
    n = x.shape[0]
    size = fft_length(n, lags)
    f = scipy.fft.rfft(x.astype(np.float32, copy=False), n=size, axis=0, workers=FFT_WORKERS)
    power = f.real**2
    power += f.imag**2
    acf = scipy.fft.irfft(power, n=size, axis=0, workers=FFT_WORKERS)[:lags].astype(np.float64)
    return acf / (n - np.arange(lags))[:, None]


# ============================================================================ recurrence structure


@dataclass(frozen=True)
class RecurrencePlan:
    """The local update as ``s_t = A(η_t) s_{t-1} + B(η_t)`` on the *linear* states, the rest after.

    ``linear[i]`` indexes a state whose update is affine in the linear states with
    coefficients free of every state; ``coefficients(*fields, *noise, *params)`` returns the
    flattened ``A`` (row-major over ``linear``) followed by ``B``.  Every other state is
    updated by ``new_state`` as a function of the fields and the *previous* linear states,
    so it needs no loop.
    """

    linear: tuple[int, ...]
    coefficients: Callable[..., Any]
    sources: tuple[sympy.Expr, ...]


def recurrence_plan(arch: Architecture, system: FixedPointSystem) -> RecurrencePlan | None:
    """Detect the linear-recurrence structure of ``arch``'s local update, or None."""
    form = arch.local_form
    states = list(form.state)
    new_state = [e.xreplace(system.noise_subs) for e in form.new_state]
    gradients = [[sympy.diff(expr, s) for s in states] for expr in new_state]
    linear = {i for i in range(len(states)) if all(not (g.free_symbols & set(states)) for g in gradients[i])}
    while True:  # a linear state may depend on linear states only
        drop = {i for i in linear if any(gradients[i][j] != 0 for j in range(len(states)) if j not in linear)}
        if not drop:
            break
        linear -= drop
    for i in range(len(states)):
        if i not in linear and any(gradients[i][j] != 0 for j in range(len(states)) if j not in linear):
            return None  # a nonlinear recurrence: step by step
    order = tuple(sorted(linear))
    zero = {states[j]: 0 for j in order}
    entries = [gradients[i][j] for i in order for j in order] + [new_state[i].xreplace(zero) for i in order]
    args = (*form.field_symbols, *system.noise, *system.params)
    return RecurrencePlan(order, lambdify_local(args, tuple(entries)), tuple(entries))


# ============================================================================ the runner


def dynamic_system(arch: Architecture) -> FixedPointSystem:
    """The :class:`FixedPointSystem` of ``arch`` with compiled single-site step functions."""
    system = fixed_point_system(arch)
    if not hasattr(system, "dyn_step"):
        form = arch.local_form
        args = (*form.state, *form.field_symbols, *system.noise, *system.params)
        subs = system.noise_subs
        system.dyn_step = lambdify_local(args, tuple(e.xreplace(subs) for e in form.new_state))  # type: ignore[attr-defined]
        system.dyn_inputs = tuple(lambdify_local(args, m.input.xreplace(subs)) for m in system.moments)  # type: ignore[attr-defined]
        system.dyn_plan = recurrence_plan(arch, system)  # type: ignore[attr-defined]
        system.dyn_factors = free_factors(arch, system)  # type: ignore[attr-defined]
        system.dyn_input_fields, system.dyn_rest_alias = _input_structure(system)  # type: ignore[attr-defined]
    return system


def _input_structure(system: FixedPointSystem) -> tuple[list[set[int]], dict[int, int]]:
    """The fields each input reads, and the input that each factored input's rest equals (if any)."""
    fields = list(system.form.field_symbols)
    inputs = [m.input.xreplace(system.noise_subs) for m in system.moments]
    reads = [{fields.index(x) for x in expr.free_symbols if x in fields} for expr in inputs]
    alias = {}
    for j, factored in system.dyn_factors.inputs.items():
        for i, expr in enumerate(inputs):
            if i != j and factored.rest_expression == expr:
                alias[j] = i
                break
    return reads, alias


def _complex_normals(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """``ξ + iξ'`` with independent standard normals, real parts drawn first; built in place (no temporaries)."""
    out = np.empty(shape, dtype=complex)
    out.real = rng.standard_normal(shape)
    out.imag = rng.standard_normal(shape)
    return out


def _full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), shape)


class SingleSiteRunner:
    """Monte Carlo of the single-site process for given input autocovariances.

    ``trajectories`` paths, split into ``replicas`` independent groups: each group is driven
    by its own covariances (``run`` takes one mapping per replica), so that independent
    self-consistent solutions, and with them an honest Monte Carlo error bar, come out of
    one vectorized pass.
    """

    def __init__(
        self,
        arch: Architecture,
        params: Mapping[str, float],
        steps: int,
        burn_in: int,
        trajectories: int,
        seed: int | np.random.Generator,
        *,
        replicas: int = 1,
        stepwise: bool = False,
        lags: int | None = None,
    ):
        system = dynamic_system(arch)
        self.arch, self.system, self.params = arch, system, dict(params)
        self.steps, self.burn_in, self.replicas = steps, burn_in, replicas
        self.per_replica = 2 * math.ceil(trajectories / (2 * replicas))
        self.M = self.per_replica * replicas
        self.n_t = steps + burn_in
        self.plan = None if stepwise else system.dyn_plan
        rng = np.random.default_rng(seed)
        form = arch.local_form
        self.input_names = [m.name for m in system.moments]
        #: inputs that are free gates times a sampled rest (:mod:`rmtgate.mft.free_factors`)
        self.factored: dict[int, FactoredInput] = system.dyn_factors.inputs
        self.factored_states: dict[int, FactoredInput] = system.dyn_factors.states
        self._input_fields: list[set[int]] = system.dyn_input_fields
        self._rest_alias: dict[int, int] = system.dyn_rest_alias
        # paths for covariances of at most ``lags`` lags (default: as many as the path is long)
        P = fft_length(self.n_t, lags)
        self.fft_size = P
        # every field's normals, the independent ones' too (GRU η_r), although with their gates
        # averaged exactly the DMFT never uses those: drawn lazily from a stream of their own
        # instead, they changed every later draw, and with them the seed-by-seed results
        self.normals = {f.symbol.name: _complex_normals(rng, (self.M // 2, P)) for f in form.fields}
        self.static_normals = {f.symbol.name: rng.standard_normal(self.M) for f in form.fields}
        noise_std = system._noise_stds(self.params)
        self.noise = {eps.name: rng.standard_normal(self.M) * noise_std[eps] for eps in system.noise}
        self.initial = [rng.standard_normal(self.M) * 0.5 for _ in form.state]
        self.scales = system.scales(self.params)
        self.pvals = system._pvals(self.params)

    @property
    def nbytes(self) -> int:
        """Memory held by the fixed draws (the normals behind the field paths, most of it)."""
        arrays = [*self.normals.values(), *self.static_normals.values(), *self.noise.values(), *self.initial]
        return sum(a.nbytes for a in arrays)

    def replica_slice(self, r: int) -> slice:
        return slice(r * self.per_replica, (r + 1) * self.per_replica)

    def field_covariance(self, k: int, cov: Mapping[str, np.ndarray]) -> np.ndarray:
        """The covariance ``a_k² C_{u_k}`` that drives field ``k`` for input covariances ``cov``."""
        system = self.system
        return self.scales[k] ** 2 * np.asarray(cov[system.moments[system.field_moment[k]].name])

    def field_paths(
        self, covs: Sequence[Mapping[str, np.ndarray]], skip: Collection[int] = ()
    ) -> list[np.ndarray | None]:
        """Field paths ``(n_t, M)``, replica ``r`` driven by ``covs[r]``; None for the fields in ``skip``.

        One transform per field for all replicas (:func:`gaussian_paths` with one covariance
        per replica): the same paths as replica by replica, in fewer, larger transforms.
        """
        out: list[np.ndarray | None] = []
        for k, fld in enumerate(self.arch.local_form.fields):
            if k in skip:
                out.append(None)
                continue
            name = fld.symbol.name
            scaled = [self.field_covariance(k, cov) for cov in covs]
            out.append(gaussian_paths(scaled, self.normals[name], self.static_normals[name], self.n_t))
        return out

    def run(
        self, covs: Sequence[Mapping[str, np.ndarray]], keep_locals: bool = False, exact: Collection[int] = ()
    ) -> dict[str, Any]:
        """Paths for the replicas' covariances: ``inputs[j] (steps, M)``, ``states (n_s, steps, M)``.

        ``rests[j]`` holds the sampled rest of every factored input ``j`` (see :attr:`factored`),
        ``state_rests[i]`` that of every factored state.  ``exact`` names factored inputs whose
        gates the caller averages exactly: only their rests are needed, so ``inputs[j]`` is
        None for them, and so is ``fields[k]`` for an independent field that nothing else
        needed reads (the GRU's ``η_r``: a third of the paths, never simulated then).  A rest
        that is itself an input (the GRU's ``u_h = σ(η_r + b_r)·h`` has rest ``h``) is that
        input's array, not a copy, so that callers can measure it once.

        ``states[:, t]`` is the state after step ``burn_in + t``; ``inputs[j][t]`` the
        presynaptic vector of that step (computed from the state before it).  With
        ``keep_locals``, ``locals`` holds the one-time local variables of every stationary
        step (previous state, fields, bias noise); every field is then simulated.
        """
        if len(covs) != self.replicas:
            raise ValueError(f"expected {self.replicas} covariance sets, got {len(covs)}")
        exact = {j for j in exact if j in self.factored}
        wanted = [j for j in range(len(self.input_names)) if j not in exact]
        needed = set().union(*(self._input_fields[j] for j in wanted))
        skip = () if keep_locals else [k for k in self.system.dyn_factors.independent if k not in needed]
        simulated = self.field_paths(covs, skip)
        # a skipped field is read by nothing that is evaluated: any value will do
        eta = [np.broadcast_to(0.0, (self.n_t, self.M)) if e is None else e for e in simulated]
        noise = [v[None, :] for v in self.noise.values()]
        if self.plan is None:
            previous, states = self._stepwise(eta, noise)
        else:
            previous, states = self._linear(eta, noise)
        shape = (self.steps, self.M)
        tail = [e[self.burn_in :] for e in eta]
        args = (*previous, *tail, *noise, *self.pvals)
        fns = self.system.dyn_inputs
        inputs: list[np.ndarray | None] = [
            _full(fns[j](*args), shape) if j not in exact else None for j in range(len(fns))
        ]
        fields = [None if e is None else t for e, t in zip(simulated, tail, strict=True)]
        out: dict[str, Any] = {"inputs": inputs, "states": states, "fields": fields}
        rests = {}
        for j, f in self.factored.items():
            alias = self._rest_alias.get(j)
            rests[j] = inputs[alias] if alias is not None and inputs[alias] is not None else _full(f.rest(*args), shape)
        out["rests"] = rests
        out["state_rests"] = {i: _full(f.rest(*args), shape) for i, f in self.factored_states.items()}
        if keep_locals:
            form = self.arch.local_form
            loc = {s.name: p for s, p in zip(form.state, previous, strict=True)}
            loc.update({f.symbol.name: e for f, e in zip(form.fields, tail, strict=True)})
            loc.update({name: _full(v, shape) for name, v in zip(self.noise, noise, strict=True)})
            out["locals"] = loc
        return out

    def _linear(self, eta: list[np.ndarray], noise: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        plan = self.plan
        assert plan is not None
        n_s, d = len(self.initial), len(plan.linear)
        entries = plan.coefficients(*eta, *noise, *self.pvals)
        shape = (self.n_t, self.M)
        A = [[_full(entries[i * d + j], shape) for j in range(d)] for i in range(d)]
        B = [_full(entries[d * d + i], shape) for i in range(d)]
        # previous values of the linear states: index t holds the state before step t
        lin_prev = np.empty((d, self.n_t + 1, self.M))
        for i, j in enumerate(plan.linear):
            lin_prev[i, 0] = self.initial[j]
        if d == 1:
            a, b, x = A[0][0], B[0], lin_prev[0]
            row = x[0].copy()
            for t in range(self.n_t):
                row *= a[t]
                row += b[t]
                x[t + 1] = row
        else:
            for t in range(self.n_t):
                for i in range(d):
                    lin_prev[i, t + 1] = B[i][t] + sum(A[i][j][t] * lin_prev[j, t] for j in range(d))
        burn = self.burn_in
        stationary = (self.steps, self.M)
        previous: list[np.ndarray] = []
        states = np.empty((n_s, *stationary))
        others = [i for i in range(n_s) if i not in plan.linear]
        prev_full: dict[int, np.ndarray] = {j: lin_prev[i, :-1] for i, j in enumerate(plan.linear)}
        new_full: dict[int, np.ndarray] = {j: lin_prev[i, 1:] for i, j in enumerate(plan.linear)}
        if others:
            # the other states are functions of the fields and the previous linear states
            dummy = [prev_full.get(i, np.zeros(shape)) for i in range(n_s)]
            new = self.system.dyn_step(*dummy, *eta, *noise, *self.pvals)
            for i in others:
                value = _full(new[i], shape)
                new_full[i] = value
                prev_full[i] = np.concatenate([np.broadcast_to(self.initial[i], (1, self.M)), value[:-1]])
        for i in range(n_s):
            previous.append(prev_full[i][burn:])
            states[i] = new_full[i][burn:]
        return previous, states

    def _stepwise(self, eta: list[np.ndarray], noise: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        n_s = len(self.initial)
        stationary = (self.steps, self.M)
        previous = [np.empty(stationary) for _ in range(n_s)]
        states = np.empty((n_s, *stationary))
        state = [s.copy() for s in self.initial]
        for t in range(self.n_t):
            if t >= self.burn_in:
                for i in range(n_s):
                    previous[i][t - self.burn_in] = state[i]
            new = self.system.dyn_step(*state, *(e[t] for e in eta), *(v[0] for v in noise), *self.pvals)
            state = [_full(v, (self.M,)).copy() for v in new]
            if t >= self.burn_in:
                for i in range(n_s):
                    states[i, t - self.burn_in] = state[i]
        return previous, states
