"""Neuroscience tasks of Schuessler et al. [S §2, Table S1] as data, with vectorized trial batches.

A task is a :class:`Task` value: its Table S1 parameters plus the name of a trial *structure*
(``"flipflop"``, ``"mante"``, ``"romo"``, ``"simple"``).  A user adds a task by building a
``Task`` (for instance the flip-flop with three channels, or the simple task with target 2.0)
and, if it needs a new trial structure, by registering a generator with
:func:`register_structure`.

Time discretization: a trial of duration ``T`` has ``K = round(T/dt)`` steps; step ``k``
carries the input ``u(t_k)``, ``t_k = k dt``, and its output ``z_k`` (the readout after the
update driven by ``u_k``) is compared with the target ``ẑ_k`` where ``mask[k]`` is on.  A period
``[a, b)`` covers the steps with ``a <= t_k < b``.

Every batch is generated without per-trial Python loops, from a seeded numpy ``Generator``
(the same seed gives the same batch on every backend; training copies it to the device).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.validation import check_integer

Range = tuple[float, float]


@dataclass(frozen=True)
class Task:
    """Table S1 parameters of one task; ``None`` where the column has '-'.

    ``input_amplitude`` and ``stimulus_delay`` are either a number or a ``(low, high)`` range of
    a uniform draw.  ``extra`` holds structure-specific constants (Mante's noise amplitude,
    Romo's minimal amplitude difference).
    """

    name: str
    structure: str
    n_inputs: int
    n_outputs: int
    duration: float
    fixation: float
    stimulus: float | None
    decision_delay: float | None
    stimulus_delay: Range | None
    decision: float | None
    input_amplitude: float | Range
    target_amplitude: float
    extra: dict[str, float] = field(default_factory=dict)

    def steps(self, dt: float) -> int:
        """Number of time steps ``K = round(T / dt)``."""
        return round(self.duration / dt)

    def with_(self, **changes: Any) -> Task:
        """A copy with some parameters changed (e.g. ``SIMPLE.with_(target_amplitude=2.0)``)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Batch:
    """A batch of trials: ``inputs (B,K,N_in)``, ``targets (B,K,N_out)``, boolean ``mask (B,K)``.

    ``info`` keeps the drawn trial variables (signs, channels, onsets, amplitudes) for tests.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    dt: float
    info: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def steps(self) -> int:
        return int(self.inputs.shape[1])


# ------------------------------------------------------------------------------------------ helpers
def _times(task: Task, dt: float) -> np.ndarray:
    return np.arange(task.steps(dt)) * dt


def _between(t: np.ndarray, start: np.ndarray | float, stop: np.ndarray | float) -> np.ndarray:
    """Boolean ``(B, K)`` (or ``(K,)``): ``start <= t_k < stop`` with per-trial start/stop ``(B,)``.

    A half-step tolerance makes period edges that are multiples of ``dt`` robust to rounding.
    """
    eps = 1e-9
    start = np.asarray(start, dtype=float)
    stop = np.asarray(stop, dtype=float)
    if start.ndim:
        start = start[:, None]
    if stop.ndim:
        stop = stop[:, None]
    return (t >= start - eps) & (t < stop - eps)


def _uniform(rng: np.random.Generator, value: float | Range, size: int | tuple[int, ...]) -> np.ndarray:
    if isinstance(value, tuple):
        return rng.uniform(value[0], value[1], size=size)
    return np.full(size, float(value))


def _quantize(values: np.ndarray, dt: float) -> np.ndarray:
    """Durations drawn from a continuous law, rounded to the time grid."""
    return np.round(values / dt) * dt


# ------------------------------------------------------------------------------------------ structures
def _flipflop(task: Task, batch: int, dt: float, rng: np.random.Generator) -> Batch:
    """Pulses on a random channel with a random sign; the target holds the last pulse's sign.

    Onsets: ``t_0 = t_fix``, ``t_{n+1} = t_n + t_stim + t_sd,n`` with ``t_sd ~ U(low, high)``.
    The decision period of pulse n runs from ``t_n + t_stim + t_delay`` to the next onset;
    there the pulsed channel's target is ``s_n z_amp`` and the other channels' target is 0.
    """
    t = _times(task, dt)
    assert task.stimulus is not None and task.decision_delay is not None and task.stimulus_delay is not None
    low = task.stimulus_delay[0]
    n_pulses = max(1, math.ceil((task.duration - task.fixation) / (task.stimulus + low)) + 1)
    gaps = _quantize(rng.uniform(*task.stimulus_delay, size=(batch, n_pulses)), dt)
    onsets = task.fixation + np.concatenate([np.zeros((batch, 1)), np.cumsum(task.stimulus + gaps, axis=1)[:, :-1]], 1)
    channels = rng.integers(0, task.n_inputs, size=(batch, n_pulses))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(batch, n_pulses))
    amplitude = _uniform(rng, task.input_amplitude, (batch, n_pulses))
    # (B, K, P): step k lies in pulse p / after onset of pulse p
    started = t[None, :, None] >= onsets[:, None, :] - 1e-9
    in_pulse = started & (t[None, :, None] < onsets[:, None, :] + task.stimulus - 1e-9)
    onehot = np.eye(task.n_inputs)[channels]  # (B, P, N_in)
    inputs = np.einsum("bkp,bpi->bki", in_pulse * (signs * amplitude)[:, None, :], onehot)
    last = started.sum(axis=2) - 1  # (B, K) index of the last pulse that started, -1 before the first
    has_pulse = last >= 0
    idx = np.clip(last, 0, None)
    last_onset = np.take_along_axis(onsets, idx, axis=1)
    mask = has_pulse & (t[None, :] >= last_onset + task.stimulus + task.decision_delay - 1e-9)
    last_channel = np.take_along_axis(channels, idx, axis=1)
    last_sign = np.take_along_axis(signs, idx, axis=1)
    out_channels = np.eye(task.n_outputs)[last_channel]  # (B, K, N_out)
    targets = (mask * last_sign * task.target_amplitude)[:, :, None] * out_channels
    info = {"onsets": onsets, "channels": channels, "signs": signs, "last_pulse": np.where(has_pulse, last, -1)}
    return Batch(inputs, targets, mask, dt, info)


def _mante(task: Task, batch: int, dt: float, rng: np.random.Generator) -> Batch:
    """Context-dependent integration: noisy signals, one context; report the sign of its signal.

    Signals ``u_i = u_amp (s_i [t in stimulus] + σ n_ik / sqrt(dt))`` (noise active all trial),
    context ``u_{Ns+j} = u_amp`` during the stimulus.  Mask: on (target 0) before the decision
    delay, off during it, on (target ``z_amp s_j``) during the decision period.
    """
    assert task.stimulus is not None and task.decision_delay is not None and task.decision is not None
    t = _times(task, dt)
    K = t.size
    n_signals = task.n_inputs // 2
    sigma = task.extra.get("noise", 0.05)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(batch, n_signals))
    context = rng.integers(0, n_signals, size=batch)
    amplitude = _uniform(rng, task.input_amplitude, batch)
    noise = rng.standard_normal((batch, K, n_signals)) / np.sqrt(dt)
    stim = _between(t, task.fixation, task.fixation + task.stimulus)  # (K,)
    signal = amplitude[:, None, None] * (signs[:, None, :] * stim[None, :, None] + sigma * noise)
    ctx = amplitude[:, None, None] * stim[None, :, None] * np.eye(n_signals)[context][:, None, :]
    inputs = np.concatenate([signal, ctx], axis=2)
    decision_start = task.fixation + task.stimulus + task.decision_delay
    decision = _between(t, decision_start, decision_start + task.decision)
    before = _between(t, 0.0, task.fixation + task.stimulus)
    mask = np.broadcast_to(before | decision, (batch, K)).copy()
    relevant = np.take_along_axis(signs, context[:, None], axis=1)[:, 0]
    targets = (decision[None, :] * relevant[:, None] * task.target_amplitude)[:, :, None]
    targets = np.broadcast_to(targets, (batch, K, task.n_outputs)).copy()
    info = {"signs": signs, "context": context, "noise": noise}
    return Batch(inputs, targets, mask, dt, info)


def _romo(task: Task, batch: int, dt: float, rng: np.random.Generator) -> Batch:
    """Two pulses with amplitudes ``U(0.5, 1.5)`` at least ``min_difference`` apart; report the larger.

    Pairs closer than the minimal difference are redrawn together (rejection, vectorized over
    the rejected trials).  Mask: on (target 0) until the end of the second pulse, off during
    the decision delay, on during the decision (``z_j = z_amp`` for ``j = argmax``).
    """
    assert task.stimulus is not None and task.decision_delay is not None and task.decision is not None
    assert task.stimulus_delay is not None
    t = _times(task, dt)
    min_diff = task.extra.get("min_difference", 0.2)
    amps = _uniform(rng, task.input_amplitude, (batch, 2))
    bad = np.abs(amps[:, 0] - amps[:, 1]) < min_diff
    while bad.any():
        amps[bad] = _uniform(rng, task.input_amplitude, (int(bad.sum()), 2))
        bad = np.abs(amps[:, 0] - amps[:, 1]) < min_diff
    delay = _quantize(rng.uniform(*task.stimulus_delay, size=batch), dt)
    on1 = np.full(batch, task.fixation)
    on2 = on1 + task.stimulus + delay
    end2 = on2 + task.stimulus
    pulse1 = _between(t, on1, on1 + task.stimulus)
    pulse2 = _between(t, on2, end2)
    inputs = (pulse1 * amps[:, :1] + pulse2 * amps[:, 1:])[:, :, None]
    decision_start = end2 + task.decision_delay
    decision = _between(t, decision_start, decision_start + task.decision)
    mask = _between(t, np.zeros(batch), end2) | decision
    larger = np.argmax(amps, axis=1)
    targets = (decision * task.target_amplitude)[:, :, None] * np.eye(task.n_outputs)[larger][:, None, :]
    info = {"amplitudes": amps, "stimulus_delay": delay, "decision_start": decision_start}
    return Batch(np.ascontiguousarray(inputs), targets, mask, dt, info)


def _simple(task: Task, batch: int, dt: float, rng: np.random.Generator) -> Batch:
    """Constant input from the end of fixation; target ``z_amp`` on ``[T - t_dec, T]``, loss only there."""
    assert task.decision is not None
    t = _times(task, dt)
    K = t.size
    amplitude = _uniform(rng, task.input_amplitude, batch)
    on = _between(t, task.fixation, np.inf)
    inputs = (on[None, :] * amplitude[:, None])[:, :, None] * np.ones(task.n_inputs)
    decision = t >= task.duration - task.decision - 1e-9
    mask = np.broadcast_to(decision, (batch, K)).copy()
    targets = np.broadcast_to((decision * task.target_amplitude)[None, :, None], (batch, K, task.n_outputs)).copy()
    return Batch(inputs, targets, mask, dt, {})


Structure = Callable[[Task, int, float, np.random.Generator], Batch]
STRUCTURES: dict[str, Structure] = {"flipflop": _flipflop, "mante": _mante, "romo": _romo, "simple": _simple}


def register_structure(name: str, generator: Structure) -> None:
    """Make a trial structure available to tasks (``generator(task, batch, dt, rng) -> Batch``)."""
    if not isinstance(name, str) or not name:
        raise ParameterError(expected("a non-empty structure name", "name", name))
    STRUCTURES[name] = generator


# ------------------------------------------------------------------------------------------ Table S1
FLIPFLOP = Task("flipflop", "flipflop", 2, 2, 50.0, 1.0, 1.0, 5.0, (5.0, 25.0), None, 1.0, 0.5)
MANTE = Task("mante", "mante", 4, 1, 48.0, 3.0, 20.0, 5.0, None, 20.0, 1.0, 0.5, {"noise": 0.05})
ROMO = Task("romo", "romo", 1, 2, 30.0, 3.0, 1.0, 5.0, (2.0, 8.0), 10.0, (0.5, 1.5), 0.5, {"min_difference": 0.2})
SIMPLE = Task("simple", "simple", 1, 1, 101.0, 1.0, None, None, None, 1.0, 1.0, 0.5)

TASKS: dict[str, Task] = {task.name: task for task in (FLIPFLOP, MANTE, ROMO, SIMPLE)}

#: epoch budgets of [S §1] (N = 256, batch 32); the simple (linear) task trains 200 epochs
EPOCH_BUDGET: dict[str, int] = {"flipflop": 1000, "mante": 2000, "romo": 6000, "simple": 200}


def register_task(task: Task) -> None:
    """Add (or replace) a task under ``task.name``."""
    if not isinstance(task, Task):
        raise ParameterError(expected("an rmtgate.tasks.Task", "task", task))
    TASKS[task.name] = task


def get_task(task: str | Task) -> Task:
    """A task by name (or a :class:`Task`, returned unchanged); unknown names raise ParameterError."""
    if isinstance(task, Task):
        return task
    if not isinstance(task, str) or task not in TASKS:
        raise ParameterError(expected(f"one of {sorted(TASKS)}", "task", task))
    return TASKS[task]


def generate(task: str | Task, batch: int, *, dt: float = 0.5, seed: int | np.random.Generator | None = None) -> Batch:
    """A batch of ``batch`` trials of ``task`` on the grid of step ``dt`` (seeded)."""
    spec = get_task(task)
    batch = check_integer(batch, "batch", 1)
    if isinstance(dt, bool) or not isinstance(dt, int | float) or not 0 < dt <= 1:
        raise ParameterError(expected("a time step in (0, 1]", "dt", dt))
    if spec.structure not in STRUCTURES:
        raise ParameterError(expected(f"one of {sorted(STRUCTURES)}", "structure", spec.structure))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return STRUCTURES[spec.structure](spec, batch, float(dt), rng)
