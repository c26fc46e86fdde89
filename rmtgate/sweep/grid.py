"""What a sweep is: the architecture, fixed parameters, swept axes, quantities and settings.

A :class:`SweepSpec` is plain data (picklable, shipped to Dask workers) with a
:meth:`~SweepSpec.fingerprint` over everything that changes the numbers, so that a store
written by one sweep is never silently extended by another.  Points are numbered in C order
over the axes; a point's seed depends only on ``(seed, index)`` so results never depend on
which worker ran which point, or in which order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.symbolic.architecture import Architecture

#: every quantity a sweep can record (see :mod:`rmtgate.sweep.quantities`)
QUANTITIES = ("spectral_radius", "C_h", "fraction_near_1", "stable_fixed_points", "a_r_star")
METHODS = ("theory", "simulation")
STATES = ("steady", "zero")


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its name (also the dimension's name) and its values."""

    name: str
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.values)


def parse_axis_value(name: str, text: str) -> tuple[float, ...] | float:
    """``"3"`` → ``3.0``; ``"0:10:21"`` → 21 values ``linspace(0, 10)``; ``"1,2,5"`` → those values."""
    try:
        if ":" in text:
            start, stop, num = text.split(":")
            n = int(num)
            if n < 1:
                raise ValueError
            return tuple(float(v) for v in np.linspace(float(start), float(stop), n))
        if "," in text:
            return tuple(float(v) for v in text.split(","))
        return float(text)
    except ValueError:
        raise ParameterError(
            expected(f"{name}=VALUE, {name}=START:STOP:NUM (NUM >= 1) or {name}=V1,V2,...", name, text)
        ) from None


def parse_sweep_parameters(pairs: Sequence[str] | None) -> tuple[dict[str, float], list[Axis]]:
    """``-p`` options → fixed values and swept axes, in the order given (the order of the dims)."""
    fixed: dict[str, float] = {}
    axes: list[Axis] = []
    seen: set[str] = set()
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(expected("-p NAME=VALUE or -p NAME=START:STOP:NUM", "parameter", pair))
        if name in seen:
            raise ParameterError(expected("each parameter given once", "parameter", name))
        seen.add(name)
        value = parse_axis_value(name, text.strip())
        if isinstance(value, tuple):
            axes.append(Axis(name, value))
        else:
            fixed[name] = value
    return fixed, axes


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's numbers (and so its store's fingerprint).

    ``N``, ``steps`` and ``ensemble`` size the simulations; ``trajectories`` and ``samples``
    the steady-state theory (single-site paths of the DMFT, local-variable draws for the
    boundary average); ``angles`` the rays of the spectral curve; ``state`` the statistics
    of the theory (``steady``: mean-field steady state, ``zero``: the zero fixed point).
    ``warm_start``: a steady-state point starts its DMFT from the solution of the point
    before it along the last axis (see :attr:`chained`).
    """

    architecture: Architecture
    fixed: dict[str, float]
    axes: tuple[Axis, ...]
    quantities: tuple[str, ...]
    method: str = "theory"
    seed: int = 0
    N: int = 200
    steps: int = 500
    ensemble: int = 1
    near: float = 0.05
    state: str = "steady"
    trajectories: int = 1000
    samples: int = 2000
    angles: int = 360
    warm_start: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.axes:
            raise ParameterError(expected("at least one swept parameter -p NAME=START:STOP:NUM", "axes", ()))
        unknown = [q for q in self.quantities if q not in QUANTITIES]
        if unknown or not self.quantities:
            raise ParameterError(expected(f"quantities among {list(QUANTITIES)}", "quantity", ",".join(unknown)))
        if self.method not in METHODS:
            raise ParameterError(expected(f"a method among {list(METHODS)}", "method", self.method))
        if self.state not in STATES:
            raise ParameterError(expected(f"a state among {list(STATES)}", "state", self.state))
        overlap = sorted(set(self.fixed) & {a.name for a in self.axes})
        if overlap:
            raise ParameterError(expected("a parameter either fixed or swept", "parameter", overlap[0]))
        # every point must be a complete, valid parameter set: check the corners up front
        for corner in itertools.product(*((a.values[0], a.values[-1]) for a in self.axes)):
            resolve_parameters(self.architecture, {**self.fixed, **dict(zip(self.dims, corner, strict=True))})

    @property
    def chained(self) -> bool:
        """Whether points are solved along the last axis, each from its predecessor's steady state.

        Only the steady-state theory has a solve to warm-start (the DMFT: a neighbour's
        correlation functions and memory window save most of its iterations where the dynamics
        are slow).  A chained point depends on its predecessor's stored solution, so a resumed
        sweep still reproduces an uninterrupted one.
        """
        return self.warm_start and self.method == "theory" and self.state == "steady"

    def chain(self, index: int) -> int:
        """The chain point ``index`` belongs to: its line along the last axis when chained, else itself."""
        return index // self.shape[-1] if self.chained else index

    def predecessor(self, index: int) -> int | None:
        """The point ``index`` warm-starts from (the previous one along the last axis), if any."""
        if not self.chained or index % self.shape[-1] == 0:
            return None
        return index - 1

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def points(self) -> Iterator[tuple[int, tuple[int, ...], dict[str, float]]]:
        """``(flat index, grid index, full parameter values)`` for every point, in C order."""
        for flat, where in enumerate(np.ndindex(*self.shape)):
            values = {a.name: a.values[i] for a, i in zip(self.axes, where, strict=True)}
            yield flat, where, {**self.fixed, **values}

    def point_seed(self, index: int) -> int:
        """The seed of point ``index``: child ``index`` of ``SeedSequence(seed)`` (scheduling-independent)."""
        child = np.random.SeedSequence(self.seed, spawn_key=(index,))
        return int(child.generate_state(1, dtype=np.uint32)[0])

    def settings(self) -> dict[str, Any]:
        """The settings that matter for ``method``, as JSON-friendly values (stored in the attrs)."""
        out: dict[str, Any] = {"method": self.method, "seed": self.seed, "quantities": list(self.quantities)}
        if self.method == "simulation":
            out.update(N=self.N, steps=self.steps, ensemble=self.ensemble)
        else:
            out.update(state=self.state, trajectories=self.trajectories, samples=self.samples)
            if self.chained:
                out["warm_start"] = "previous point along the last axis"
        if "spectral_radius" in self.quantities or "fraction_near_1" in self.quantities:
            out["angles"] = self.angles
        if "fraction_near_1" in self.quantities:
            out["near"] = self.near
        out.update(self.extra)
        return out

    def identity(self) -> dict[str, Any]:
        """What the fingerprint hashes: architecture, fixed values, grid and settings."""
        return {
            "architecture": self.architecture.name,
            "architecture_hash": self.architecture.spec_hash(),
            "fixed": {k: self.fixed[k] for k in sorted(self.fixed)},
            "axes": {a.name: list(a.values) for a in self.axes},
            **self.settings(),
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, default=float)
        return hashlib.sha256(text.encode()).hexdigest()


def describe_difference(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """``key: stored → wanted`` for each identity entry that differs (for the refusal message)."""
    keys = sorted(set(stored) | set(wanted))
    return "; ".join(f"{k}: {stored.get(k)!r} → {wanted.get(k)!r}" for k in keys if stored.get(k) != wanted.get(k))
