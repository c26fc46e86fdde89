"""Sequential classification with gated networks: data sets and the training loop ([G] App. H).

[G] App. H trains a GRU (N = 256, zero biases, ``a_r = 0.1``, batch 100, 15 epochs) on
sequential MNIST: one pixel per step, 784 steps, the class read out after the last step.
MNIST cannot be downloaded here, so the default data set is a scaled-down sequential MNIST:
the 8×8 digits bundled with scikit-learn (1797 images, one pixel per step, 64 steps), split
80/20 into training and test sets with a fixed seed.  A user's own sequential MNIST is read
from an ``.npz`` file (:func:`load_npz`, keys documented there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError, ParameterError, expected
from rmtgate.simulation.backends import Backend, get_backend
from rmtgate.symbolic.architecture import Architecture
from rmtgate.training.bptt import Adam
from rmtgate.training.gated import GatedNetwork, compile_gated, init_gated, logits_of, loss_and_gradients
from rmtgate.validation import check_integer, check_positive, check_real

TARGET_ACCURACY = 0.75  # [G] Fig. 4 (middle): epochs to reach 75 % training accuracy


@dataclass(frozen=True)
class SequenceData:
    """A sequence classification data set: ``x (n, T, n_in)`` float, ``y (n,)`` integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def steps(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[2])

    def subset(self, n_train: int, n_test: int | None = None) -> SequenceData:
        """The first ``n_train`` training and ``n_test`` test sequences (for quick runs)."""
        n_test = len(self.y_test) if n_test is None else n_test
        return SequenceData(
            self.name,
            self.x_train[:n_train],
            self.y_train[:n_train],
            self.x_test[:n_test],
            self.y_test[:n_test],
            self.n_classes,
        )


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # one global mean/scale from the training set: keeps the pixel stream's relative values and
    # gives inputs of unit variance, so the input matrices' scale means what it says
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def load_digits_sequential(*, test_fraction: float = 0.2, split_seed: int = 0) -> SequenceData:
    """scikit-learn's 8×8 digits as 64-step pixel sequences (the scaled-down sequential MNIST).

    Pixels are read row by row, one per step; the split is a seeded permutation.  Raises
    :class:`ParameterError` when scikit-learn is missing (install it, or use :func:`load_npz`).
    """
    test_fraction = check_real(test_fraction, "test_fraction", minimum=0.01, maximum=0.99, what="a fraction in (0, 1)")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ParameterError(
            "the bundled digits need scikit-learn (`pip install 'rmtgate[digits]'`); or pass --data FILE.npz"
        ) from None
    digits = load_digits()
    x = digits.data.astype(float)[:, :, None] / 16.0  # (1797, 64, 1)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(split_seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = _standardize(x[train], x[test])
    return SequenceData("digits", x_train, y[train], x_test, y[test], 10)


def load_npz(path: str | Path) -> SequenceData:
    """A user's sequence data set from ``.npz``.

    Keys: ``x_train``, ``y_train``, ``x_test``, ``y_test``.  ``x_*`` are ``(n, T)`` (one value per
    step, e.g. ``(n, 784)`` for sequential MNIST), ``(n, H, W)`` images (square, ``H = W >= 8``; read row by
    row: 784 steps for 28×28) or ``(n, T, n_in)``; values above 1 are taken as 0-255 pixels and divided by
    255.  ``y_*`` are integer class labels ``0..C-1``.  Raises :class:`ParameterError` for a
    missing file, missing keys or inconsistent shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(expected("an existing .npz file", "data", str(path)))
    with np.load(path) as data:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in data.files]
        if missing:
            raise ParameterError(expected("keys x_train, y_train, x_test, y_test", "data", f"{path} lacks {missing}"))
        arrays = {k: np.asarray(data[k]) for k in ("x_train", "y_train", "x_test", "y_test")}
    xs = []
    for key in ("x_train", "x_test"):
        x = arrays[key].astype(float)
        if x.ndim == 2:
            x = x[:, :, None]
        elif x.ndim == 3 and x.shape[1] == x.shape[2] and x.shape[1] >= 8:
            x = x.reshape(x.shape[0], -1, 1)  # square images (H = W >= 8): one pixel per step
        if x.ndim != 3:
            raise ParameterError(expected("x arrays of shape (n, T), (n, H, W) or (n, T, n_in)", key, x.shape))
        xs.append(x)
    scale = 255.0 if max(float(xs[0].max()), float(xs[1].max())) > 1.0 else 1.0
    x_train, x_test = _standardize(xs[0] / scale, xs[1] / scale)
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    if x_train.shape[1:] != x_test.shape[1:] or len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ParameterError(expected("matching shapes of x_train/x_test and labels", "data", str(path)))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return SequenceData(path.stem, x_train, y_train, x_test, y_test, max(n_classes, 2))


# ------------------------------------------------------------------------------------------ training
@dataclass
class GatedRun:
    """A finished classification run: networks before and after, per-epoch histories, settings.

    ``accuracy_history[e]`` / ``test_accuracy_history[e]`` are the accuracies on the whole
    training / test set after epoch ``e + 1``; ``loss_history[e]`` is the mean minibatch loss of
    epoch ``e + 1``.  ``epochs_to_target`` is the first epoch (1-based) whose training accuracy is
    at least :data:`TARGET_ACCURACY` (``None`` if never).
    """

    initial: GatedNetwork
    final: GatedNetwork
    accuracy_history: list[float]
    test_accuracy_history: list[float]
    loss_history: list[float]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def train_accuracy(self) -> float:
        return self.accuracy_history[-1] if self.accuracy_history else float("nan")

    @property
    def test_accuracy(self) -> float:
        return self.test_accuracy_history[-1] if self.test_accuracy_history else float("nan")

    @property
    def epochs_to_target(self) -> int | None:
        for epoch, accuracy in enumerate(self.accuracy_history, start=1):
            if accuracy >= TARGET_ACCURACY:
                return epoch
        return None

    def delta(self, name: str) -> np.ndarray:
        """``ΔW = W_final - W_initial`` of one weight (e.g. ``"U_z"``)."""
        return self.final.weights[name] - self.initial.weights[name]

    def summary(self) -> dict[str, Any]:
        return {
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "accuracy_history": self.accuracy_history,
            "test_accuracy_history": self.test_accuracy_history,
            "epochs_to_75": self.epochs_to_target,
            "loss_history": self.loss_history,
            **self.settings,
        }


def accuracy(
    net: GatedNetwork, x: np.ndarray, y: np.ndarray, *, backend: str | Backend = "numpy", batch_size: int = 500
) -> float:
    """Fraction of sequences classified correctly (forward passes of ``batch_size`` sequences)."""
    be = get_backend(backend)
    model = compile_gated(net.architecture, be)
    weights = {k: be.asarray(v) for k, v in net.weights.items()}
    return _accuracy(model, net, weights, x, y, batch_size)


def _accuracy(
    model: Any, net: GatedNetwork, weights: Mapping[str, Any], x: np.ndarray, y: np.ndarray, batch_size: int
) -> float:
    be = model.backend
    dtype = weights["W_out"].dtype
    correct = 0
    for start in range(0, len(y), batch_size):
        xb = be.asarray(x[start : start + batch_size], dtype=dtype)
        logits = logits_of(model, net.params, weights, xb, net.readout)
        # only the predicted labels come back to the host, never the activations
        correct += int((be.asnumpy(logits.argmax(axis=1)) == y[start : start + batch_size]).sum())
    return correct / max(len(y), 1)


def train_gated(
    arch: Architecture,
    params: Mapping[str, float],
    data: SequenceData,
    *,
    N: int = 128,
    epochs: int = 15,
    batch_size: int = 100,
    lr: float = 5e-3,
    seed: int = 0,
    input_scale: float = 1.0,
    clip: float | None = 1.0,
    backend: str | Backend = "numpy",
    dtype: str = "float64",
    progress: Callable[[int, float, float], None] | None = None,
) -> GatedRun:
    """Train a gated classifier on ``data`` with Adam and minibatches (BPTT through all steps).

    ``seed`` fixes the weights (:func:`init_gated`) and the minibatch order (``seed + 2``).
    ``clip`` rescales each minibatch gradient to global norm at most ``clip`` (``None``: off);
    chaotic initialisations (large ``a_h``) produce exploding gradients that would otherwise
    end a run in NaNs.  ``progress(epoch, loss, train_accuracy)`` is called after every epoch.
    Raises :class:`ParameterError` for bad sizes or rates and :class:`ConvergenceError` when the
    loss becomes non-finite.
    """
    N = check_integer(N, "N", 2)
    epochs = check_integer(epochs, "epochs", 0)
    batch_size = check_integer(batch_size, "batch_size", 1)
    lr = check_positive(lr, "lr")
    if clip is not None:
        clip = check_positive(clip, "clip")
    if dtype not in ("float32", "float64"):
        raise ParameterError(expected("one of ['float32', 'float64']", "dtype", dtype))
    be = get_backend(backend)
    xp = be.xp
    model = compile_gated(arch, be)
    initial = init_gated(
        arch, params, N=N, n_inputs=data.n_inputs, n_classes=data.n_classes, seed=seed, input_scale=input_scale
    )
    weights = {k: xp.array(be.asarray(v, dtype=dtype), copy=True) for k, v in initial.weights.items()}
    opt = Adam(lr)
    order_rng = np.random.default_rng(seed + 2)
    n_train = len(data.y_train)
    acc_hist: list[float] = []
    test_hist: list[float] = []
    loss_hist: list[float] = []
    start = time.perf_counter()
    for epoch in range(epochs):
        order = order_rng.permutation(n_train)
        losses = []
        for first in range(0, n_train, batch_size):
            idx = order[first : first + batch_size]
            xb = be.asarray(data.x_train[idx], dtype=dtype)
            yb = be.asarray(data.y_train[idx])
            value, grads, _ = loss_and_gradients(model, initial.params, weights, xb, yb, initial.readout)
            if not math.isfinite(value):
                raise ConvergenceError(
                    f"Training diverged in epoch {epoch + 1} (loss not finite); expected a smaller learning rate than lr={lr:g}",
                    residual=losses[-1] if losses else float("inf"),
                    iterations=epoch,
                )
            if clip is not None:
                norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
                if norm > clip:
                    grads = {k: g * (clip / norm) for k, g in grads.items()}
            opt.step(xp, weights, grads)
            losses.append(value)
        loss_hist.append(float(np.mean(losses)) if losses else float("nan"))
        current = GatedNetwork(arch, initial.params, {}, initial.readout)
        acc_hist.append(_accuracy(model, current, weights, data.x_train, data.y_train, 500))
        test_hist.append(_accuracy(model, current, weights, data.x_test, data.y_test, 500))
        if progress is not None:
            progress(epoch + 1, loss_hist[-1], acc_hist[-1])
    final = GatedNetwork(
        arch, dict(initial.params), {k: be.asnumpy(v).astype(float) for k, v in weights.items()}, initial.readout
    )
    if not acc_hist:  # zero epochs: report the untrained network
        acc_hist.append(_accuracy(model, initial, weights, data.x_train, data.y_train, 500))
        test_hist.append(_accuracy(model, initial, weights, data.x_test, data.y_test, 500))
    settings = {
        "architecture": arch.name,
        "params": dict(initial.params),
        "N": N,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "clip": clip,
        "seed": seed,
        "input_scale": input_scale,
        "backend": be.name,
        "dtype": dtype,
        "data": data.name,
        "steps": data.steps,
        "n_train": n_train,
        "n_test": len(data.y_test),
        "seconds": time.perf_counter() - start,
    }
    return GatedRun(initial, final, acc_hist, test_hist, loss_hist, settings)
