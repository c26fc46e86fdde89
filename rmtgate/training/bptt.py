"""Training the leaky rate network of [S 1-2] by backpropagation through time, on an array backend.

Network (Euler step ``dt``, ``x_0 = 0``, ``φ = tanh`` or the identity for the linear model)::

    x_{k+1} = (1 - dt) x_k + dt [W φ(x_k) + √N m u_k],      z_k = wᵀ φ(x_{k+1}) / N

with ``W0_ij ~ N(0, g²/N)``, ``m_ij ~ N(0, 1/N)`` (so ``√N m u`` is O(1) per neuron) and
``w_ij ~ N(0, 1)`` (so the initial readout is O(1/√N): the readout scaling of [S]).  In the
notation of the linear theory ([S §4], :mod:`rmtgate.linear_theory`), whose vectors have
entries of variance 1/N, ``m_theory = m`` and ``w_theory = w/√N``, and the fixed-point readout
of the linear network is ``z = w_theoryᵀ (I - W)⁻¹ m_theory u``.

Loss ([S §1], masked quadratic; the factor 1/2 makes the simple task's loss ``(ẑ - z)²/2`` of
[S §4] exactly, so that plain gradient descent with rate η runs the flow of [S 6] with
``τ = η · epochs``)::

    L = 1/B Σ_b [Σ_{k,i} M_bk (z_bki - ẑ_bki)²] / (2 N_out Σ_k M_bk)

The gradient is hand-written backpropagation through time on the backend's array module (numpy,
or cupy on a GPU via :func:`rmtgate.backends.get_backend`); weights are drawn on the host from a
numpy ``Generator`` so that a seed gives the same network on every backend.  Adam (PyTorch's
defaults, ``η = 0.05/N``) trains ``W, m, w`` for the nonlinear tasks; the linear model uses plain
gradient descent on ``W`` only.

Why this module is long: the forward pass, its hand-written BPTT adjoint and the optimizers must stay side by side — a change to one without the other breaks the gradient check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtgate.errors import ConvergenceError, ParameterError, expected
from rmtgate.simulation.backends import Backend, get_backend
from rmtgate.training.tasks import EPOCH_BUDGET, Batch, Task, generate, get_task
from rmtgate.validation import check_integer, check_nonnegative, check_positive

PARAMETERS = ("W", "m", "w")
NONLINEARITIES = ("tanh", "linear")


# ------------------------------------------------------------------------------------------ checks


def _nonlinearity(name: Any) -> str:
    if name not in NONLINEARITIES:
        raise ParameterError(expected(f"one of {list(NONLINEARITIES)}", "nonlinearity", name))
    return str(name)


# ------------------------------------------------------------------------------------------ network
@dataclass
class Network:
    """Weights of one network (host numpy arrays): ``W (N,N)``, ``m (N,N_in)``, ``w (N,N_out)``."""

    W: np.ndarray
    m: np.ndarray
    w: np.ndarray
    g: float
    dt: float = 0.5
    nonlinearity: str = "tanh"

    @property
    def N(self) -> int:
        return int(self.W.shape[0])

    def copy(self) -> Network:
        return Network(self.W.copy(), self.m.copy(), self.w.copy(), self.g, self.dt, self.nonlinearity)

    def with_(self, **arrays: np.ndarray) -> Network:
        """A copy with some weights replaced (e.g. ``W=truncated``)."""
        net = self.copy()
        for name, value in arrays.items():
            if name not in PARAMETERS:
                raise ParameterError(expected(f"one of {list(PARAMETERS)}", "weight", name))
            setattr(net, name, np.asarray(value, dtype=float))
        return net


def init_network(
    N: int,
    n_inputs: int,
    n_outputs: int,
    g: float,
    *,
    seed: int | np.random.Generator | None = 0,
    dt: float = 0.5,
    nonlinearity: str = "tanh",
) -> Network:
    """Draw ``W0 ~ N(0, g²/N)``, ``m ~ N(0, 1/N)``, ``w ~ N(0, 1)`` (in this order, from ``seed``)."""
    N = check_integer(N, "N", 1)
    n_inputs = check_integer(n_inputs, "n_inputs", 1)
    n_outputs = check_integer(n_outputs, "n_outputs", 1)
    g = check_nonnegative(g, "g")
    dt = check_positive(dt, "dt")
    if dt > 1:
        raise ParameterError(expected("a time step in (0, 1]", "dt", dt))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    W = rng.standard_normal((N, N)) * (g / math.sqrt(N))
    m = rng.standard_normal((N, n_inputs)) / math.sqrt(N)
    w = rng.standard_normal((N, n_outputs))
    return Network(W, m, w, g, dt, _nonlinearity(nonlinearity))


# ------------------------------------------------------------------------------------------ BPTT
def _phi(xp: Any, x: Any, nonlinearity: str) -> Any:
    return xp.tanh(x) if nonlinearity == "tanh" else x


def forward(
    net: Network, inputs: Any, *, backend: str | Backend = "numpy", weights: Mapping[str, Any] | None = None
) -> Any:
    """Readouts ``z (B, K, N_out)`` of ``net`` driven by ``inputs (B, K, N_in)`` (on ``backend``)."""
    be = get_backend(backend)
    xp = be.xp
    p = weights if weights is not None else _device_weights(be, net)
    u = be.asarray(inputs, dtype=p["W"].dtype)
    B, K, _ = u.shape
    N = net.N
    dt = net.dt
    drive = math.sqrt(N) * (u @ p["m"].T)  # (B, K, N)
    x = xp.zeros((B, N), dtype=p["W"].dtype)
    z = xp.empty((B, K, p["w"].shape[1]), dtype=p["W"].dtype)
    r = _phi(xp, x, net.nonlinearity)
    for k in range(K):
        x = (1 - dt) * x + dt * (r @ p["W"].T + drive[:, k])
        r = _phi(xp, x, net.nonlinearity)
        z[:, k] = r @ p["w"] / N
    return z


def _device_weights(be: Backend, net: Network, dtype: Any = np.float64) -> dict[str, Any]:
    return {name: be.asarray(getattr(net, name), dtype=dtype) for name in PARAMETERS}


def _loss_weights(xp: Any, mask: Any, n_out: int) -> Any:
    """Per-(trial, step) loss weight ``M_bk / (B N_out Σ_k M_bk)`` (trials without mask weigh 0)."""
    counts = mask.sum(axis=1, keepdims=True)
    scale = 1.0 / (mask.shape[0] * n_out * xp.maximum(counts, 1))
    return mask * scale


def loss_and_gradients(
    net: Network,
    batch: Batch,
    *,
    backend: str | Backend = "numpy",
    weights: Mapping[str, Any] | None = None,
    need: Iterable[str] = PARAMETERS,
) -> tuple[float, dict[str, Any]]:
    """The masked loss and its gradients by backpropagation through time (arrays on ``backend``).

    ``weights`` (device arrays) override the network's; ``need`` selects the gradients computed.
    """
    be = get_backend(backend)
    xp = be.xp
    p = weights if weights is not None else _device_weights(be, net)
    dtype = p["W"].dtype
    u = be.asarray(batch.inputs, dtype=dtype)
    target = be.asarray(batch.targets, dtype=dtype)
    mask = be.asarray(batch.mask, dtype=dtype)
    B, K, _ = u.shape
    N = net.N
    n_out = p["w"].shape[1]
    dt = net.dt
    tanh = net.nonlinearity == "tanh"
    sqrt_n = math.sqrt(N)
    W, m, w = p["W"], p["m"], p["w"]

    drive = sqrt_n * (u @ m.T)
    r_all = xp.empty((K + 1, B, N), dtype=dtype)  # r_all[k] = φ(x_k), x_0 = 0
    x = xp.zeros((B, N), dtype=dtype)
    r_all[0] = _phi(xp, x, net.nonlinearity)
    for k in range(K):
        x = (1 - dt) * x + dt * (r_all[k] @ W.T + drive[:, k])
        r_all[k + 1] = _phi(xp, x, net.nonlinearity)
    # matmul, not einsum: numpy's einsum does not reach BLAS for these contractions
    z = xp.transpose(r_all[1:] @ w, (1, 0, 2)) / N
    err = z - target
    lw = _loss_weights(xp, mask, n_out)  # (B, K)
    loss = 0.5 * float((lw[:, :, None] * err * err).sum())
    gz = lw[:, :, None] * err  # dL/dz (B, K, N_out)

    need = set(need)
    # adjoints a_k = dL/dx_k for k = K..1; a_{k} = φ'(x_k) ⊙ (dt a_{k+1} W + gz_{k-1} wᵀ/N) + (1-dt) a_{k+1}
    adj = xp.empty((K, B, N), dtype=dtype)  # adj[k] = a_{k+1}
    readout = xp.transpose(gz @ w.T, (1, 0, 2)) / N  # (K, B, N): dL/dr_{k+1} from z_k
    a_next = xp.zeros((B, N), dtype=dtype)
    for k in range(K, 0, -1):
        dr = readout[k - 1]
        if k < K:
            dr = dr + dt * (a_next @ W)
        deriv = 1 - r_all[k] * r_all[k] if tanh else 1.0
        a = deriv * dr + (1 - dt) * a_next
        adj[k - 1] = a
        a_next = a
    grads: dict[str, Any] = {}
    if "W" in need:
        # dW = dt Σ_k a_{k+1}ᵀ φ(x_k): one GEMM over all (k, b)
        grads["W"] = dt * (adj.reshape(K * B, N).T @ r_all[:-1].reshape(K * B, N))
    if "m" in need:
        grads["m"] = dt * sqrt_n * (adj.reshape(K * B, N).T @ xp.transpose(u, (1, 0, 2)).reshape(K * B, -1))
    if "w" in need:
        grads["w"] = (r_all[1:].reshape(K * B, N).T @ xp.transpose(gz, (1, 0, 2)).reshape(K * B, -1)) / N
    return loss, grads


def loss(net: Network, batch: Batch, *, backend: str | Backend = "numpy") -> float:
    """The masked loss of ``net`` on ``batch`` (forward pass only)."""
    be = get_backend(backend)
    xp = be.xp
    z = forward(net, batch.inputs, backend=be)
    target = be.asarray(batch.targets, dtype=z.dtype)
    mask = be.asarray(batch.mask, dtype=z.dtype)
    lw = _loss_weights(xp, mask, z.shape[2])
    return 0.5 * float((lw[:, :, None] * (z - target) ** 2).sum())


# ------------------------------------------------------------------------------------------ optimizers
@dataclass
class Adam:
    """Adam with PyTorch's defaults (``β1 = 0.9, β2 = 0.999, ε = 1e-8``), in place on device arrays.

    ``coordinates`` maps a parameter name to ``k`` when the optimizer is to act on ``P = k θ``
    rather than on the stored ``θ`` (default ``k = 1``): Adam is not invariant under rescaling a
    parameter, and [S]'s code trains ``√N m`` and ``w / N`` themselves (see :func:`train`).
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    step_count: int = 0
    moments: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    coordinates: Mapping[str, float] = field(default_factory=dict)

    def step(self, xp: Any, params: dict[str, Any], grads: Mapping[str, Any]) -> None:
        self.step_count += 1
        t = self.step_count
        c1 = 1 - self.beta1**t
        c2 = 1 - self.beta2**t
        for name, grad in grads.items():
            k = self.coordinates.get(name, 1.0)
            if k != 1.0:
                grad = grad / k  # ∂L/∂P for P = k θ
            if name not in self.moments:
                self.moments[name] = (xp.zeros_like(grad), xp.zeros_like(grad))
            m1, m2 = self.moments[name]
            m1 *= self.beta1
            m1 += (1 - self.beta1) * grad
            m2 *= self.beta2
            m2 += (1 - self.beta2) * grad * grad
            params[name] -= (self.lr / (c1 * k)) * m1 / (xp.sqrt(m2 / c2) + self.eps)


@dataclass
class GradientDescent:
    """Plain gradient descent ``θ ← θ - η ∇L`` (on ``P = k θ`` for names in ``coordinates``, as :class:`Adam`)."""

    lr: float
    coordinates: Mapping[str, float] = field(default_factory=dict)

    def step(self, xp: Any, params: dict[str, Any], grads: Mapping[str, Any]) -> None:
        for name, grad in grads.items():
            k = self.coordinates.get(name, 1.0)
            params[name] -= (self.lr / (k * k)) * grad


# ------------------------------------------------------------------------------------------ runs
@dataclass
class TrainingRun:
    """A finished training run: initial and final weights, the loss curve, and its settings.

    ``losses[e]`` is the loss on epoch ``e``'s batch before that epoch's update; ``losses[-1]``
    is after the last update (on a fresh batch), so ``len(losses) = epochs + 1``.
    """

    task: Task
    initial: Network
    final: Network
    losses: np.ndarray
    settings: dict[str, Any]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def delta_W(self) -> np.ndarray:
        return self.final.W - self.initial.W

    @property
    def loss_initial(self) -> float:
        return float(self.losses[0])

    @property
    def loss_final(self) -> float:
        return float(self.losses[-1])

    def save(self, path: str | Path) -> Path:
        """Write the run as ``.npz`` (weights, loss curve, settings as JSON)."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "W0": self.initial.W,
            "m0": self.initial.m,
            "w0": self.initial.w,
            "W": self.final.W,
            "m": self.final.m,
            "w": self.final.w,
            "losses": self.losses,
            "settings": np.array(json.dumps({**self.settings, "task": self.task.name})),
        }
        for epoch, snapshot in self.snapshots.items():
            arrays[f"W_epoch_{epoch}"] = snapshot
        with path.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainingRun:
        with np.load(Path(path)) as data:
            settings = json.loads(str(data["settings"]))
            g, dt, nl = settings["g"], settings["dt"], settings["nonlinearity"]
            initial = Network(data["W0"], data["m0"], data["w0"], g, dt, nl)
            final = Network(data["W"], data["m"], data["w"], g, dt, nl)
            snapshots = {int(k.rsplit("_", 1)[1]): data[k] for k in data.files if k.startswith("W_epoch_")}
            losses = data["losses"]
        return cls(get_task(settings["task"]), initial, final, losses, settings, snapshots)


def train(
    task: str | Task,
    *,
    g: float,
    N: int,
    epochs: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    optimizer: str = "adam",
    trained: Iterable[str] = PARAMETERS,
    nonlinearity: str = "tanh",
    dt: float = 0.5,
    seed: int = 0,
    backend: str | Backend = "numpy",
    dtype: str = "float64",
    network: Network | None = None,
    snapshot_every: int = 0,
    progress: Callable[[int, float], None] | None = None,
    stop_below: float | None = None,
    clip: float | None = None,
) -> TrainingRun:
    """Train a network on ``task`` ([S §1] defaults: Adam, ``η = 0.05/N``, batch 32, epoch budget of [S]).

    ``optimizer="gd"`` with ``trained=("W",)`` and ``nonlinearity="linear"`` is the linear model.
    ``snapshot_every > 0`` keeps ``W`` every that many epochs (and at the end) in
    ``run.snapshots``.  ``stop_below`` (a fraction) ends training once the batch loss falls below
    that fraction of the initial loss.  One seed fixes the weights (``seed``) and the trial
    batches (``seed + 1``).  ``clip`` rescales each gradient to global norm at most ``clip``
    (``None``: off): near ``Re λ = 1`` the gradient explodes ([S] Fig. S4) and one step can
    throw a run that was learning out of its basin.  Raises :class:`ParameterError` for bad sizes, ``g < 0``, unknown
    task, optimizer, or trained weights.
    """
    spec = get_task(task)
    N = check_integer(N, "N", 1)
    g = check_nonnegative(g, "g")
    epochs = EPOCH_BUDGET.get(spec.name, 1000) if epochs is None else check_integer(epochs, "epochs", 0)
    batch_size = check_integer(batch_size, "batch_size", 1)
    lr = 0.05 / N if lr is None else check_positive(lr, "lr")
    if optimizer not in ("adam", "gd"):
        raise ParameterError(expected("one of ['adam', 'gd']", "optimizer", optimizer))
    trained = tuple(trained)
    for name in trained:
        if name not in PARAMETERS:
            raise ParameterError(expected(f"names among {list(PARAMETERS)}", "trained", name))
    if dtype not in ("float32", "float64"):
        raise ParameterError(expected("one of ['float32', 'float64']", "dtype", dtype))
    be = get_backend(backend)
    xp = be.xp
    initial = (
        network.copy()
        if network is not None
        else init_network(N, spec.n_inputs, spec.n_outputs, g, seed=seed, dt=dt, nonlinearity=nonlinearity)
    )
    # copies: the optimizer updates in place, the initial network must stay as drawn
    params = {name: xp.array(value, copy=True) for name, value in _device_weights(be, initial, np.dtype(dtype)).items()}
    # [S]'s code stores and trains the input weights √N m and the readout w/N themselves (its
    # ``wi ~ N(0, 1)``, ``wo ~ N(0, 1/N²)``); Adam is not invariant under that rescaling (in our
    # coordinates it moved m √N times too far and w N times too little per step), so it acts on [S]'s ones
    coordinates = {"m": math.sqrt(N), "w": 1.0 / N}
    opt: Adam | GradientDescent = (
        Adam(lr, coordinates=coordinates) if optimizer == "adam" else GradientDescent(lr, coordinates=coordinates)
    )
    data_rng = np.random.default_rng(seed + 1)
    losses: list[float] = []
    snapshots: dict[int, np.ndarray] = {}
    for epoch in range(epochs):
        if snapshot_every and epoch % snapshot_every == 0:
            snapshots[epoch] = be.asnumpy(params["W"]).astype(float)
        batch = generate(spec, batch_size, dt=initial.dt, seed=data_rng)
        value, grads = loss_and_gradients(initial, batch, backend=be, weights=params, need=trained)
        if not math.isfinite(value):
            raise ConvergenceError(
                f"Training diverged at epoch {epoch} (loss not finite); expected a smaller learning rate than lr={lr:g}",
                residual=losses[-1] if losses else float("inf"),
                iterations=epoch,
            )
        losses.append(value)
        if progress is not None:
            progress(epoch, value)
        if stop_below is not None and value < stop_below * losses[0]:
            break
        if clip is not None:
            norm = math.sqrt(sum(float((grad * grad).sum()) for grad in grads.values()))
            if norm > clip:
                grads = {name: grad * (clip / norm) for name, grad in grads.items()}
        opt.step(xp, params, grads)
    final = Network(*(be.asnumpy(params[n]).astype(float) for n in PARAMETERS), g, initial.dt, initial.nonlinearity)
    if snapshot_every:
        snapshots[len(losses)] = final.W.copy()
    last = generate(spec, batch_size, dt=initial.dt, seed=data_rng)
    losses.append(loss(final, last, backend=be))
    settings = {
        "g": g,
        "N": N,
        "epochs": epochs,
        "epochs_run": len(losses) - 1,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "trained": list(trained),
        "nonlinearity": initial.nonlinearity,
        "dt": initial.dt,
        "seed": seed,
        "backend": be.name,
        "dtype": dtype,
        "clip": clip,
    }
    return TrainingRun(spec, initial, final, np.asarray(losses), settings, snapshots)
