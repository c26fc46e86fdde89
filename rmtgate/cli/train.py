"""``rmtgate train``: train a rate network on a task of [S]."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.cli.common import emit_json, progress_bar, show_progress
from rmtgate.cli.train_gated import GATED_TASKS, add_arguments, cmd_train_digits
from rmtgate.errors import ParameterError, expected
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.training.bptt import train
from rmtgate.training.tasks import EPOCH_BUDGET, get_task
from rmtgate.validation import check_integer

#: why ``functional_rank`` can be -1, said in the output instead of left to the reader
RANK_NOTE = (
    "-1: no rank-r truncation of ΔW (r = 0 … N) brought the loss below 5% of the initial network's "
    "loss, i.e. the run did not learn the task well enough for a functional rank to exist"
)


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
    N = check_integer(args.N, "--N", 1)
    if args.epochs is not None:
        check_integer(args.epochs, "--epochs", 0)
    check_integer(args.eval_batch, "--eval-batch", 1)
    task = get_task(args.task)
    linear = task.name == "simple" and not args.nonlinear
    start = time.perf_counter()
    epochs = args.epochs if args.epochs is not None else EPOCH_BUDGET.get(task.name)
    bar = progress_bar(f"train {task.name}", total=epochs, quiet=args.quiet)
    lines = not args.quiet and not args.json and not show_progress()

    def progress(epoch: int, value: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4g}")
        if lines and (epoch % max(1, args.report_every) == 0):
            # no terminal: a line every --report-every epochs instead of a bar
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
    bar.close()
    if args.out:
        run.save(args.out)
    if not args.quiet:
        print("computing the functional rank ...", file=sys.stderr)
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
        "functional_rank_note": RANK_NOTE if rank < 0 else None,
        "delta_w_singular_values": [float(s) for s in sv[:10]],
        "delta_w_norm": float(np.linalg.norm(run.delta_W)),
        "w_norm": float(np.linalg.norm(run.final.W)),
        "seconds": time.perf_counter() - start,
        "out": str(args.out) if args.out else None,
    }
    if args.json:
        emit_json(summary)
    else:
        for key, value in summary.items():
            if value is not None or key != "functional_rank_note":
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
    parser.add_argument(
        "--report-every",
        type=int,
        default=100,
        help="progress line every this many epochs (when stderr is not a terminal)",
    )
    parser.add_argument("--out", type=Path, default=None, help="save the run (.npz)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_arguments(parser)
    parser.set_defaults(handler=cmd_train)
