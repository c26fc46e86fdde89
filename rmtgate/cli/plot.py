"""``rmtgate plot``: a figure from a sweep store (lines for 1-D, heatmap for 2-D)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_plot(args: argparse.Namespace) -> int:
    import xarray as xr

    from rmtgate.sweep.plot import default_quantity, plot_sweep

    dataset = xr.open_zarr(args.path)
    quantity = args.quantity or default_quantity(dataset)
    out = args.out or str(Path(args.path).with_suffix("")) + f"-{quantity}.png"
    print(f"wrote {plot_sweep(dataset, out, quantity)}")
    return 0


def register(subparsers: Any) -> None:
    """Register ``plot PATH [--quantity Q] [--out FILE]``."""
    p = subparsers.add_parser("plot", help="figure from a sweep store (line for 1-D, heatmap for 2-D)")
    p.add_argument("path", help="Zarr store written by 'rmtgate sweep'")
    p.add_argument("--quantity", help="variable to draw (default: the sweep's first quantity)")
    p.add_argument("--out", metavar="FILE", help="PNG/PDF/SVG (default: PATH-QUANTITY.png)")
    p.set_defaults(handler=_cmd_plot)
