"""The computation of one sweep point: every requested quantity plus its diagnostics.

:func:`evaluate_point` is what a Dask task runs.  It never raises for a numerical failure
(a :class:`~rmtgate.errors.RmtgateError` such as a ``ConvergenceError``, or a NumPy/SciPy
error): the point then comes back with NaN values and the error message, so one bad corner
of the grid does not stop a sweep.  Work shared by several quantities (the steady state, the
simulated network and its eigenvalues, the fixed points) is computed once per point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, RmtgateError, expected
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.sweep.grid import SweepSpec


@dataclass
class PointResult:
    """Values and diagnostics of one point (NaN values and ``error`` when it failed)."""

    index: int
    seed: int
    values: dict[str, float]
    mc_error: dict[str, float] = field(default_factory=dict)
    seconds: float = math.nan
    iterations: float = math.nan
    residual: float = math.nan
    #: the steady state's input correlation functions (a successor's warm start), if one was solved
    warm: dict[str, np.ndarray] | None = None
    error: str = ""


class _Point:
    """Lazily computed pieces of one point, shared between its quantities."""

    def __init__(
        self, spec: SweepSpec, params: dict[str, float], seed: int, warm: dict[str, np.ndarray] | None = None
    ) -> None:
        self.spec = spec
        self.warm = warm
        self.arch = spec.architecture
        self.params = resolve_parameters(self.arch, params)
        self.seed = seed
        self.iterations = math.nan
        self.residual = math.nan

    @cached_property
    def boundary(self) -> Any:
        from rmtgate.symbolic.derive import derive

        return derive(self.arch).boundary

    @cached_property
    def steady(self) -> Any:
        from rmtgate.mft.dmft import steady_state

        options: dict[str, Any] = {}
        if self.warm is not None:
            # the predecessor's correlation functions, and the window it returned
            options = {"initial": self.warm, "first_lags": max(64, len(next(iter(self.warm.values()))))}
        state = steady_state(self.arch, self.params, trajectories=self.spec.trajectories, seed=self.seed, **options)
        self.iterations, self.residual = float(state.iterations), float(state.residual)
        return state

    @cached_property
    def sample(self) -> Any:
        from rmtgate.numerics.samples import zero_state

        if self.spec.state == "zero":
            return zero_state(self.boundary, self.params)
        return self.steady.local_sample(self.spec.samples, self.seed)

    @cached_property
    def simulation(self) -> Any:
        from rmtgate.simulation.simulate import simulate

        spec = self.spec
        # from a random state: simulations measure the steady state (``state`` is a theory setting)
        return simulate(
            self.arch,
            self.params,
            N=spec.N,
            steps=spec.steps,
            seed=self.seed,
            ensemble=spec.ensemble,
            initial_scale=1.0,
        )

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        from rmtgate.simulation.simulate import jacobian_eigvals
        from rmtgate.symbolic.derive import derive

        return np.asarray(jacobian_eigvals(self.simulation, derive(self.arch).linearization))

    @cached_property
    def fixed_points(self) -> list[Any]:
        from rmtgate.mft.fixed_points import fixed_points

        return fixed_points(self.arch, self.params)

    # ---------------------------------------------------------------- quantities: (value, mc error)
    def spectral_radius(self) -> tuple[float, float]:
        if self.spec.method == "simulation":
            radii = np.max(np.abs(self.eigenvalues), axis=-1)
            return float(np.mean(radii)), _standard_error(radii)
        from rmtgate.numerics.curves import spectral_curve
        from rmtgate.numerics.evaluators import evaluator

        curve = spectral_curve(evaluator(self.boundary, self.sample, self.params), n_angles=self.spec.angles)
        return float(curve.spectral_radius), math.nan

    def C_h(self) -> tuple[float, float]:
        if self.spec.method == "simulation":
            first = self.arch.state[0]
            per_network = np.mean(np.asarray(self.simulation.state[first], dtype=float) ** 2, axis=-1)
            return float(np.mean(per_network)), _standard_error(per_network)
        if self.spec.state == "zero":
            return 0.0, math.nan
        return float(self.steady.C_h0), math.nan

    def fraction_near_1(self) -> tuple[float, float]:
        near = self.spec.near
        if self.spec.method == "simulation":
            per_network = np.mean(np.abs(self.eigenvalues - 1.0) < near, axis=-1)
            return float(np.mean(per_network)), _standard_error(per_network)
        # the mass of the theory's eigenvalue density (atoms included) within `near` of λ = 1
        from rmtgate.numerics.density_masses import fraction_in_disk

        fraction = fraction_in_disk(self.boundary, self.sample, self.params, center=1.0, radius=near)
        return float(fraction), math.nan

    def stable_fixed_points(self) -> tuple[float, float]:
        return float(sum(1 for fp in self.fixed_points if fp.stable)), math.nan

    def a_r_star(self) -> tuple[float, float]:
        from rmtgate.mft.phase import bifurcation_ar

        if "a_h" not in self.params or "a_r" not in self.params:
            raise ParameterError(
                expected("the GRU (a_r_star is its bifurcation value)", "architecture", self.arch.name)
            )
        return bifurcation_ar(self.params["a_h"], b_r=self.params.get("b_r", 0.0)), math.nan


def _standard_error(values: np.ndarray) -> float:
    """Standard error of the mean over independent networks (NaN for a single network)."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(values.size))


def evaluate_point(
    spec: SweepSpec, index: int, params: dict[str, float], warm: dict[str, np.ndarray] | None = None
) -> PointResult:
    """Compute every quantity of ``spec`` at one point (the body of a Dask task).

    ``warm``: the predecessor's steady-state input correlations (:attr:`PointResult.warm`),
    the DMFT's starting point; None solves from scratch.
    """
    seed = spec.point_seed(index)
    start = time.perf_counter()
    result = PointResult(index=index, seed=seed, values={q: math.nan for q in spec.quantities})
    messages: list[str] = []
    try:
        point = _Point(spec, params, seed, warm)
    except RmtgateError as err:
        point, messages = None, [f"{type(err).__name__}: {err}"]
    for name in spec.quantities if point is not None else ():
        try:
            result.values[name], result.mc_error[name] = getattr(point, name)()
        except (RmtgateError, ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
            # a failing quantity is data (NaN + message), not the end of the sweep
            messages.append(f"{name}: {type(err).__name__}: {err}")
            if hasattr(err, "iterations"):
                result.iterations, result.residual = float(err.iterations), float(err.residual)
    if point is not None and not math.isnan(point.iterations):
        result.iterations, result.residual = point.iterations, point.residual
    if spec.chained and point is not None and "steady" in point.__dict__:  # solved (cached_property), not failed
        result.warm = {name: np.asarray(c) for name, c in point.steady.C_inputs.items()}
    result.error = "; ".join(messages)
    result.seconds = time.perf_counter() - start
    return result
