"""Control variates for the DMFT's Monte Carlo map: Hermite moments of its Gaussian fields.

The single-site process is driven by Gaussian fields whose covariance the runner knows exactly
(:func:`~rmtgate.mft.single_site.realized_covariance`), so for ``u = η_k / σ_k`` the
empirical autocovariance of ``He_n(u)`` (probabilists' Hermite polynomial) has the known mean
``n! ρ_k(τ)^n`` (Mehler's formula), and each path's own mean of ``He_n(u)`` has mean 0.
Every measured autocovariance is regressed, lag by lag, on these control variates across
paths (centred within each replica; each replica's coefficients fitted on the other
replicas' paths) and corrected by ``β·(X̄ − μ)``: the part of its Monte Carlo noise that the
fields' own sampling noise explains is removed, and its mean is unchanged because ``β`` is
independent of the paths it corrects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rmtgate.mft.single_site import SingleSiteRunner, autocovariance, realized_covariance

#: Hermite orders used per field (each as a lag-by-lag autocovariance and as a per-path mean).  GRU a_h = 3, a_z = a_r = 1, 2048 paths, seeds 0-3: the
#: noise of one map evaluation is 0.004-0.007 without control variates and 0.0012-0.0013 with
#: He_1 alone or with He_1..He_3, but the self-consistent C_h(0) spreads over seeds with a
#: standard deviation of 0.48 % (He_1), 0.37 % (He_1, He_3) and 0.17 % (He_1..He_3)
ORDERS: tuple[int, ...] = (1, 2, 3)
#: lags × paths above which a window goes without control variates (memory: 8 bytes each, per variate)
MAX_ELEMENTS = 1 << 22
#: groups of paths per replica for the standard error of one evaluation
GROUPS = 8


@dataclass(frozen=True)
class Controls:
    """Per-path control variates centred within each replica, lag-major ``centred (lags, p, M)``,
    their exact means ``means (p, R, lags)``, and what every regression on them shares: their
    Gram matrix per replica and lag ``(R, lags, p, p)`` (one evaluation regresses several
    autocovariances on the same controls).  Lag-major, every product over the paths is one
    batched matrix product (BLAS) rather than an ``einsum`` loop."""

    means: np.ndarray
    centred: np.ndarray
    grams: np.ndarray
    #: ``X̄ − μ`` per replica ``(R, p, lags)`` and per group of paths within it ``(R, G, p, lags)``
    offsets: np.ndarray
    group_offsets: np.ndarray


def _group_means(values: np.ndarray, runner: SingleSiteRunner, r: int) -> np.ndarray:
    """Means over each of the :data:`GROUPS` groups of replica ``r``'s paths (last axis): ``(G, ...)``."""
    sl = runner.replica_slice(r)
    starts = [int(g[0]) for g in np.array_split(np.arange(sl.stop - sl.start), GROUPS)]
    counts = np.diff([*starts, sl.stop - sl.start])
    sums = np.add.reduceat(values[..., sl], starts, axis=-1)
    return np.moveaxis(sums / counts, -1, 0)


def hermite_controls(
    runner: SingleSiteRunner,
    fields: Sequence[np.ndarray | None],
    covs: Sequence[Mapping[str, np.ndarray]],
    lags: int,
    skip: set[int] | frozenset[int] = frozenset(),
) -> Controls | None:
    """The control variates of one map evaluation (None when the window is too long for them).

    Fields whose index is in ``skip`` get none (a free gate averaged exactly), nor do fields
    that are None (not simulated).
    """
    if lags * runner.M > MAX_ELEMENTS:
        return None
    replica_of_path = np.repeat(np.arange(runner.replicas), runner.per_replica)
    values: list[np.ndarray] = []  # each (lags, M), or (M,) for a per-path mean (the same at every lag)
    means = []
    for k, eta in enumerate(fields):
        if k in skip or eta is None:  # None: a field the runner did not simulate
            continue
        realized = [realized_covariance(runner.field_covariance(k, cov), runner.fft_size)[:lags] for cov in covs]
        variance = np.array([float(c[0]) for c in realized])
        if not np.all(variance > 0):
            continue  # a field at rest carries no noise to remove
        # single precision, as the autocovariance transforms take them anyway (half the memory traffic)
        u = np.empty(eta.shape, dtype=np.float32)
        np.multiply(eta, (1.0 / np.sqrt(variance))[replica_of_path][None, :], out=u, casting="same_kind")
        rho = np.stack([c / c[0] for c in realized])  # (R, lags)
        for n in ORDERS:
            if n == 1:
                hermite = u
            elif n == 2:
                hermite = u * u - np.float32(1.0)
            else:
                hermite = u * (u * u - np.float32(3.0))
            values.append(autocovariance(hermite, lags))
            means.append(math.factorial(n) * rho**n)
            # the path's own mean of He_n (exactly 0 in expectation) explains what a lag-by-lag
            # control cannot: a state is a filtered sum of its fields over many steps
            values.append(hermite.mean(axis=0, dtype=np.float64))
            means.append(np.zeros_like(rho))
    if not values:
        return None
    X = np.empty((lags, len(values), runner.M))
    for i, value in enumerate(values):
        X[:, i, :] = value
    mu = np.stack(means)  # (p, R, lags)
    replicas = range(runner.replicas)
    slices = [runner.replica_slice(r) for r in replicas]
    means_r = [X[:, :, sl].mean(axis=2) for sl in slices]  # (lags, p) each
    offsets = np.stack([m.T - mu[:, r] for r, m in zip(replicas, means_r, strict=True)])
    group_offsets = np.stack([np.moveaxis(_group_means(X, runner, r), 1, 2) - mu[None, :, r] for r in replicas])
    centred = X  # centred in place: the raw values are not needed any more
    for sl, m in zip(slices, means_r, strict=True):
        centred[:, :, sl] -= m[:, :, None]
    grams = np.stack([centred[..., sl] @ centred[..., sl].transpose(0, 2, 1) for sl in slices])
    return Controls(mu, centred, grams, offsets, group_offsets)


def _cross_fitted(grams: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """Regression coefficients ``(R, lags, p)``: replica ``r``'s fitted on the other replicas' paths.

    A coefficient fitted on the paths it corrects is correlated with their noise (a bias of
    order ``p/M``), and one shared by the replicas couples their maps, whose spread is the
    error bar.  Fitted on the other replicas, it is independent of the paths it corrects; with
    a single replica, it is fitted on its own paths.
    """
    R = len(grams)
    total_gram, total_moment = grams.sum(axis=0), moments.sum(axis=0)
    out = np.empty_like(moments)
    for r in range(R):
        gram = total_gram - grams[r] if R > 1 else total_gram
        moment = total_moment - moments[r] if R > 1 else total_moment
        gram = gram + (1e-10 * np.trace(gram, axis1=1, axis2=2)[:, None, None] + 1e-300) * np.eye(gram.shape[-1])
        out[r] = np.linalg.solve(gram, moment[..., None])[..., 0]
    return out


def corrected_autocovariances(
    runner: SingleSiteRunner, acf: np.ndarray, controls: Controls | None
) -> tuple[list[np.ndarray], float]:
    """Per-replica means of the per-path autocovariances ``acf (lags, M)``, and their largest standard error.

    With ``controls`` each mean is corrected by the fitted control variates; the standard error
    comes from :data:`GROUPS` groups of paths per replica, corrected the same way.
    """
    slices = [runner.replica_slice(r) for r in range(runner.replicas)]
    betas = None
    if controls is not None:
        moments = np.stack(
            [
                (controls.centred[..., sl] @ (acf[:, sl] - acf[:, sl].mean(axis=1, keepdims=True))[:, :, None])[..., 0]
                for sl in slices
            ]
        )  # (R, lags, p)
        betas = _cross_fitted(controls.grams, moments)

    means, noise = [], 0.0
    for r, sl in enumerate(slices):
        mean = acf[:, sl].mean(axis=1)  # (lags,)
        groups = _group_means(acf, runner, r)  # (G, lags)
        if betas is not None and controls is not None:
            mean = mean - np.einsum("lp,pl->l", betas[r], controls.offsets[r])
            groups = groups - np.einsum("lp,gpl->gl", betas[r], controls.group_offsets[r])
        means.append(mean)
        noise = max(noise, float(np.max(groups.std(axis=0, ddof=1))) / math.sqrt(GROUPS))
    return means, noise


def replica_autocovariances(
    runner: SingleSiteRunner, paths: np.ndarray, lags: int, controls: Controls | None = None
) -> tuple[list[np.ndarray], float]:
    """Autocovariance of ``paths (steps, M)`` within each replica (control-variate corrected), and its noise."""
    return corrected_autocovariances(runner, autocovariance(paths, lags), controls)
