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
    """Per-path control variates ``values (p, lags, M)``, their exact means ``means (p, R, lags)``,
    and what every regression on them shares: the values centred within each replica and their
    Gram matrix per replica and lag ``(R, lags, p, p)`` (one evaluation regresses several
    autocovariances on the same controls)."""

    values: np.ndarray
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
    fields: Sequence[np.ndarray],
    covs: Sequence[Mapping[str, np.ndarray]],
    lags: int,
    skip: set[int] | frozenset[int] = frozenset(),
) -> Controls | None:
    """The control variates of one map evaluation (None when the window is too long for them).

    Fields whose index is in ``skip`` get none (a free gate averaged exactly).
    """
    if lags * runner.M > MAX_ELEMENTS:
        return None
    replica_of_path = np.repeat(np.arange(runner.replicas), runner.per_replica)
    values, means = [], []
    for k, eta in enumerate(fields):
        if k in skip:
            continue
        realized = [realized_covariance(runner.field_covariance(k, cov), runner.fft_size)[:lags] for cov in covs]
        variance = np.array([float(c[0]) for c in realized])
        if not np.all(variance > 0):
            continue  # a field at rest carries no noise to remove
        u = eta / np.sqrt(variance)[replica_of_path][None, :]
        rho = np.stack([c / c[0] for c in realized])  # (R, lags)
        for n in ORDERS:
            if n == 1:
                hermite = u
            elif n == 2:
                hermite = u * u - 1.0
            else:
                hermite = u * (u * u - 3.0)
            values.append(autocovariance(hermite, lags))
            means.append(math.factorial(n) * rho**n)
            # the path's own mean of He_n (exactly 0 in expectation) explains what a lag-by-lag
            # control cannot: a state is a filtered sum of its fields over many steps
            values.append(np.broadcast_to(hermite.mean(axis=0), (lags, runner.M)))
            means.append(np.zeros_like(rho))
    if not values:
        return None
    replicas = range(runner.replicas)
    X = np.stack(values)
    centred = np.empty_like(X)
    for r in replicas:
        sl = runner.replica_slice(r)
        centred[:, :, sl] = X[:, :, sl] - X[:, :, sl].mean(axis=2, keepdims=True)
    grams = np.stack(
        [np.einsum("plm,qlm->lpq", centred[..., sl], centred[..., sl]) for sl in map(runner.replica_slice, replicas)]
    )
    mu = np.stack(means)  # (p, R, lags)
    offsets = np.stack([X[:, :, runner.replica_slice(r)].mean(axis=2) - mu[:, r] for r in replicas])
    group_offsets = np.stack([_group_means(X, runner, r) - mu[None, :, r] for r in replicas])
    return Controls(X, mu, centred, grams, offsets, group_offsets)


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
                np.einsum("plm,lm->lp", controls.centred[..., sl], acf[:, sl] - acf[:, sl].mean(axis=1, keepdims=True))
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
