"""Linear learning theory of Schuessler et al. [S §4-5], derived with SymPy and evaluated numerically.

Setting ([S 5-6]): the linear network's readout at its fixed point is ``z = wᵀ (I - W)⁻¹ m``
(``w, m`` with i.i.d. entries of variance 1/N, ``W = W0 + ΔW``, ``W0_ij ~ N(0, g²/N)``), the loss
is ``L = (ẑ - z)²/2`` and ``W`` follows the gradient flow ``dW/dτ = (ẑ - z) Bᵀ w mᵀ Bᵀ`` with
``B = (I - W)⁻¹``.  With ``β = 1/(1 - g²)`` and ``x = β² τ`` the theory predicts

* traces [S 77-80]: ``Tr B/N → 1``, ``Tr BBᵀ/N → β``, ``Tr BBBᵀ/N → β²``, ``Tr BBᵀBBᵀ/N → β⁴``;
* readout [S 48]: ``z(τ) = ẑ [x - x²/2 + (1 + 8 ẑ² β) x³/6] + O(τ⁴)``;
* learning time ``τ* = 1/β²`` and ``‖ΔW(τ*)‖ = ẑ/β`` (first order, [S §4.1]);
* singular values of ``ΔW`` [S 65-66]: ``s₊ = (ẑ/β)(x - x²/2) + O(τ³)`` and
  ``s₋ = ẑ³ x³/12 + O(τ⁴)``; the third and higher are ``O(τ⁴)``;
* shuffling ``W0`` after training [S 67-69]: ``ẑ_s = ẑ(x - x²/2)/β² + O(τ³)``, i.e. ``ẑ/β²`` at
  first order at ``τ*``, and ``L_s = L₀ (1 - 1/β²)²``, ``L₀ = ẑ²/2``;
* ``g = 0`` [S 53-55]: ``W = [w m] A [w m]ᵀ`` with the 2×2 flow
  ``dA/dτ = (ẑ - z)(I + Cᵀ) E₁₂ (I + Cᵀ)``, ``C = A (I - A)⁻¹``, ``z = C₁₂``.

The readout series is *derived*, not typed in: :func:`readout_series` differentiates a closed
system of scalar order parameters along the flow (see its docstring) and substitutes the traces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import DerivationError, ParameterError, expected
from rmtgate.validation import check_integer, check_real

tau, zhat, beta, g_sym, x_sym = sympy.symbols("tau zhat beta g x", positive=True)


def _g(g: Any) -> float:
    return check_real(
        g,
        "g",
        minimum=0.0,
        maximum=1.0,
        strict_maximum=True,
        what="a number 0 <= g < 1 (the linear theory needs I - W0 invertible)",
    )


def beta_of(g: float) -> float:
    """``β = 1/(1 - g²)`` (``= Tr BBᵀ/N`` for ``B = (I - J)⁻¹``)."""
    g = _g(g)
    return 1.0 / (1.0 - g * g)


# ------------------------------------------------------------------------------------------ traces
TRACE_NAMES = ("Tr B/N", "Tr BB^T/N", "Tr BBB^T/N", "Tr BB^TBB^T/N")


def trace_predictions_symbolic() -> dict[str, sympy.Expr]:
    """Large-N limits of the normalized traces as SymPy expressions in ``g`` [S 77-80]."""
    b = 1 / (1 - g_sym**2)
    return {TRACE_NAMES[0]: sympy.Integer(1), TRACE_NAMES[1]: b, TRACE_NAMES[2]: b**2, TRACE_NAMES[3]: b**4}


def trace_predictions(g: float) -> dict[str, float]:
    """Numeric values of :func:`trace_predictions_symbolic` at ``g`` (``0 <= g < 1``)."""
    value = _g(g)
    return {k: float(v.subs(g_sym, value)) for k, v in trace_predictions_symbolic().items()}


def empirical_traces(g: float, N: int, *, seed: int | np.random.Generator = 0) -> dict[str, float]:
    """The four normalized traces for one draw ``J ~ N(0, g²/N)`` of size ``N`` (numpy, float64)."""
    g = _g(g)
    N = check_integer(N, "N", 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    J = rng.standard_normal((N, N)) * (g / math.sqrt(N))
    B = np.linalg.inv(np.eye(N) - J)
    BBt = B @ B.T
    return {
        TRACE_NAMES[0]: float(np.trace(B)) / N,
        TRACE_NAMES[1]: float(np.trace(BBt)) / N,
        TRACE_NAMES[2]: float(np.sum((B @ B) * B)) / N,  # Tr(B B Bᵀ) = Σ_ij (BB)_ij B_ij
        TRACE_NAMES[3]: float(np.sum(BBt * BBt.T)) / N,
    }


# ------------------------------------------------------------------------------------------ derivation
@cache
def readout_series(order: int = 3) -> sympy.Expr:
    """``z(τ)`` to ``order`` in ``τ``, derived along the flow and returned in ``τ, ẑ, β``.

    With ``p = Bᵀw``, ``q = Bm``, ``e = ẑ - z`` the flow ``dW/dτ = e p qᵀ`` gives, exactly,
    ``dz/dτ = e P Q``, ``dP/dτ = 2 e P s``, ``dQ/dτ = 2 e Q s``, ``ds/dτ = e (Q R₁ + s² + P R₂)``
    with ``P = |p|², Q = |q|², s = qᵀBp, R₁ = pᵀBᵀBp, R₂ = qᵀBBᵀq``.  At ``τ = 0`` self-averaging
    gives ``z = s = 0``, ``P = Q = Tr BBᵀ/N = β``, ``R₁ = R₂ = Tr BBᵀBBᵀ/N = β⁴``.  Taylor
    coefficients are Lie derivatives of ``z``; the derivatives of ``R₁, R₂`` (new traces) are
    first needed at order 4, so orders above 3 raise :class:`DerivationError`.
    """
    if not isinstance(order, int) or order < 1:
        raise ParameterError(expected("an integer order >= 1", "order", order))
    z, P, Q, s, R1, R2 = sympy.symbols("z P Q s R1 R2")
    e = zhat - z
    flow = {z: e * P * Q, P: 2 * e * P * s, Q: 2 * e * Q * s, s: e * (Q * R1 + s**2 + P * R2)}
    initial = {z: 0, P: beta, Q: beta, s: 0, R1: beta**4, R2: beta**4}
    series = sympy.Integer(0)
    derivative: sympy.Expr = z
    for k in range(1, order + 1):
        derivative = sum((sympy.diff(derivative, v) * rhs for v, rhs in flow.items()), sympy.Integer(0))
        value = sympy.expand(derivative.subs(initial))
        if k > 3 and (derivative.has(R1) or derivative.has(R2)):
            # d R/dτ involves traces of length 6 that [S] does not compute
            raise DerivationError(expected("order <= 3 (dR/dτ needs traces beyond [S §5])", "order", order))
        series += value * tau**k / sympy.factorial(k)
    return sympy.expand(series)


def readout_series_in_x() -> sympy.Expr:
    """The third-order readout with ``x = β² τ`` factored: ``ẑ[x - x²/2 + (1 + 8ẑ²β) x³/6]``."""
    expr = sympy.expand(readout_series(3).subs(tau, x_sym / beta**2))
    return sympy.collect(expr, x_sym)


@dataclass(frozen=True)
class Predictions:
    """Numeric predictions at ``g``, target ``ẑ`` (see the module docstring for the formulas)."""

    g: float
    zhat: float

    @property
    def beta(self) -> float:
        return beta_of(self.g)

    @property
    def tau_star(self) -> float:
        """Learning time ``τ* = 1/β²``."""
        return 1.0 / self.beta**2

    @property
    def delta_w_norm(self) -> float:
        """``‖ΔW(τ*)‖ = ẑ/β`` (first order)."""
        return self.zhat / self.beta

    @property
    def loss_initial(self) -> float:
        return 0.5 * self.zhat**2

    @property
    def shuffled_readout(self) -> float:
        """``ẑ_s = ẑ/β²`` at ``τ*`` (first order)."""
        return self.zhat / self.beta**2

    @property
    def shuffled_loss(self) -> float:
        """``L_s = L₀(1 - 1/β²)²`` at ``τ*`` (first order)."""
        return self.loss_initial * (1 - 1 / self.beta**2) ** 2

    def x(self, t: Any) -> Any:
        return self.beta**2 * np.asarray(t, dtype=float)

    def readout(self, t: Any, order: int = 3) -> np.ndarray:
        """``z(τ)`` truncated at ``order`` (1, 2 or 3)."""
        x = self.x(t)
        terms = [x, -(x**2) / 2, (1 + 8 * self.zhat**2 * self.beta) * x**3 / 6]
        return self.zhat * sum(terms[:order])

    def readout_initial_slope(self) -> float:
        """``dz/dτ(0) = ẑ β² = ẑ/τ*``."""
        return self.zhat * self.beta**2

    def s_plus(self, t: Any, order: int = 2) -> np.ndarray:
        """Largest singular value of ``ΔW``: ``(ẑ/β)(x - x²/2)`` (``order=1``: ``ẑx/β``)."""
        x = self.x(t)
        return self.zhat / self.beta * (x - (order >= 2) * x**2 / 2)

    def s_minus(self, t: Any) -> np.ndarray:
        """Second singular value of ``ΔW``: ``ẑ³ x³/12`` (cubic in τ)."""
        return self.zhat**3 * self.x(t) ** 3 / 12

    def shuffled_readout_series(self, t: Any) -> np.ndarray:
        """``ẑ_s(τ) = ẑ (x - x²/2)/β²`` (to second order)."""
        x = self.x(t)
        return self.zhat * (x - x**2 / 2) / self.beta**2

    def shuffled_loss_series(self, t: Any) -> np.ndarray:
        return 0.5 * (self.zhat - self.shuffled_readout_series(t)) ** 2


def predictions(g: float, zhat: float) -> Predictions:
    _g(g)
    z = check_real(zhat, "zhat", what="a finite target amplitude")
    return Predictions(float(g), z)


def latex() -> str:
    """The linear-theory results as a LaTeX fragment (symbolic, from the derivation above)."""
    traces = trace_predictions_symbolic()
    b = sympy.Symbol(r"\beta")
    lines = [r"\beta = \frac{1}{1-g^2}"]
    for name, value in traces.items():
        tex_name = name.replace("^T", "^{T}").replace("Tr ", r"\tfrac{1}{N}\operatorname{Tr}").replace("/N", "")
        lines.append(f"{tex_name} \\to {sympy.latex(value.subs(1 / (1 - g_sym**2), b))}")
    series = readout_series(3).subs(beta, b)
    lines.append(r"z(\tau) = " + sympy.latex(series) + r" + O(\tau^4)")
    lines.append(r"\tau^* = \frac{1}{\beta^2}, \quad \|\Delta W(\tau^*)\| = \frac{\hat z}{\beta}")
    lines.append(r"s_+ = \frac{\hat z}{\beta}\left(\beta^2\tau - \frac{(\beta^2\tau)^2}{2}\right) + O(\tau^3)")
    lines.append(r"s_- = \frac{\hat z^3 (\beta^2\tau)^3}{12} + O(\tau^4)")
    lines.append(r"\hat z_s = \frac{\hat z}{\beta^2}, \quad L_s = L_0 \left(1 - \frac{1}{\beta^2}\right)^2")
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"


# ------------------------------------------------------------------------------------------ g = 0
def reduced_dynamics(zhat: float, taus: Sequence[float] | np.ndarray, *, rtol: float = 1e-10) -> dict[str, np.ndarray]:
    """Integrate the ``g = 0`` reduced 2×2 flow [S 53-55] from ``A = 0``.

    Returns ``tau``, ``z`` (``= C₁₂``), ``A (n, 2, 2)`` and ``singular_values (n, 2)`` of ``ΔW``
    (= those of ``A``, since ``[w m]`` is orthonormal at large N).
    """
    from scipy.integrate import solve_ivp

    z_target = float(zhat)
    times = np.asarray(taus, dtype=float)
    E12 = np.array([[0.0, 1.0], [0.0, 0.0]])
    I2 = np.eye(2)

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        A = y.reshape(2, 2)
        C = A @ np.linalg.inv(I2 - A)
        z = C[0, 1]
        return ((z_target - z) * (I2 + C.T) @ E12 @ (I2 + C.T)).ravel()

    order = np.argsort(times)
    sol = solve_ivp(
        rhs, (0.0, float(times.max())), np.zeros(4), t_eval=times[order], rtol=rtol, atol=1e-14, method="DOP853"
    )
    if not sol.success:
        raise DerivationError(f"reduced g=0 dynamics failed to integrate: {sol.message}")
    A = np.empty((times.size, 2, 2))
    A[order] = sol.y.T.reshape(-1, 2, 2)
    C = A @ np.linalg.inv(I2 - A)
    return {"tau": times, "z": C[:, 0, 1], "A": A, "singular_values": np.linalg.svd(A, compute_uv=False)}


# ------------------------------------------------------------------------------------------ finite N
def readout(W: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    """Fixed-point readout ``wᵀ(I - W)⁻¹ m`` of a linear network (theory-normalized ``w, m``)."""
    N = W.shape[0]
    return float(np.ravel(w) @ np.linalg.solve(np.eye(N) - W, np.ravel(m)))


def top_singular_values(M: np.ndarray, k: int = 3, *, seed: int = 0, sketch: int = 24) -> np.ndarray:
    """The ``k`` largest singular values of a numerically low-rank ``M`` (randomized range finder).

    A Gaussian sketch of ``sketch`` columns with two power iterations captures the range of a
    matrix whose singular values beyond the sketch size are negligible (``ΔW`` of the linear
    model: ``s₃ = O(τ⁴)``), at ``O(N² sketch)`` instead of the ``O(N³)`` of a full SVD.
    """
    n = min(M.shape)
    if n <= 2 * sketch:
        return np.linalg.svd(M, compute_uv=False)[:k]
    rng = np.random.default_rng(seed)
    Y = M @ rng.standard_normal((M.shape[1], sketch))
    for _ in range(2):
        Y, _r = np.linalg.qr(Y)
        Y = M @ (M.T @ Y)
    Q, _r = np.linalg.qr(Y)
    return np.linalg.svd(Q.T @ M, compute_uv=False)[:k]


def shuffle(W0: np.ndarray, *, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``W0`` with its entries randomly permuted (same statistics, correlations with ΔW destroyed)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.permutation(W0.ravel()).reshape(W0.shape)


# ------------------------------------------------------------------------------------------ trained networks
@dataclass(frozen=True)
class LinearCurve:
    """Measurements along the training of a linear network on the simple task.

    Arrays indexed by snapshot: ``tau = η · epoch``, fixed-point readout ``z``, the three largest
    singular values of ``ΔW`` (``singular_values (n, 3)``), the readout ``z_shuffled`` with ``W0``
    replaced by a shuffled copy, and the finite-N kernel ``K0 = |Bᵀw|²|Bm|²`` at ``τ = 0``
    (whose large-N limit is ``β² = 1/τ*``).
    """

    g: float
    zhat: float
    N: int
    tau: np.ndarray
    z: np.ndarray
    singular_values: np.ndarray
    z_shuffled: np.ndarray
    z_simulated_final: float
    K0: float
    loss: np.ndarray
    order_parameters: dict[str, float]

    def conditioned_s_minus(self, t: Any) -> np.ndarray:
        """``s₋`` with the realized order parameters: ``e₀³ P Q |BᵀBm| |BBᵀw| τ³/12``.

        Same derivation as ``ẑ³x³/12`` but without self-averaging (``P = |Bᵀw|², Q = |Bm|²``,
        ``e₀ = ẑ - z₀``); its large-N limit is :meth:`Predictions.s_minus`.
        """
        o = self.order_parameters
        e0 = self.zhat - o["z0"]
        return e0**3 * o["P"] * o["Q"] * o["r"] * o["t"] * np.asarray(t, dtype=float) ** 3 / 12


def linear_learning_curve(
    g: float,
    zhat: float,
    N: int,
    *,
    tau_end: float,
    epochs: int,
    snapshot_every: int = 1,
    seed: int = 0,
    backend: str = "numpy",
) -> LinearCurve:
    """Train the linear model ([S §1]: simple task, plain GD on ``W``) and measure it against theory.

    The learning rate is ``η = tau_end/epochs``: gradient descent on ``L = (ẑ - z)²/2`` with rate
    η runs the flow [S 6] in steps of ``Δτ = η`` (see :mod:`rmtgate.training`).
    """
    from rmtgate.training.bptt import train
    from rmtgate.training.tasks import SIMPLE

    _g(g)
    task = SIMPLE.with_(target_amplitude=float(zhat))
    run = train(
        task,
        g=g,
        N=N,
        epochs=epochs,
        batch_size=1,
        lr=tau_end / epochs,
        optimizer="gd",
        trained=("W",),
        nonlinearity="linear",
        seed=seed,
        backend=backend,
        snapshot_every=snapshot_every,
    )
    eta = tau_end / epochs
    m_th = run.initial.m[:, 0]
    w_th = run.initial.w[:, 0] / math.sqrt(N)
    W0 = run.initial.W
    W0s = shuffle(W0, seed=seed + 7)
    epochs_kept = sorted(run.snapshots)
    taus, zs, svs, zss = [], [], [], []
    for epoch in epochs_kept:
        W = run.snapshots[epoch]
        dW = W - W0
        taus.append(eta * epoch)
        zs.append(readout(W, m_th, w_th))
        svs.append(top_singular_values(dW, 3, seed=seed))
        zss.append(readout(W0s + dW, m_th, w_th))
    B = np.linalg.inv(np.eye(N) - W0)
    P = float(np.sum((B.T @ w_th) ** 2))
    Q = float(np.sum((B @ m_th) ** 2))
    K0 = P * Q
    params = {
        "P": P,
        "Q": Q,
        "r": float(np.linalg.norm(B.T @ (B @ m_th))),
        "t": float(np.linalg.norm(B @ (B.T @ w_th))),
        "z0": float(w_th @ B @ m_th),
    }
    from rmtgate.training.bptt import forward
    from rmtgate.training.tasks import generate

    z_sim = float(forward(run.final, generate(task, 1, seed=0).inputs)[0, -1, 0])
    return LinearCurve(
        float(g),
        float(zhat),
        int(N),
        np.asarray(taus),
        np.asarray(zs),
        np.asarray(svs),
        np.asarray(zss),
        z_sim,
        K0,
        run.losses,
        params,
    )
