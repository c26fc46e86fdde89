"""Theory against simulation: a predicted spectral curve next to simulated Jacobian eigenvalues."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import StateError, expected
from rmtgate.numerics.curves import SpectralCurve, contains, spectral_curve
from rmtgate.numerics.evaluators import evaluator
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.simulation.simulate import SimulationResult, jacobian_eigvals, simulate
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.derive import derive


@dataclass(frozen=True)
class Comparison:
    """A spectral prediction and the simulated eigenvalues it predicts.

    ``simulated_radius`` is ``max |eigenvalue|`` averaged over the ensemble;
    ``fraction_inside`` the share of all simulated eigenvalues inside the predicted support.
    """

    architecture: Architecture
    params: dict[str, float]
    state: str
    curve: SpectralCurve
    simulation: SimulationResult
    eigenvalues: np.ndarray
    fraction_inside: float
    #: the local variables the boundary averaged over (for further predictions, e.g. bounds)
    sample: LocalSample | None = None

    @property
    def theory_radius(self) -> float:
        return self.curve.spectral_radius

    @property
    def simulated_radius(self) -> float:
        return float(np.mean(np.max(np.abs(self.eigenvalues), axis=-1)))

    @property
    def radius_error(self) -> float:
        """Relative error of the predicted spectral radius."""
        return abs(self.theory_radius - self.simulated_radius) / self.simulated_radius

    def summary(self) -> dict[str, Any]:
        return {
            "N": self.simulation.N,
            "ensemble": self.simulation.ensemble,
            "steps": self.simulation.steps,
            "spectral_radius": self.simulated_radius,
            "fraction_inside": self.fraction_inside,
            "theory_spectral_radius": self.theory_radius,
            "relative_radius_error": self.radius_error,
        }


def network_sample(result: SimulationResult) -> LocalSample:
    """The simulated per-neuron local variables, pooled over the ensemble."""
    values = result.local_sample(as_numpy=True)
    return LocalSample.from_arrays({k: np.asarray(v).reshape(-1) for k, v in values.items()}, source="network")


def compare_with_simulation(
    arch: Architecture,
    params: Mapping[str, float],
    *,
    N: int,
    steps: int = 500,
    seed: int = 0,
    ensemble: int = 1,
    state: str | LocalSample = "network",
    n_angles: int = 720,
    backend: str = "numpy",
    initial_scale: float | None = None,
) -> Comparison:
    """Simulate ``ensemble`` networks and predict their Jacobian spectrum.

    ``state`` chooses the statistics the boundary averages over: ``"network"`` (the simulated
    networks' own per-neuron values at the last step), ``"zero"`` (the zero fixed point; the
    simulation then starts at zero) or a :class:`LocalSample` (e.g. from the mean-field theory).

    Args:
        arch: the architecture.
        params: parameter values by name (every matrix scale required).
        N: neurons per network.
        steps: updates before the Jacobian is taken (time steps of the map).
        seed: root seed of the networks.
        ensemble: independent networks (their eigenvalues and statistics are pooled).
        state: ``"network"``, ``"zero"`` or a :class:`LocalSample`, as above.
        n_angles: rays of the predicted curve.
        backend: ``"numpy"`` or ``"cupy"`` for the simulation.
        initial_scale: standard deviation of the initial state (default 1, or 0 for ``"zero"``).

    Returns:
        A :class:`Comparison`: ``curve``, ``eigenvalues``, ``theory_radius``,
        ``simulated_radius``, ``radius_error``, ``fraction_inside``, ``summary()``.
    """
    derivation = derive(arch)
    bnd = derivation.boundary
    if initial_scale is None:
        initial_scale = 0.0 if state == "zero" else 1.0
    result = simulate(
        arch, params, N=N, steps=steps, seed=seed, ensemble=ensemble, backend=backend, initial_scale=initial_scale
    )
    if isinstance(state, LocalSample):
        sample, label = state, state.source
    elif state == "network":
        sample, label = network_sample(result), "network"
    elif state == "zero":
        sample, label = zero_state(bnd, result.params), "zero"
    else:
        raise StateError(expected("'network', 'zero' or a LocalSample", "state", state))
    ev = evaluator(bnd, sample, {k: v for k, v in result.params.items()})
    curve = spectral_curve(ev, n_angles=n_angles)
    eigenvalues = jacobian_eigvals(result, derivation.linearization)
    inside = float(np.mean(contains(ev, eigenvalues.reshape(-1))))
    return Comparison(arch, dict(result.params), label, curve, result, eigenvalues, inside, sample)
