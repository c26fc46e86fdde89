"""``rmtgate sweep``: a parameter sweep on Dask into a resumable xarray/Zarr store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rmtgate.cli.common import progress


def _cmd_sweep(args: argparse.Namespace) -> int:
    from rmtgate.sweep.engine import run_sweep
    from rmtgate.sweep.grid import SweepSpec, parse_sweep_parameters
    from rmtgate.symbolic.builtins import resolve_architecture

    arch = resolve_architecture(args.architecture)
    fixed, axes = parse_sweep_parameters(args.param)
    quantities = tuple(q.strip() for q in args.quantity.split(",") if q.strip())
    spec = SweepSpec(
        architecture=arch,
        fixed=fixed,
        axes=tuple(axes),
        quantities=quantities,
        method=args.method,
        seed=args.seed,
        N=args.N,
        steps=args.steps,
        ensemble=args.ensemble,
        near=args.near,
        state=args.state,
        trajectories=args.trajectories,
        samples=args.samples,
        angles=args.angles,
        warm_start=not args.cold,
    )
    bar: Any = None
    failed = 0

    def callback(finished: int, total: int, result: Any) -> None:
        nonlocal bar, failed
        if bar is None:
            bar = progress(iter(()), "sweep", total=total)
            bar.update(finished)  # points already in the store (resumed run)
            return
        bar.update(1)
        if result is not None and result.error:
            failed += 1

    dataset = run_sweep(spec, args.out, scheduler=args.scheduler, workers=args.workers, callback=callback)
    if bar is not None:
        bar.close()
    done = int(dataset["done"].sum())
    print(f"{args.out}: {done}/{spec.size} points stored ({failed} failed in this run)")
    if failed:
        print("failed points are NaN; see the 'error' variable", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Register ``sweep ARCH -p ... --quantity Q --out PATH``."""
    p = subparsers.add_parser("sweep", help="parameter sweep on Dask into a resumable xarray/Zarr store")
    p.add_argument("architecture", help="built-in name or spec.toml")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE|NAME=START:STOP:NUM",
        help="fixed value or swept axis (repeat; swept axes become dimensions in this order)",
    )
    p.add_argument(
        "--quantity",
        required=True,
        help="comma-separated: spectral_radius, C_h, fraction_near_1, stable_fixed_points, a_r_star",
    )
    p.add_argument("--out", required=True, metavar="PATH", help="Zarr store (created, or resumed if it exists)")
    p.add_argument("--method", choices=("theory", "simulation"), default="theory")
    p.add_argument("--state", choices=("steady", "zero"), default="steady", help="theory statistics (default steady)")
    p.add_argument("--N", type=int, default=200, help="network size for --method simulation (default 200)")
    p.add_argument("--steps", type=int, default=500, help="simulation steps (default 500)")
    p.add_argument("--ensemble", type=int, default=1, help="networks per point (default 1)")
    p.add_argument("--trajectories", type=int, default=1000, help="DMFT single-site paths (default 1000)")
    p.add_argument("--samples", type=int, default=2000, help="steady-state draws for the boundary (default 2000)")
    p.add_argument("--angles", type=int, default=360, help="rays of the spectral curve (default 360)")
    p.add_argument("--near", type=float, default=0.05, help="radius around λ=1 for fraction_near_1 (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="root seed; point i uses SeedSequence(seed) child i")
    p.add_argument(
        "--cold",
        action="store_true",
        help="solve every steady-state point from scratch (default: from the previous point along the last axis)",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--workers", type=int, help="local cluster processes (default min(cores, 4); 0: no Dask)")
    p.set_defaults(handler=_cmd_sweep)
