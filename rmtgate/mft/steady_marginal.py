"""The approach ``ρ → 1`` of the steady state's spectral radius as a gate gain grows ([G] Thm 4.8 beyond fixed points).

[G] Thm 4.8 shows that at a stable fixed point of the GRU the Jacobian's radius approaches one as
``ρ(J_0) − 1 = Θ(e^{−c √C_h a_z})`` (:mod:`rmtgate.mft.marginal`).  In the chaotic steady state the
same pile-up of slow modes happens, but the local statistics that decide the edge are not a fixed
point's: the state moves, ``h − tanh(y)`` is not zero, and the update gate's own field enters
``L(λ)`` with weight ``a_z² z²(1 − z)²(h − φ)²/|λ − z|²`` (zero at a fixed point, where ``h = φ``).  Here the radius is computed at each gain from
the steady-state DMFT's one-time statistics (:func:`rmtgate.mft.steady_spectrum.steady_spectrum`,
with its Monte Carlo error bar), each point warm-started from the one before (slow gates make the
solve long; a neighbour's correlation functions and window are a good start), and
``log(ρ − 1)`` is fitted by a straight line in the gain: the decay rate ``κ`` and, divided by the
mean ``√C(0)``, the exponent that plays the role of Thm 4.8's ``c``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.mft.dmft import finite_or_none
from rmtgate.mft.steady_spectrum import SteadySpectrum, steady_spectrum
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.symbolic.architecture import Architecture
from rmtgate.validation import check_integer


@dataclass(frozen=True)
class ApproachPoint:
    """One gain value: the steady state's radius and ``C(0)`` of :attr:`SteadyApproach.state`, each with its error bar."""

    gain: float
    spectral_radius: float
    spectral_radius_error: float
    C0: float
    C0_error: float
    correlation_time: float
    window: int
    seconds: float
    #: the radius of each independent solve (seeds ``seed``, ``seed + 1``, ...) when repeated
    radii: tuple[float, ...] = ()
    #: the window each solve returned
    windows: tuple[int, ...] = ()

    @property
    def excess(self) -> float:
        """``ρ − 1``."""
        return self.spectral_radius - 1.0


@dataclass(frozen=True)
class DecayFit:
    """``log(ρ − 1) = intercept − rate · gain``, weighted least squares, with standard errors."""

    rate: float
    rate_error: float
    intercept: float
    intercept_error: float
    gains: tuple[float, ...]

    def excess(self, gain: float | np.ndarray) -> float | np.ndarray:
        """The fitted ``ρ − 1`` at ``gain``."""
        return np.exp(self.intercept - self.rate * np.asarray(gain, dtype=float))


def fit_exponential_decay(gains: Sequence[float], excess: Sequence[float], errors: Sequence[float]) -> DecayFit:
    """Fit ``log(excess) = intercept − rate · gain`` with weights from the excesses' error bars.

    The error of ``log(excess)`` is ``error / excess`` (first order).  Standard errors of the two
    coefficients come from the weighted normal equations, scaled by the reduced χ² when it
    exceeds one (scatter larger than the error bars claim widens them; it never narrows them).
    Needs at least two points with a positive excess and a positive, finite error bar.
    """
    g = np.asarray(gains, dtype=float)
    x = np.asarray(excess, dtype=float)
    e = np.asarray(errors, dtype=float)
    if not g.shape == x.shape == e.shape or g.ndim != 1:
        raise ParameterError(
            expected("gains, excess and errors of one common length", "shapes", (g.shape, x.shape, e.shape))
        )
    if g.size < 2:
        raise ParameterError(expected("at least two points to fit a decay", "gains", g.tolist()))
    if not np.all(x > 0):
        raise ParameterError(expected("a positive excess ρ − 1 at every point", "excess", x.tolist()))
    if not np.all((e > 0) & np.isfinite(e)):
        raise ParameterError(expected("positive, finite error bars", "errors", e.tolist()))
    y = np.log(x)
    # polyfit weights multiply the residuals: 1/σ of log(excess); "unscaled" is (AᵀWA)⁻¹
    (slope, intercept), covariance = np.polyfit(g, y, 1, w=x / e, cov="unscaled")
    if g.size > 2:
        chi2 = float(np.sum(((y - (slope * g + intercept)) * x / e) ** 2)) / (g.size - 2)
        covariance = covariance * max(1.0, chi2)
    return DecayFit(
        rate=-float(slope),
        rate_error=float(math.sqrt(covariance[0, 0])),
        intercept=float(intercept),
        intercept_error=float(math.sqrt(covariance[1, 1])),
        gains=tuple(g.tolist()),
    )


@dataclass(frozen=True)
class SteadyApproach:
    """The steady-state radius along one gain, and its exponential fit."""

    architecture: str
    gain: str
    parameters: dict[str, float]
    points: tuple[ApproachPoint, ...]
    #: the state whose ``C(0)`` the points carry: ``h`` where there is one (the gates' input in
    #: the GRU and the LSTM, so ``a √C_h(0)`` is the gate field's scale), else the first state
    state: str = "h"

    def fit(self, *, minimum_gain: float = -math.inf) -> DecayFit:
        """Exponential fit of ``ρ − 1`` over the points with ``gain ≥ minimum_gain``."""
        chosen = [p for p in self.points if p.gain >= minimum_gain]
        return fit_exponential_decay(
            [p.gain for p in chosen], [p.excess for p in chosen], [p.spectral_radius_error for p in chosen]
        )

    def summary(self, *, minimum_gain: float = -math.inf) -> dict[str, Any]:
        """JSON-ready: every point, and the fit with the Thm-4.8-like exponent ``κ / mean √C(0)`` (of :attr:`state`)."""
        out: dict[str, Any] = {
            "architecture": self.architecture,
            "gain": self.gain,
            "state": self.state,
            "parameters": self.parameters,
            "points": [
                {
                    self.gain: p.gain,
                    "spectral_radius": p.spectral_radius,
                    "spectral_radius_error": finite_or_none(p.spectral_radius_error),
                    "excess": p.excess,
                    "C0": p.C0,
                    "C0_error": finite_or_none(p.C0_error),
                    "correlation_time": p.correlation_time,
                    "window": p.window,
                    "seconds": p.seconds,
                    **({"radii": list(p.radii), "windows": list(p.windows)} if p.radii else {}),
                }
                for p in self.points
            ],
        }
        try:
            fit = self.fit(minimum_gain=minimum_gain)
        except ParameterError as error:  # e.g. a radius at or below one: nothing to fit
            out["fit"] = {"error": str(error)}
            return out
        root_c0 = float(np.mean([math.sqrt(p.C0) for p in self.points if p.gain in fit.gains]))
        out["fit"] = {
            "gains": list(fit.gains),
            "rate": fit.rate,
            "rate_error": fit.rate_error,
            "intercept": fit.intercept,
            "intercept_error": fit.intercept_error,
            "exponent_c": fit.rate / root_c0,
            "exponent_c_error": fit.rate_error / root_c0,
        }
        return out


def _point(gain: float, spectra: Sequence[SteadySpectrum], moment: str, seconds: float) -> ApproachPoint:
    """One gain's point from one or more independent solves (see ``repeats``)."""
    n = len(spectra)
    radii = np.array([s.spectral_radius for s in spectra])
    c0 = np.array([s.state.C0[moment] for s in spectra])
    replica_radius = math.sqrt(float(np.mean([s.spectral_radius_error**2 for s in spectra])) / n)
    replica_c0 = math.sqrt(float(np.mean([s.state.C0_error[moment] ** 2 for s in spectra])) / n)
    radius_error, c0_error = replica_radius, replica_c0
    if n >= 2:  # NaN replica errors (one replica) leave the solves' spread
        radius_error = float(np.nanmax([replica_radius, np.std(radii, ddof=1) / math.sqrt(n)]))
        c0_error = float(np.nanmax([replica_c0, np.std(c0, ddof=1) / math.sqrt(n)]))
    return ApproachPoint(
        gain=gain,
        spectral_radius=float(np.mean(radii)),
        spectral_radius_error=radius_error,
        C0=float(np.mean(c0)),
        C0_error=c0_error,
        correlation_time=float(np.mean([s.state.correlation_time for s in spectra])),
        window=len(spectra[0].state.lags),
        seconds=seconds,
        radii=tuple(radii.tolist()) if n >= 2 else (),
        windows=tuple(len(s.state.lags) for s in spectra) if n >= 2 else (),
    )


def steady_approach(
    arch: Architecture,
    params: Mapping[str, Any],
    gain: str,
    values: Sequence[float],
    *,
    seed: int = 0,
    size: int | None = None,
    n_angles: int = 360,
    warm_start: bool = True,
    repeats: int = 1,
    progress: Callable[[str], None] | None = None,
    **dmft_options: Any,
) -> SteadyApproach:
    """The steady state's spectral radius (with error bar) at each value of the gain ``gain``.

    Args:
        arch: the architecture.
        params: the other parameters by name (``gain`` is set from ``values``).
        gain: the parameter that is varied (``"a_z"`` for the GRU, ``"a_f"`` for the LSTM).
        values: its values, solved in the order given (increasing is best for warm starts).
        seed: seed of every point's DMFT and draws.
        size: draws that average ``L(λ)`` for each curve (default
            :func:`~rmtgate.mft.dmft.steady_sample_size`).
        n_angles: rays of each curve.
        warm_start: start each DMFT from the previous point's correlation functions and window.
        repeats: independent solves per point (seeds ``seed``, ``seed + 1``, ...).  With two or
            more, a point is their mean and its error bar the larger of the replicas' (combined)
            and the solves' own standard error.  Where the dynamics are slow the second can be
            the larger: which window confirms first varies between solves, and the replicas of
            one solve share their window (GRU ``a_h = 3, a_r = 1, a_z = 10``: radius sd 0.0022
            over four solves against replica error bars of 0.0005-0.0010).
        progress: called with a line before each point is solved (slow gates take minutes).
        **dmft_options: passed to :func:`~rmtgate.mft.dmft.steady_state`.
    """
    known = {p.name for p in arch.parameters}
    if gain not in known:
        raise ParameterError(expected(f"a parameter of {arch.name} ({sorted(known)})", "gain", gain))
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
        raise ParameterError(expected("a non-empty sequence of gain values", "values", values))
    base = dict(params)
    base.pop(gain, None)
    names = [s.name for s in arch.local_form.state]
    moment = "h" if "h" in names else names[0]
    points: list[ApproachPoint] = []
    warm: dict[str, Any] = {}
    repeats = check_integer(repeats, "repeats", 1)
    for value in values:
        point_params = resolve_parameters(arch, {**base, gain: value})
        if progress is not None:
            progress(f"solving the steady state at {gain} = {point_params[gain]:g} ...")
        start = time.perf_counter()
        spectra = [
            steady_spectrum(arch, point_params, seed=seed + k, size=size, n_angles=n_angles, **warm, **dmft_options)
            for k in range(repeats)
        ]
        points.append(_point(float(point_params[gain]), spectra, moment, time.perf_counter() - start))
        if warm_start:
            state = spectra[0].state
            warm = {"initial": dict(state.C_inputs), "first_lags": max(64, len(state.lags))}
    values_out = resolve_parameters(arch, {**base, gain: values[0]})
    values_out.pop(gain)
    return SteadyApproach(arch.name, gain, values_out, tuple(points), moment)


def approach_figure(
    approach: SteadyApproach,
    path: str | Path,
    *,
    simulated: Mapping[float, tuple[float, float]] | None = None,
    simulated_label: str = "simulation",
    small_networks: Mapping[float, tuple[float, float]] | None = None,
    small_label: str = "simulation N ≤ 2000",
    minimum_gain: float = -math.inf,
) -> Path:
    """``ρ − 1`` against the gain on a log scale: theory with error bars, its fit, and simulation.

    ``simulated`` (and ``small_networks``, drawn fainter: finite-N edges fall short of the
    support) map a gain value to ``(mean max|λ|, its standard error)``.
    """
    from rmtgate.figures import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    gains = np.array([p.gain for p in approach.points])
    excess = np.array([p.excess for p in approach.points])
    errors = np.array([p.spectral_radius_error for p in approach.points])
    ax.errorbar(gains, excess, yerr=errors, fmt="o", color="C0", capsize=3, label="steady-state DMFT theory")
    try:
        fit = approach.fit(minimum_gain=minimum_gain)
    except ParameterError:
        fit = None
    if fit is not None:
        grid = np.linspace(min(fit.gains), max(fit.gains), 50)
        ax.plot(
            grid,
            fit.excess(grid),
            color="C0",
            lw=1,
            label=rf"fit $e^{{-\kappa {approach.gain}}}$, $\kappa$ = {fit.rate:.3f} ± {fit.rate_error:.3f}",
        )
    if simulated:
        sim_gains = np.array(sorted(simulated))
        sim = np.array([simulated[g] for g in sim_gains])
        ax.errorbar(
            sim_gains, sim[:, 0] - 1, yerr=sim[:, 1], fmt="s", mfc="none", color="C3", capsize=3, label=simulated_label
        )
    if small_networks:
        small_gains = np.array(sorted(small_networks))
        small = np.array([small_networks[g] for g in small_gains])
        ax.errorbar(
            small_gains + 0.1,
            small[:, 0] - 1,
            yerr=small[:, 1],
            fmt="^",
            mfc="none",
            color="0.6",
            capsize=2,
            label=small_label,
        )  # shifted right by 0.1 so the error bars do not overlap
    ax.set_yscale("log")
    ax.set_xlabel(f"${approach.gain}$")  # mathtext: a_z renders with its subscript
    ax.set_ylabel(r"$\rho - 1$")
    fixed = ", ".join(f"{k}={v:g}" for k, v in approach.parameters.items() if v != 0)
    ax.set_title(f"{approach.architecture} steady state ({fixed})", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path, dpi=150)
