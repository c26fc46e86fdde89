"""Training benchmark: flip-flop, N = 256, batch 32, epochs per second (BPTT + Adam, float64).

Run ``python benchmarks/bench_training.py [--epochs E] [--N 256 ...]``.  Prints rmtgate's
epochs/s on numpy (and on cupy for N in {256, 1024, 4096} when CuPy and a GPU are usable), and
the same training written in PyTorch (CPU, float64, autograd through the same unrolled loop) when
``torch`` is importable.  PyTorch is not a dependency of rmtgate: install it in a throwaway venv to
get the baseline; otherwise the baseline is reported as skipped.

OpenBLAS spins its worker threads: for these small (32×256 @ 256×256) products one thread is
fastest when other processes hold cores; set ``OPENBLAS_NUM_THREADS`` (and torch's threads)
to compare like with like.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from rmtgate.errors import BackendUnavailable
from rmtgate.simulation.backends import get_backend
from rmtgate.training.bptt import train
from rmtgate.training.tasks import generate


def rmtgate_epochs_per_second(N: int, epochs: int, backend: str = "numpy") -> float:
    train("flipflop", g=0.9, N=N, epochs=2, backend=backend)  # warm-up (imports, device context)
    start = time.perf_counter()
    train("flipflop", g=0.9, N=N, epochs=epochs, backend=backend)
    if backend == "cupy":
        get_backend("cupy").xp.cuda.Device().synchronize()
    return epochs / (time.perf_counter() - start)


def torch_epochs_per_second(N: int, epochs: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(0)
    W = torch.tensor(rng.standard_normal((N, N)) * 0.9 / math.sqrt(N), requires_grad=True)
    m = torch.tensor(rng.standard_normal((N, 2)) / math.sqrt(N), requires_grad=True)
    w = torch.tensor(rng.standard_normal((N, 2)), requires_grad=True)
    opt = torch.optim.Adam([W, m, w], lr=0.05 / N)
    data = np.random.default_rng(1)
    dt = 0.5

    def epoch() -> None:
        b = generate("flipflop", 32, seed=data)
        u = torch.tensor(b.inputs)
        target = torch.tensor(b.targets)
        mask = torch.tensor(b.mask, dtype=torch.float64)
        x = torch.zeros(32, N)
        r = torch.tanh(x)
        outs = []
        for k in range(u.shape[1]):
            x = (1 - dt) * x + dt * (r @ W.T + math.sqrt(N) * u[:, k] @ m.T)
            r = torch.tanh(x)
            outs.append(r @ w / N)
        z = torch.stack(outs, 1)
        weights = mask / (32 * 2 * mask.sum(1, keepdim=True).clamp(min=1))
        loss = 0.5 * (weights[:, :, None] * (z - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--N", type=int, nargs="*", default=[256])
    args = parser.parse_args()
    for N in args.N:
        ours = rmtgate_epochs_per_second(N, args.epochs)
        print(f"rmtgate numpy  N={N:5d} batch 32: {ours:8.2f} epochs/s")
        theirs = torch_epochs_per_second(N, args.epochs)
        if theirs is None:
            print("PyTorch baseline skipped: torch is not importable (not an rmtgate dependency)")
        else:
            print(f"PyTorch CPU    N={N:5d} batch 32: {theirs:8.2f} epochs/s  (rmtgate/PyTorch = {ours / theirs:.2f}x)")
    try:
        get_backend("cupy")
    except BackendUnavailable as error:
        print(f"cupy skipped: {error}")
        return
    for N in (256, 1024, 4096):
        print(f"rmtgate cupy   N={N:5d} batch 32: {rmtgate_epochs_per_second(N, args.epochs, 'cupy'):8.2f} epochs/s")


if __name__ == "__main__":
    main()
