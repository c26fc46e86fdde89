"""``rmtgate train``: train a rate network on a task of [S]."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.cli.train_gated import GATED_TASKS, add_arguments, cmd_train_digits
from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.training.bptt import train
from rmtgate.training.tasks import get_task


def _parse_params(items: list[str] | None) -> dict[str, float]:
    """``-p g=0.9`` (also ``-p g=0.9,x=1``): the shared parser, restricted to ``g``."""
    out = parse_parameters([part for item in items or [] for part in item.split(",")])
    unknown = set(out) - {"g"}
    if unknown:
        raise ParameterError(expected("the parameter g", "parameter", sorted(unknown)[0]))
    return out


def cmd_train(args: argparse.Namespace) -> int:
    """Handler of ``rmtgate train``."""
    from rmtgate.training.lowrank import functional_rank

    if args.task in GATED_TASKS:
        return cmd_train_digits(args)
    params = _parse_params(args.param)
    g = params.get("g", 0.0)
    N = args.N
    if N is not None and N < 1:
        raise ParameterError(expected("an integer N >= 1", "N", N))
    task = get_task(args.task)
    linear = task.name == "simple" and not args.nonlinear
    start = time.perf_counter()

    def progress(epoch: int, value: float) -> None:
        if not args.json and (epoch % max(1, args.report_every) == 0):
            print(f"epoch {epoch:6d}  loss {value:.6g}  ({time.perf_counter() - start:.1f} s)", file=sys.stderr)

    kwargs: dict[str, Any] = {}
    if linear:
        eta = args.lr if args.lr is not None else 0.015 * (1 - g * g) ** 2 if g < 1 else 1e-3
        kwargs = {"optimizer": "gd", "trained": ("W",), "nonlinearity": "linear", "lr": eta, "batch_size": 1}
    elif args.lr is not None:
        kwargs["lr"] = args.lr
    run = train(
        task,
        g=g,
        N=N,
        epochs=args.epochs,
        seed=args.seed,
        backend=args.backend,
        progress=progress,
        **kwargs,
    )
    if args.out:
        run.save(args.out)
    rank = functional_rank(run, batch_size=args.eval_batch, seed=args.seed + 2)
    sv = np.linalg.svd(run.delta_W, compute_uv=False)
    summary = {
        "task": task.name,
        "g": g,
        "N": N,
        "epochs": run.settings["epochs_run"],
        "loss_initial": run.loss_initial,
        "loss_final": run.loss_final,
        "functional_rank": rank,
        "delta_w_singular_values": [float(s) for s in sv[:10]],
        "delta_w_norm": float(np.linalg.norm(run.delta_W)),
        "w_norm": float(np.linalg.norm(run.final.W)),
        "seconds": time.perf_counter() - start,
        "out": str(args.out) if args.out else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def register(subparsers: Any) -> None:
    """Register ``train TASK -p g=... --N ... --epochs ... [--backend] [--out FILE.npz] [--json]``."""
    parser = subparsers.add_parser("train", help="train a rate network on a task of [S] (BPTT, Adam / GD)")
    parser.add_argument(
        "task", help="flipflop, mante, romo or simple (simple trains the linear model); digits: a gated network"
    )
    parser.add_argument("-p", "--param", action="append", help="parameters NAME=VALUE (g=0.9)")
    parser.add_argument("--N", type=int, default=256, help="network size (default 256)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the budget of [S])")
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default 0.05/N; linear: η0(1-g²)²; digits: 1e-2)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--nonlinear", action="store_true", help="simple task with tanh and Adam")
    parser.add_argument("--eval-batch", type=int, default=512, help="trials for the truncation losses")
    parser.add_argument("--report-every", type=int, default=100, help="progress line every this many epochs")
    parser.add_argument("--out", type=Path, default=None, help="save the run (.npz)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    add_arguments(parser)
    parser.set_defaults(handler=cmd_train)
