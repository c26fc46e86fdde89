"""Eigenvalue density of an architecture's Jacobian, optionally next to a simulated network.

One call (:func:`density_report`) chooses the local statistics (zero fixed point, mean-field
steady state, a saved sample, or the simulated network's own per-neuron values), solves the
Dyson equation on a grid (:func:`rmtgate.numerics.density.density_grid`), measures disks by
Stokes' theorem (:func:`rmtgate.numerics.density_masses.fraction_in_disk`) and, with a
simulation, the same disks on the simulated eigenvalues.

Normalisation: fractions of all ``n_state N`` Jacobian eigenvalues (the LSTM's 2N), atoms
(point masses) included in every fraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, StateError, expected
from rmtgate.numerics.curves import SpectralCurve, spectral_curve
from rmtgate.numerics.density import DensityGrid, density_grid
from rmtgate.numerics.density_masses import fraction_in_disk
from rmtgate.numerics.dyson_coefficients import DysonCoefficients, coefficients
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.samples import LocalSample, zero_state
from rmtgate.simulation.simulate import SimulationResult, jacobian_eigvals, simulate
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.derive import derive
from rmtgate.verification.compare import network_sample

Disk = tuple[complex, float]


@dataclass(frozen=True)
class DensityReport:
    """Density on a grid, its atoms and disk fractions; with a simulation, the measured ones."""

    architecture: Architecture
    params: dict[str, float]
    state: str
    coefficients: DysonCoefficients
    grid: DensityGrid
    curve: SpectralCurve
    total_mass: float
    disks: tuple[Disk, ...]
    fractions: tuple[float, ...]
    simulation: SimulationResult | None = None
    eigenvalues: np.ndarray | None = None

    @property
    def simulated_fractions(self) -> tuple[float, ...] | None:
        if self.eigenvalues is None:
            return None
        return tuple(simulated_fraction(self.eigenvalues, c, r) for c, r in self.disks)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "architecture": self.architecture.name,
            "parameters": self.params,
            "state": self.state,
            "normalisation": f"per Jacobian eigenvalue ({self.coefficients.n_state} N of them)",
            "grid": {"re": self.grid.x.tolist(), "im": self.grid.y.tolist()},
            "density": self.grid.mu.tolist(),
            "atoms": [{"location": [a.location.real, a.location.imag], "weight": a.weight} for a in self.grid.atoms],
            "total_mass": self.total_mass,
            "grid_mass": self.grid.continuous_mass + self.coefficients.atom_mass,
            "seconds": self.grid.seconds,
            "fraction_in_disk": [
                {"center": [c.real, c.imag], "radius": r, "fraction": f}
                for (c, r), f in zip(self.disks, self.fractions, strict=True)
            ],
        }
        simulated = self.simulated_fractions
        if simulated is not None and self.simulation is not None:
            out["simulated"] = {
                "N": self.simulation.N,
                "steps": self.simulation.steps,
                "eigenvalues": int(self.eigenvalues.size),
            }  # type: ignore[union-attr]
            out["simulated_fraction_in_disk"] = [
                {"center": [c.real, c.imag], "radius": r, "fraction": f}
                for (c, r), f in zip(self.disks, simulated, strict=True)
            ]
        return out


def simulated_fraction(eigenvalues: np.ndarray, center: complex, radius: float) -> float:
    """Share of the simulated eigenvalues with ``|λ − center| < radius``."""
    return float(np.mean(np.abs(np.asarray(eigenvalues).reshape(-1) - complex(center)) < radius))


def total_mass(co: DysonCoefficients, curve: SpectralCurve) -> float:
    """``(1/2πi)∮ G dλ`` on a circle enclosing the support, every pole and every atom: 1 when normalised."""
    poles = co.poles.reshape(-1)
    atoms = np.array([a.location for a in co.atoms], dtype=complex)
    reach = max(
        curve.spectral_radius,
        float(np.max(np.abs(poles))) if poles.size else 0.0,
        float(np.max(np.abs(atoms))) if atoms.size else 0.0,
    )
    return fraction_in_disk(co, center=0.0, radius=1.25 * reach + 0.5)


def local_statistics(
    arch: Architecture, params: Mapping[str, float], state: str | LocalSample, *, seed: int = 0, size: int = 2000
) -> tuple[LocalSample, str]:
    """``state``: ``"zero"``, ``"steady"`` (mean-field, ``size`` draws), a ``.npz`` path or a sample."""
    if isinstance(state, LocalSample):
        return state, state.source
    if state == "zero":
        return zero_state(derive(arch).boundary, resolve_parameters(arch, params)), "zero"
    if state == "steady":
        from rmtgate.mft.dmft import steady_state_sample

        return steady_state_sample(arch, dict(params), seed=seed, size=size), "steady"
    if state == "network":
        raise StateError(expected("a simulation (simulate=N) with state 'network'", "state", state))
    return LocalSample.load(state), str(state)


def density_report(
    arch: Architecture,
    params: Mapping[str, float],
    *,
    state: str | LocalSample = "zero",
    grid: int = 100,
    disks: Sequence[Disk] = (),
    simulate_N: int | None = None,
    steps: int = 500,
    seed: int = 0,
    extent: tuple[float, float, float, float] | None = None,
) -> DensityReport:
    """Density on a ``grid × grid`` lattice and fractions of ``disks``; optionally a simulated network.

    With ``simulate_N`` a network of that size is run ``steps`` steps (from zero when ``state``
    is ``"zero"``) and its Jacobian eigenvalues measured; ``state="network"`` then uses the
    network's own per-neuron values (``N`` neurons) as the statistics of the theory.
    """
    if simulate_N is not None and (isinstance(simulate_N, bool) or not isinstance(simulate_N, int) or simulate_N < 2):
        raise ParameterError(expected("an integer N >= 2", "simulate", simulate_N))
    for c, r in disks:
        if not (np.isfinite(complex(c)) and isinstance(r, float | int) and r > 0):
            raise ParameterError(expected("disks (center, radius > 0)", "disk", (c, r)))
    derivation = derive(arch)
    result, eigenvalues = None, None
    if simulate_N is not None:
        initial = 0.0 if state == "zero" else 1.0
        result = simulate(arch, params, N=simulate_N, steps=steps, seed=seed, initial_scale=initial)
        eigenvalues = jacobian_eigvals(result, derivation.linearization).reshape(-1)
    if state == "network":
        if result is None:
            raise StateError(expected("simulate=N with state 'network'", "state", state))
        sample, label = network_sample(result), "network"
    else:
        sample, label = local_statistics(arch, params, state, seed=seed)
    resolved = resolve_parameters(arch, {k: v for k, v in params.items() if k not in sample.values})
    co = coefficients(derivation, sample, resolved)
    curve = spectral_curve(co.evaluator, n_angles=360)
    dens = density_grid(co, grid=grid, extent=extent)
    fractions = tuple(fraction_in_disk(co, center=complex(c), radius=float(r)) for c, r in disks)
    return DensityReport(
        arch,
        resolved,
        label,
        co,
        dens,
        curve,
        total_mass(co, curve),
        tuple((complex(c), float(r)) for c, r in disks),
        fractions,
        result,
        eigenvalues,
    )
