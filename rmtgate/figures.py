"""Figures: predicted spectral curves (red) over simulated eigenvalues (black), as [G Fig. 1, 3]."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.curves import SpectralCurve


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def parameter_title(name: str, params: Mapping[str, float], keys: Sequence[str] | None = None) -> str:
    shown = keys if keys is not None else sorted(k for k in params if k.startswith("a_"))
    parts = [f"${k.replace('_', '_{') + '}'}$={params[k]:g}" for k in shown if k in params]
    return f"{name}: " + ", ".join(parts)


def draw_spectrum(
    ax: Any,
    curve: SpectralCurve,
    eigenvalues: np.ndarray | None = None,
    *,
    title: str = "",
    unit_circle: bool = True,
) -> None:
    """Draw one panel: eigenvalues as black dots, the predicted edge in red."""
    if eigenvalues is not None:
        values = np.asarray(eigenvalues).reshape(-1)
        ax.plot(values.real, values.imag, ".", color="black", markersize=1.5, alpha=0.6, label="simulation")
    outer = curve.outer
    if outer.size:
        closed = np.concatenate([outer, outer[:1]])
        ax.plot(closed.real, closed.imag, "-", color="red", linewidth=1.2, label="theory")
    inner = [
        curve.center + r[:-1] * np.exp(1j * a) for a, r in zip(curve.angles, curve.crossings, strict=True) if r.size > 1
    ]
    if inner:
        points = np.concatenate(inner)
        ax.plot(points.real, points.imag, ".", color="red", markersize=1.0)
    if unit_circle:
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), "--", color="0.6", linewidth=0.8)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if title:
        ax.set_title(title, fontsize=9)


def supported_formats() -> tuple[str, ...]:
    """File extensions matplotlib can write here (``png``, ``pdf``, ``svg``, ...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return tuple(sorted(FigureCanvasAgg(Figure()).get_supported_filetypes()))


def check_figure_path(path: str | Path) -> Path:
    """``path`` as a :class:`Path` if a figure can be written there, else :class:`ParameterError`.

    Called by :func:`save_figure` and, before any long computation, by the command line, so a
    typo in ``--plot`` costs nothing.  The folder must already exist: creating a directory
    tree from a mistyped path would hide the mistake and scatter folders.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    formats = supported_formats()
    if suffix not in formats:
        raise ParameterError(
            expected(f"a figure file ending in one of {', '.join('.' + f for f in formats)}", "path", str(path))
        )
    parent = path.parent
    if not parent.exists():
        raise ParameterError(
            expected(f"an existing directory for the figure ({parent} does not exist)", "path", str(path))
        )
    if not parent.is_dir():
        raise ParameterError(expected(f"a path inside a directory ({parent} is not a directory)", "path", str(path)))
    if path.is_dir():
        raise ParameterError(expected("a file name, not a directory", "path", str(path)))
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ParameterError(
            expected(f"a writable location ({path if path.exists() else parent} is not writable)", "path", str(path))
        )
    return path


def save_figure(fig: Any, path: str | Path, **savefig: Any) -> Path:
    """Lay out, write and close a matplotlib figure (the one place figures reach the disk).

    Raises :class:`ParameterError` for an unsupported extension, a missing or unwritable
    folder (checked by :func:`check_figure_path`), or an OS error while writing.
    """
    plt = _pyplot()
    try:
        path = check_figure_path(path)
        fig.tight_layout()
        try:
            fig.savefig(path, **savefig)
        except OSError as err:
            raise ParameterError(
                expected(f"a writable figure path ({err.strerror or err})", "path", str(path))
            ) from None
    finally:
        plt.close(fig)
    return path


def save_spectrum(
    path: str | Path,
    curve: SpectralCurve,
    eigenvalues: np.ndarray | None = None,
    *,
    title: str = "",
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=150)
    draw_spectrum(ax, curve, eigenvalues, title=title)
    if eigenvalues is not None:
        ax.legend(loc="upper right", fontsize=7)
    return save_figure(fig, path)


def save_panels(
    path: str | Path,
    panels: Sequence[tuple[SpectralCurve, np.ndarray | None, str]],
    *,
    columns: int = 4,
) -> Path:
    plt = _pyplot()
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), dpi=150, squeeze=False)
    for ax, (curve, eigenvalues, title) in zip(axes.flat, panels, strict=False):
        draw_spectrum(ax, curve, eigenvalues, title=title)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    return save_figure(fig, path)


def save_density(
    path: str | Path,
    x: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    curve: SpectralCurve | None = None,
    eigenvalues: np.ndarray | None = None,
    *,
    atoms: Sequence[tuple[complex, float]] = (),
    title: str = "",
) -> Path:
    """The density ``mu[i, j]`` at ``x[j] + i y[i]`` as an image, the edge in red, eigenvalues and atoms on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 4.2), dpi=150)
    dx, dy = (x[1] - x[0]) / 2, (y[1] - y[0]) / 2
    image = ax.imshow(
        mu,
        origin="lower",
        extent=(x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy),
        cmap="viridis",
        interpolation="nearest",
        vmin=0.0,
        vmax=float(np.quantile(mu[mu > 0], 0.995)) if np.any(mu > 0) else 1.0,
    )
    fig.colorbar(image, ax=ax, label=r"$\mu(\lambda)$ per eigenvalue", shrink=0.85)
    if eigenvalues is not None:
        values = np.asarray(eigenvalues).reshape(-1)
        ax.plot(values.real, values.imag, ".", color="white", markersize=1.0, alpha=0.5, label="simulation")
    if curve is not None and curve.outer.size:
        closed = np.concatenate([curve.outer, curve.outer[:1]])
        ax.plot(closed.real, closed.imag, "-", color="red", linewidth=1.0, label="edge")
    for location, weight in atoms:
        ax.plot([location.real], [location.imag], "x", color="orange", markersize=6, label=f"atom {weight:.3g}")
    ax.set_xlim(x[0] - dx, x[-1] + dx)
    ax.set_ylim(y[0] - dy, y[-1] + dy)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.legend(loc="upper right", fontsize=6)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
