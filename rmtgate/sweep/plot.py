"""Figures from a sweep store: lines for a 1-D sweep, a heatmap with colour bar for a 2-D one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.figures import _pyplot, save_figure

#: axis labels of quantities (LaTeX), the rest use their name
LABELS = {
    "spectral_radius": r"spectral radius $\max|\lambda|$",
    "C_h": r"$C_h = \langle h^2 \rangle$",
    "fraction_near_1": r"fraction of eigenvalues with $|\lambda - 1| < r$",
    "stable_fixed_points": "stable fixed points",
    "a_r_star": r"$a_r^*$",
}


def _tex(name: str) -> str:
    """``a_h`` → ``$a_{h}$`` for parameter names (plain text otherwise)."""
    head, sep, tail = name.partition("_")
    return f"${head}_{{{tail}}}$" if sep and head.isalpha() and len(head) <= 2 else name


def default_quantity(dataset: Any) -> str:
    """The first quantity the sweep recorded."""
    return json.loads(dataset.attrs.get("settings", "{}")).get("quantities", [None])[0] or next(
        name for name in dataset.data_vars if name != "done"
    )


def plot_sweep(dataset: Any, path: str | Path, quantity: str | None = None) -> Path:
    """Draw ``quantity`` of a sweep dataset (1-D: line with points; 2-D: heatmap + colour bar).

    Points not yet computed or failed are NaN and show as gaps.  Returns the written path.
    """
    quantity = quantity or default_quantity(dataset)
    if quantity not in dataset.data_vars:
        raise ParameterError(expected(f"a variable of the store ({sorted(dataset.data_vars)})", "quantity", quantity))
    data = dataset[quantity].load()
    plt = _pyplot()
    label = LABELS.get(quantity, quantity)
    title = f"{dataset.attrs.get('architecture', '')} ({dataset.attrs.get('method', '')})"
    fixed = json.loads(dataset.attrs.get("fixed_parameters", "{}"))
    if fixed:
        title += ": " + ", ".join(f"{_tex(k)}={v:g}" for k, v in fixed.items())
    if data.ndim == 1:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        dim = data.dims[0]
        x = np.asarray(data[dim], dtype=float)
        ax.plot(x, data.values, "o-", markersize=3)
        error = dataset.get(f"{quantity}_mc_error")
        if error is not None and np.isfinite(error.values).any():
            ax.fill_between(x, data.values - error.values, data.values + error.values, alpha=0.3, lw=0)
        ax.set_xlabel(_tex(dim))
        ax.set_ylabel(label)
    elif data.ndim == 2:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ydim, xdim = data.dims
        mesh = ax.pcolormesh(
            np.asarray(data[xdim], dtype=float), np.asarray(data[ydim], dtype=float), data.values, shading="nearest"
        )
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_xlabel(_tex(xdim))
        ax.set_ylabel(_tex(ydim))
    else:
        raise ParameterError(expected("a 1-D or 2-D sweep to plot", "dimensions", list(data.dims)))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
