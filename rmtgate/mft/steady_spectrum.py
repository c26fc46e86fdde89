"""Pure theory of a steady state's spectrum, with the Monte Carlo error bar it carries.

The spectral curve is computed from the one-time local variables of the steady-state DMFT
(:func:`rmtgate.mft.dmft.steady_state`).  Its radius moves with the seed through two noises:
the DMFT's self-consistent covariances and the finite sample that averages ``L(λ)``.  Each
independent DMFT replica is self-consistent on its own paths, so a curve from each replica's
own sample spreads as the pooled answer does; the spread over ``√replicas`` is the error bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.mft.dmft import SteadyState, finite_or_none, steady_sample_size, steady_state
from rmtgate.numerics.curves import SpectralCurve, spectral_curve
from rmtgate.numerics.evaluators import evaluator
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.derive import derive
from rmtgate.validation import check_integer


@dataclass(frozen=True)
class SteadySpectrum:
    """The steady state, the sample drawn from it, its spectral curve and the replicas' radii."""

    state: SteadyState
    sample: LocalSample
    curve: SpectralCurve
    replica_radii: tuple[float, ...]

    @property
    def spectral_radius(self) -> float:
        return self.curve.spectral_radius

    @property
    def spectral_radius_error(self) -> float:
        """Standard error of :attr:`spectral_radius` from the replicas (NaN with fewer than two)."""
        if len(self.replica_radii) < 2:
            return math.nan
        return float(np.std(self.replica_radii, ddof=1) / math.sqrt(len(self.replica_radii)))

    def summary(self) -> dict[str, Any]:
        """The radius with its error bar and what the DMFT did (JSON-ready: no NaN)."""
        error = self.spectral_radius_error
        dmft = self.state.summary()
        return {
            "spectral_radius": self.spectral_radius,
            "spectral_radius_error": finite_or_none(error),
            "replica_radii": list(self.replica_radii),
            "sample_size": self.sample.size,
            "dmft": {
                key: dmft[key]
                for key in (
                    "C0",
                    "C0_error",
                    "C_h0_window_systematic",
                    "replicas",
                    "correlation_time",
                    "window",
                    "steps",
                    "burn_in",
                    "trajectories",
                    "iterations",
                    "residual",
                    "noise",
                    "polished",
                )
            },
        }


def steady_spectrum(
    arch: Architecture,
    params: Mapping[str, Any],
    *,
    seed: int = 0,
    size: int | None = None,
    n_angles: int = 720,
    error_angles: int = 32,
    state: SteadyState | None = None,
    **dmft_options: Any,
) -> SteadySpectrum:
    """Steady-state DMFT, its spectral curve from ``size`` draws, and the radius's error bar.

    The error bar: one curve per DMFT replica, from ``size / replicas`` draws of that
    replica's own covariances on ``error_angles`` rays (the spread is what is wanted, and it
    does not depend on the angular resolution); the standard error of their radii.

    Args:
        arch: the architecture.
        params: parameter values by name.
        seed: seed of the DMFT and of the draws.
        size: draws that average ``L(λ)`` for the curve (default
            :func:`~rmtgate.mft.dmft.steady_sample_size`).
        n_angles: rays of the curve.
        error_angles: rays of each replica's curve.
        state: an already solved steady state at ``params`` (else solved here).
        **dmft_options: passed to :func:`~rmtgate.mft.dmft.steady_state`.
    """
    size = check_integer(steady_sample_size(arch) if size is None else size, "size", 16)
    error_angles = check_integer(error_angles, "error_angles", 8)
    values = resolve_parameters(arch, params)
    if state is None:
        state = steady_state(arch, values, seed=seed, **dmft_options)
    bnd = derive(arch).boundary
    sample = state.local_sample(size, seed)
    curve = spectral_curve(evaluator(bnd, sample, values), n_angles=n_angles)
    radii: tuple[float, ...] = ()
    if state.replicas >= 2:
        per_replica = max(16, size // state.replicas)
        radii = tuple(
            spectral_curve(evaluator(bnd, replica, values), n_angles=error_angles).spectral_radius
            for replica in state.replica_local_samples(per_replica, seed + 1)
        )
    return SteadySpectrum(state, sample, curve, radii)
