"""``rmtgate train digits``: a gated network (GRU, LSTM, any spec) on sequential digits ([G] App. H).

Kept apart from :mod:`rmtgate.cli.train` (the rate-network tasks of [S]) so that the two share
only the ``train`` command name; :func:`add_arguments` adds this command's options to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rmtgate.cli.common import emit_json
from rmtgate.numerics.parameters import parse_parameters
from rmtgate.symbolic.builtins import resolve_architecture

GATED_TASKS = ("digits",)
DEFAULT_EPOCHS = 15  # [G] App. H
DEFAULT_LR = 1e-2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``train digits`` (ignored by the rate-network tasks)."""
    group = parser.add_argument_group("gated networks (task 'digits')")
    group.add_argument("--arch", default="gru", help="architecture: gru, lstm, a built-in or a TOML spec (default gru)")
    group.add_argument("--batch-size", type=int, default=100, help="minibatch size (default 100, [G] App. H)")
    group.add_argument(
        "--data",
        type=Path,
        default=None,
        help="your own sequential data (.npz with x_train, y_train, x_test, y_test; "
        "x as (n, 784) or (n, 28, 28) for sequential MNIST); default: the bundled 8x8 digits, 64 steps",
    )
    group.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    group.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip (default 1; 0 turns it off)")
    group.add_argument(
        "--lowrank", action="store_true", help="add [S]'s analyses: SVs of each ΔU_k, truncation curve, functional rank"
    )


def cmd_train_digits(args: argparse.Namespace) -> int:
    """Handler of ``rmtgate train digits``."""
    from rmtgate.training.sequential import load_digits_sequential, load_npz, train_gated

    arch = resolve_architecture(args.arch)
    params = parse_parameters([part for item in args.param or [] for part in item.split(",")])
    data = load_npz(args.data) if args.data is not None else load_digits_sequential()

    def progress(epoch: int, loss: float, accuracy: float) -> None:
        if not args.json:
            print(f"epoch {epoch:4d}  loss {loss:.4f}  train accuracy {accuracy:.3f}", file=sys.stderr)

    run = train_gated(
        arch,
        params,
        data,
        N=args.N,
        epochs=args.epochs if args.epochs is not None else DEFAULT_EPOCHS,
        batch_size=args.batch_size,
        lr=args.lr if args.lr is not None else DEFAULT_LR,
        seed=args.seed,
        clip=args.clip or None,
        backend=args.backend,
        dtype=args.dtype,
        progress=progress,
    )
    summary: dict[str, Any] = run.summary()
    if args.lowrank:
        from rmtgate.training.gated_lowrank import analyse

        summary["lowrank"] = analyse(run, data)
    if args.json:
        emit_json(summary)
    else:
        for key in ("train_accuracy", "test_accuracy", "epochs_to_75", "seconds"):
            print(f"{key}: {summary[key]}")
    return 0
