"""Gated training benchmark: GRU on sequential digits (64 steps), N = 256, batch 100, sequences/s.

Run ``OMP_NUM_THREADS=1 python benchmarks/bench_gated_training.py [--batches 5] [--torch-python /path/to/venv/bin/python]``.
Prints rmtgate's training throughput (forward + BPTT + Adam, numpy, float32 and float64) and the
same training in PyTorch (``nn.GRU`` + linear readout, cross-entropy, Adam, CPU, float32).  PyTorch
is not a dependency of rmtgate: give ``--torch-python`` the interpreter of a throwaway venv with
torch (and numpy); the reference then runs there in a subprocess on the very same minibatches
(passed through a temporary ``.npz``), otherwise it is reported as skipped.

Both sides use one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``) so that they
compare like with like on a shared machine; run them back to back, as here, since the load of
other processes changes absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _batches(n_batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    from rmtgate.training.sequential import load_digits_sequential

    data = load_digits_sequential()
    n = n_batches * batch_size
    idx = np.random.default_rng(0).choice(len(data.y_train), size=n, replace=n > len(data.y_train))
    return data.x_train[idx].reshape(n_batches, batch_size, -1, 1), data.y_train[idx].reshape(n_batches, batch_size)


def rmtgate_sequences_per_second(x: np.ndarray, y: np.ndarray, N: int, dtype: str) -> float:
    import rmtgate
    from rmtgate.training.bptt import Adam
    from rmtgate.training.gated import compile_gated, init_gated, loss_and_gradients

    arch = rmtgate.gru()
    net = init_gated(arch, {"a_h": 2.0, "a_z": 2.0, "a_r": 0.1}, N=N, n_inputs=1, n_classes=10, seed=0)
    model = compile_gated(arch)
    weights = {k: v.astype(dtype) for k, v in net.weights.items()}
    opt = Adam(1e-3)

    def step(b: int) -> None:
        _, grads, _ = loss_and_gradients(model, net.params, weights, x[b].astype(dtype), y[b], net.readout)
        opt.step(np, weights, grads)

    step(0)  # warm-up
    start = time.perf_counter()
    for b in range(len(x)):
        step(b)
    return x.shape[0] * x.shape[1] / (time.perf_counter() - start)


def torch_worker(path: str, N: int) -> None:
    """The PyTorch reference (runs in the torch venv: imports only numpy and torch)."""
    import torch

    torch.set_num_threads(1)
    data = np.load(path)
    x, y = torch.tensor(data["x"], dtype=torch.float32), torch.tensor(data["y"], dtype=torch.long)
    gru = torch.nn.GRU(1, N, batch_first=True)
    readout = torch.nn.Linear(N, 10)
    opt = torch.optim.Adam([*gru.parameters(), *readout.parameters()], lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(b: int) -> None:
        out, _ = gru(x[b])
        loss = loss_fn(readout(out[:, -1]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)
    start = time.perf_counter()
    for b in range(x.shape[0]):
        step(b)
    print(json.dumps({"torch_sequences_per_second": x.shape[0] * x.shape[1] / (time.perf_counter() - start)}))


def torch_sequences_per_second(python: str | None, x: np.ndarray, y: np.ndarray, N: int) -> float | None:
    if python is None:
        try:  # torch in this interpreter (never a dependency of rmtgate)
            import torch  # noqa: F401

            python = sys.executable
        except ImportError:
            return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batches.npz"
        np.savez(path, x=x, y=y)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [python, __file__, "--torch-worker", str(path), "--N", str(N)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["torch_sequences_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--torch-python", default=None, help="python of a venv with torch (the reference)")
    parser.add_argument("--torch-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        torch_worker(args.torch_worker, args.N)
        return
    x, y = _batches(args.batches + 1, args.batch_size)
    results = {
        "N": args.N,
        "batch_size": args.batch_size,
        "steps": int(x.shape[2]),
        "rmtgate_float32": rmtgate_sequences_per_second(x, y, args.N, "float32"),
        "rmtgate_float64": rmtgate_sequences_per_second(x, y, args.N, "float64"),
        "torch_float32": torch_sequences_per_second(args.torch_python, x, y, args.N),
    }
    if results["torch_float32"]:
        results["ratio_float32"] = results["rmtgate_float32"] / results["torch_float32"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
