"""Gated networks of any declarable architecture, trained by backpropagation through time.

The network is the architecture's own local form ``s' = F(s, η, b)`` with fields
``η_k = U_k u_k(s, η_<k, b) + V_k x_t``: every random matrix of the architecture is one field,
and the sequence input ``x_t`` enters every field through an input matrix ``V_k`` (for a GRU this
is the usual ``W_z x + U_z h``).  A linear readout of the last state (``h`` where the architecture
has one) gives class logits, trained with softmax cross-entropy.

Nothing here is written for a particular architecture.  The forward step is the compiled local
map of :func:`rmtgate.numerics.compile.compile_step` (the same code :mod:`rmtgate.simulation`
iterates); the backward step uses the symbolic partial derivatives ``∂F/∂s``, ``∂F/∂η_k``,
``∂u_k/∂s``, ``∂u_k/∂η_j`` and the derivatives with respect to the biases, taken by SymPy from
the local form and compiled once (with common-subexpression elimination) by
:func:`rmtgate.numerics.compile.lambdify_local`.  A GRU, an LSTM and a user-declared cell are
trained by the same code.

The initial recurrent weights and biases are those of :func:`rmtgate.simulation.simulate` for
the same architecture, parameters and seed, so an untrained network is a draw from the ensemble
the theory describes: ``(U_k)_ij ~ N(0, a_k²/N)``, biases ``b_k`` (per neuron where the
architecture draws them).

Why this module is long: the compiled model, the forward pass and the backward step that undoes it
(and the Jacobian built from that backward step) share the field grouping and the tape layout; a
change to one without the others breaks the gradient check.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import ParameterError, StateError, expected
from rmtgate.numerics.compile import CompiledStep, compile_step, lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.simulation.backends import Backend, get_backend
from rmtgate.simulation.simulate import simulate
from rmtgate.symbolic.architecture import Architecture
from rmtgate.validation import check_integer, check_nonnegative

READOUT = ("W_out", "b_out")


# ------------------------------------------------------------------------------------------ compiled model
@dataclass(frozen=True, eq=False)
class GatedModel:
    """An architecture compiled for training on one backend: forward map and symbolic derivatives.

    ``biases`` are the trainable per-neuron parameters (those named ``b_*`` or drawn per neuron);
    every other parameter stays a fixed scalar.  ``partials`` lists the structurally nonzero
    partial derivatives as keys ``(kind, i, j)`` with kind ``Fs`` (``∂F_i/∂s_j``), ``Fe``
    (``∂F_i/∂η_j``), ``us`` (``∂u_i/∂s_j``), ``ue`` (``∂u_i/∂η_j``), ``Fb`` (``∂F_i/∂b_j``) or
    ``ub`` (``∂u_i/∂b_j``); ``ones`` are the keys whose derivative is identically 1 (skipped
    multiplications), and ``derivatives(*state, *fields, *parameters)`` returns the others.
    ``groups`` are runs of consecutive fields with the same presynaptic vector (the GRU's
    ``U_z, U_r`` both act on ``h``; all four LSTM matrices do): one GEMM per group.
    """

    architecture: Architecture
    backend: Backend
    step: CompiledStep
    biases: tuple[str, ...]
    partials: tuple[tuple[str, int, int], ...]
    ones: frozenset[tuple[str, int, int]]
    derivatives: Any
    update_and_partials: Any
    groups: tuple[tuple[int, ...], ...]
    field_biases: dict[str, int]

    @property
    def matrices(self) -> tuple[str, ...]:
        return tuple(f.matrix for f in self.architecture.local_form.fields)


def _trainable_biases(arch: Architecture) -> tuple[str, ...]:
    form = arch.local_form
    used: set[str] = set()
    for expr in (*form.new_state, *(f.input for f in form.fields)):
        used |= {s.name for s in expr.free_symbols}
    drawn = {b for b, _ in arch.bias_variances}
    variances = {v.name for v in arch.variance_parameters}
    return tuple(
        p.name
        for p in arch.parameters
        if p.name in used and p.name not in variances and (p.name.startswith("b_") or p.name in drawn)
    )


@lru_cache(maxsize=32)
def _compile(arch: Architecture, backend_name: str) -> GatedModel:
    backend = get_backend(backend_name)
    form = arch.local_form
    biases = _trainable_biases(arch)
    bias_symbols = [p for p in arch.parameters if p.name in biases]
    state, fields = form.state, form.field_symbols
    wanted: dict[tuple[str, int, int], sympy.Expr] = {}
    for i, F in enumerate(form.new_state):
        for kind, symbols in (("Fs", state), ("Fe", fields), ("Fb", bias_symbols)):
            for j, sym in enumerate(symbols):
                wanted[(kind, i, j)] = sympy.diff(F, sym)
    for k, fld in enumerate(form.fields):
        for kind, symbols in (("us", state), ("ue", fields[:k]), ("ub", bias_symbols)):
            for j, sym in enumerate(symbols):
                wanted[(kind, k, j)] = sympy.diff(fld.input, sym)
    # a bias that enters only as an offset of one field (sigmoid(eta_z + b_z)) has exactly that
    # field's partials, so its gradient is Σ_{t,b} ∂L/∂η_k: no per-step work for it at all
    field_biases: dict[str, int] = {}
    for b in bias_symbols:
        for k, eta in enumerate(fields):
            same = all(
                sympy.expand(sympy.diff(e, b) - sympy.diff(e, eta)) == 0
                for e in (*form.new_state, *(f.input for f in form.fields))
            )
            if same:
                field_biases[b.name] = k
                break
    offset = {j for j, b in enumerate(bias_symbols) if b.name in field_biases}
    for key in [key for key in wanted if key[0] in ("Fb", "ub") and key[2] in offset]:
        del wanted[key]
    nonzero = {key: e for key, e in wanted.items() if e != 0}
    ones = frozenset(key for key, e in nonzero.items() if e == 1)
    computed = {key: e for key, e in nonzero.items() if key not in ones}
    arguments = (*state, *fields, *arch.parameters)
    function = lambdify_local(arguments, tuple(computed.values()), backend.name) if computed else None
    # the training forward pass evaluates the update and the partials in one CSE'd function: the
    # gates (sigmoids, tanh) are computed once per step and the backward pass reads them from the tape
    combined = lambdify_local(arguments, (*form.new_state, *computed.values()), backend.name)
    groups: list[list[int]] = []
    for k, fld in enumerate(form.fields):
        # consecutive fields (dependency order) with one presynaptic vector share a GEMM; such
        # fields cannot depend on each other, since a field's input never contains itself
        if groups and form.fields[groups[-1][0]].input == fld.input:
            groups[-1].append(k)
        else:
            groups.append([k])
    step = compile_step(arch, backend.name)
    return GatedModel(
        arch,
        backend,
        step,
        biases,
        tuple(computed),
        ones,
        function,
        combined,
        tuple(tuple(g) for g in groups),
        field_biases,
    )


def compile_gated(arch: Architecture, backend: str | Backend = "numpy") -> GatedModel:
    """The compiled forward map and symbolic derivatives of ``arch`` (cached per architecture)."""
    if not isinstance(arch, Architecture):
        raise ParameterError(expected("an rmtgate.Architecture", "arch", arch))
    return _compile(arch, get_backend(backend).name)


# ------------------------------------------------------------------------------------------ network
@dataclass
class GatedNetwork:
    """Weights of a gated classifier (host numpy arrays) and the parameters it was drawn with.

    ``weights`` holds ``U_k (N,N)`` and ``V_k (N,n_in)`` per field matrix, the trainable biases
    ``b_* (N,)``, and the readout ``W_out (N,C)``, ``b_out (C,)``.  ``params`` are the resolved
    architecture parameters (the scalars the local map sees besides the biases).
    """

    architecture: Architecture
    params: dict[str, float]
    weights: dict[str, np.ndarray]
    readout: str

    @property
    def N(self) -> int:
        return int(self.weights["W_out"].shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.weights[f"V_{self.architecture.local_form.fields[0].matrix}"].shape[1])

    def copy(self) -> GatedNetwork:
        return GatedNetwork(
            self.architecture, dict(self.params), {k: v.copy() for k, v in self.weights.items()}, self.readout
        )


def init_gated(
    arch: Architecture,
    params: Mapping[str, float],
    *,
    N: int,
    n_inputs: int,
    n_classes: int,
    seed: int,
    input_scale: float = 1.0,
    readout: str | None = None,
) -> GatedNetwork:
    """Draw a network: recurrent weights and biases exactly as :func:`rmtgate.simulation.simulate`.

    ``U_k`` and per-neuron biases come from ``simulate(arch, params, N=N, seed=seed)`` (same
    draw order, same numbers); input matrices ``V_k ~ N(0, input_scale²/n_inputs)`` and the
    readout ``W_out ~ N(0, 1/N)`` (``b_out = 0``) come from a generator seeded with ``seed + 1``,
    so they do not perturb the ensemble draw.  ``readout`` is the state variable read out
    (default ``h`` if the architecture has it, else its last state variable).
    """
    N = check_integer(N, "N", 2)
    n_inputs = check_integer(n_inputs, "n_inputs", 1)
    n_classes = check_integer(n_classes, "n_classes", 2)
    input_scale = check_nonnegative(input_scale, "input_scale")
    if readout is None:
        readout = "h" if "h" in arch.state else arch.state[-1]
    if readout not in arch.state:
        raise StateError(expected(f"a state variable of {arch.name} ({list(arch.state)})", "readout", readout))
    resolved = resolve_parameters(arch, params)
    sim = simulate(arch, resolved, N=N, steps=1, seed=seed)
    weights: dict[str, np.ndarray] = {}
    for fld in arch.local_form.fields:
        weights[fld.matrix] = np.asarray(sim.matrices[fld.matrix][0], dtype=float)
    for b in _trainable_biases(arch):
        weights[b] = np.asarray(sim.biases[b][0], dtype=float) if b in sim.biases else np.full(N, float(resolved[b]))
    rng = np.random.default_rng(seed + 1)
    for fld in arch.local_form.fields:
        weights[f"V_{fld.matrix}"] = rng.standard_normal((N, n_inputs)) * (input_scale / math.sqrt(n_inputs))
    weights["W_out"] = rng.standard_normal((N, n_classes)) / math.sqrt(N)
    weights["b_out"] = np.zeros(n_classes)
    return GatedNetwork(arch, dict(resolved), weights, readout)


# ------------------------------------------------------------------------------------------ forward / backward
def _fixed_parameters(model: GatedModel, params: Mapping[str, float], weights: Mapping[str, Any]) -> list[Any]:
    """Arguments for the architecture's parameters: trainable biases as (N,) arrays, others scalars."""
    return [weights[p.name] if p.name in model.biases else params[p.name] for p in model.architecture.parameters]


def _stacked(model: GatedModel, weights: Mapping[str, Any], prefix: str = "") -> list[Any]:
    """Per field group, its matrices stacked along the output axis: ``(k N, ·)`` (one GEMM per group)."""
    xp = model.backend.xp
    names = model.matrices
    return [xp.concatenate([weights[prefix + names[k]] for k in group], axis=0) for group in model.groups]


def _full(xp: Any, value: Any, shape: tuple[int, int], dtype: Any) -> Any:
    # lambdify returns constants (a presynaptic vector u = 1, a new state = 0) as scalars
    if getattr(value, "shape", ()) == shape:
        return value
    return xp.broadcast_to(xp.asarray(value, dtype=dtype), shape)


class _Workspace(threading.local):
    """Tape buffers of the last batch, reused by the next one of the same shape (one set per thread).

    A fresh tape is tens of MB per batch; allocating it anew each time costs a page fault per
    4 KiB on first touch, which measured as a third of a training step at N = 256, batch 100
    (numpy; CuPy's memory pool already reuses device memory).
    """

    def __init__(self) -> None:
        self.buffers: dict[tuple[Any, ...], Any] = {}

    def empty(self, xp: Any, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        key = (name, shape, str(dtype))
        buffer = self.buffers.get(key)
        if buffer is None:
            # a new shape replaces the old buffers of that name instead of accumulating them
            self.buffers = {k: v for k, v in self.buffers.items() if k[0] != name}
            buffer = self.buffers[key] = xp.empty(shape, dtype=dtype)
        return buffer


_WORKSPACE = _Workspace()


def _allocator(xp: Any, dtype: Any, reuse: bool) -> Any:
    """``empty(name, shape)``: the per-thread reused buffer of that name (numpy with ``reuse``), else a new array."""
    if reuse and xp is np:
        return lambda name, shape: _WORKSPACE.empty(xp, name, shape, dtype)
    return lambda name, shape: xp.empty(shape, dtype=dtype)


def run_forward(
    model: GatedModel,
    params: Mapping[str, float],
    weights: Mapping[str, Any],
    inputs: Any,
    *,
    keep: bool = True,
    reuse: bool = False,
) -> tuple[list[Any], dict[str, Any]]:
    """Iterate the network over ``inputs (B,T,n_in)`` from the zero state; return the last state.

    With ``keep`` the tape for the backward pass is returned: states ``s[i] (T,B,N)`` (where each
    step started), and per field group the presynaptic vector ``u[g] (T,B,N)`` and the fields
    ``eta[g] (T,B,kN)``.  With ``reuse`` (numpy only) the tape lives in per-thread buffers that
    the next ``reuse`` call overwrites: for callers that are done with it before calling again.
    """
    xp = model.backend.xp
    arch = model.architecture
    B, T, _ = inputs.shape
    N = weights["W_out"].shape[0]
    dtype = weights["W_out"].dtype
    empty = _allocator(xp, dtype, reuse)
    x_t = xp.ascontiguousarray(xp.transpose(inputs, (1, 0, 2)))  # (T, B, n_in)
    n_in = x_t.shape[2]
    # The input drive V x_t rides in the recurrent GEMM: each group's presynaptic rows are
    # [u_t, x_t] and its matrix [U | V] (stored transposed and contiguous, as BLAS prefers),
    # so a step is one GEMM per group with no separate drive array or addition.
    recurrent = [
        xp.ascontiguousarray(xp.concatenate([U, V], axis=1).T)  # (N + n_in, kN)
        for U, V in zip(_stacked(model, weights), _stacked(model, weights, "V_"), strict=True)
    ]
    rows = [
        empty(f"u{g}", (T, B, N + n_in)) if keep else xp.empty((1, B, N + n_in), dtype=dtype)
        for g in range(len(model.groups))
    ]
    if keep:
        for r in rows:
            r[:, :, N:] = x_t
    pvals = _fixed_parameters(model, params, weights)
    state = [xp.zeros((B, N), dtype=dtype) for _ in arch.state]
    tape: dict[str, Any] = {}
    if keep:
        tape = {
            "s": [empty(f"s{i}", (T, B, N)) for i in range(len(arch.state))],
            "u": rows,  # (T, B, N + n_in): the presynaptic vector, then the input
            "eta": [empty(f"eta{g}", (T, B, len(group) * N)) for g, group in enumerate(model.groups)],
            "d": [],  # per step: the partial derivatives at (s_t, η_t), from the forward pass
        }
    partial_tape: dict[tuple[str, int, int], Any] = {}
    n_state = len(arch.state)
    etas: list[Any] = [0.0] * len(model.matrices)
    for t in range(T):
        for g, group in enumerate(model.groups):
            # fields of one group share their presynaptic vector: evaluate it once, one GEMM
            row = rows[g][t if keep else 0]
            row[:, :N] = model.step.field_inputs[group[0]](*state, *etas, *pvals)
            if keep:
                block = tape["eta"][g][t]
                xp.matmul(row, recurrent[g], out=block)
            else:
                row[:, N:] = x_t[t]
                block = row @ recurrent[g]
            for j, k in enumerate(group):
                etas[k] = block[:, j * N : (j + 1) * N]
        if keep:
            for i, s in enumerate(state):
                tape["s"][i][t] = s
            values = model.update_and_partials(*state, *etas, *pvals)
            partials = {}
            for key, value in zip(model.partials, values[n_state:], strict=True):
                if getattr(value, "shape", ()) != (B, N):  # a constant partial stays a scalar
                    partials[key] = value
                    continue
                # copied into the reused tape: the fresh arrays are freed at once and their memory
                # recycled, where keeping them would fault in new pages every batch
                if key not in partial_tape:
                    partial_tape[key] = empty("d" + "".join(map(str, key)), (T, B, N))
                partial_tape[key][t] = value
                partials[key] = partial_tape[key][t]
            tape["d"].append(partials)
            new = values[:n_state]
        else:
            new = model.step.new_state(*state, *etas, *pvals)
        state = [_full(xp, v, (B, N), dtype) for v in new]
        etas = [0.0] * len(model.matrices)
    return state, tape


def _softmax_cross_entropy(xp: Any, logits: Any, labels: Any) -> tuple[float, Any]:
    """Mean cross-entropy over the batch and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # stable log-sum-exp
    exp = xp.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = xp.arange(logits.shape[0])
    value = float((xp.log(total[:, 0]) - shifted[rows, labels]).mean())
    grad = exp / total
    grad[rows, labels] -= 1.0
    return value, grad / logits.shape[0]


def logits_of(
    model: GatedModel, net_params: Mapping[str, float], weights: Mapping[str, Any], inputs: Any, readout: str
) -> Any:
    """Class logits ``(B, C)`` of a batch (forward only, nothing kept for the backward pass)."""
    state, _ = run_forward(model, net_params, weights, inputs, keep=False)
    return state[model.architecture.state.index(readout)] @ weights["W_out"] + weights["b_out"]


def loss_and_gradients(
    model: GatedModel,
    net_params: Mapping[str, float],
    weights: Mapping[str, Any],
    inputs: Any,
    labels: Any,
    readout: str,
) -> tuple[float, dict[str, Any], Any]:
    """Cross-entropy of a batch, its gradient for every weight (BPTT), and the logits.

    ``inputs (B,T,n_in)`` and integer ``labels (B,)`` are arrays of the model's backend.  The
    backward step (:func:`_backward_step`) takes ``g_s = ∂L/∂s_{t+1}`` and, with the partial
    derivatives evaluated at ``(s_t, η_t)``, goes through the fields in reverse dependency order:
    ``g_η_k = Σ_i g_s_i ∂F_i/∂η_k + Σ_{j>k} g_u_j ∂u_j/∂η_k`` and ``g_u_k = g_η_k U_k``, then
    ``∂L/∂s_t = Σ_i g_s_i ∂F_i/∂s + Σ_k g_u_k ∂u_k/∂s``.  Weight gradients are accumulated
    after the loop as one GEMM over all ``(t, b)`` per field group.
    """
    xp = model.backend.xp
    arch = model.architecture
    n = len(arch.state)
    state, tape = run_forward(model, net_params, weights, inputs, keep=True, reuse=True)
    r = arch.state.index(readout)
    logits = state[r] @ weights["W_out"] + weights["b_out"]
    value, g_logits = _softmax_cross_entropy(xp, logits, labels)
    grads: dict[str, Any] = {"W_out": state[r].T @ g_logits, "b_out": g_logits.sum(axis=0)}
    g_s: list[Any] = [None] * n
    g_s[r] = g_logits @ weights["W_out"].T
    B, T, _ = inputs.shape
    N = weights["W_out"].shape[0]
    pvals = _fixed_parameters(model, net_params, weights)
    stacked = _stacked(model, weights)
    empty = _allocator(xp, weights["W_out"].dtype, reuse=True)
    g_eta_tape = [empty(f"g_eta{g}", e.shape) for g, e in enumerate(tape["eta"])]
    for g_eta in g_eta_tape:
        g_eta.fill(0)  # a field with no gradient flow keeps its zeros
    g_bias = {b: xp.zeros(N, dtype=weights["W_out"].dtype) for b in model.biases}
    for t in range(T - 1, -1, -1):
        s_t = [tape["s"][i][t] for i in range(n)]
        e_t = _field_views(model, [e[t] for e in tape["eta"]], N)
        g_s = _backward_step(model, stacked, s_t, e_t, pvals, g_s, [g[t] for g in g_eta_tape], g_bias, tape["d"][t])
    names = model.matrices
    for g, group in enumerate(model.groups):
        g_flat = g_eta_tape[g].reshape(T * B, -1)
        # (kN, N + n_in): every field of the group, recurrent and input weights, in one GEMM
        dUV = g_flat.T @ tape["u"][g].reshape(T * B, -1)
        dU, dV = xp.ascontiguousarray(dUV[:, :N]), xp.ascontiguousarray(dUV[:, N:])
        for j, k in enumerate(group):
            grads[names[k]] = dU[j * N : (j + 1) * N]
            grads["V_" + names[k]] = dV[j * N : (j + 1) * N]
    for b, k in model.field_biases.items():
        g = next(i for i, group in enumerate(model.groups) if k in group)
        j = model.groups[g].index(k)
        g_bias[b] = g_eta_tape[g][:, :, j * N : (j + 1) * N].sum(axis=(0, 1))
    grads.update(g_bias)
    return value, grads, logits


def _field_views(model: GatedModel, blocks: list[Any], N: int) -> list[Any]:
    """Per-field ``(B, N)`` views into the per-group ``(B, kN)`` blocks, in field order."""
    views: list[Any] = [None] * len(model.matrices)
    for block, group in zip(blocks, model.groups, strict=True):
        for j, k in enumerate(group):
            views[k] = block[:, j * N : (j + 1) * N]
    return views


def _backward_step(
    model: GatedModel,
    stacked: list[Any],
    s_t: list[Any],
    e_t: list[Any],
    pvals: list[Any],
    g_s: list[Any],
    g_eta_out: list[Any],
    g_bias: dict[str, Any] | None,
    partials: dict[tuple[str, int, int], Any] | None = None,
) -> list[Any]:
    """One step of BPTT: from ``g_s = ∂L/∂s_{t+1}`` to ``∂L/∂s_t``.

    Writes ``∂L/∂η`` of each group into ``g_eta_out[g]`` (``(B, kN)``) and adds the bias
    gradients (summed over the batch) into ``g_bias``.  Structurally zero partial derivatives
    are skipped and those identically 1 cost no multiplication; fields of a group share one
    presynaptic vector, so ``∂L/∂u`` of a group is one GEMM ``[g_η_k]_k @ [U_k]_k``.  ``partials``
    (from the forward tape) spares evaluating the partial derivatives again.
    """
    form = model.architecture.local_form
    n, n_fields = len(s_t), len(form.fields)
    N = s_t[0].shape[-1]
    if partials is not None:
        d = partials
    else:
        d = dict(zip(model.partials, model.derivatives(*s_t, *e_t, *pvals), strict=True)) if model.derivatives else {}
    ones = model.ones

    def coef(key: tuple[str, int, int], g: Any) -> Any:
        if g is None or (key not in d and key not in ones):
            return None
        return g if key in ones else g * d[key]

    g_u: list[Any] = [None] * n_fields  # ∂L/∂u per group, stored at the group's first field
    for g in range(len(model.groups) - 1, -1, -1):
        group = model.groups[g]
        any_flow = False
        for j, k in enumerate(group):
            terms = [coef(("Fe", i, k), g_s[i]) for i in range(n)]
            terms += [coef(("ue", m, k), g_u[m]) for m in range(k + 1, n_fields)]
            acc = _sum(terms)
            if acc is not None:
                g_eta_out[g][:, j * N : (j + 1) * N] = acc
                any_flow = True
        if any_flow:
            g_u[group[0]] = g_eta_out[g] @ stacked[g]
    if g_bias is not None:
        for j, b in enumerate(model.biases):
            if b in model.field_biases:
                continue
            terms = [coef(("Fb", i, j), g_s[i]) for i in range(n)]
            terms += [coef(("ub", k, j), g_u[k]) for k in range(n_fields)]
            acc = _sum(terms)
            if acc is not None:
                g_bias[b] += acc.sum(axis=0)
    new_g: list[Any] = []
    for j in range(n):
        terms = [coef(("Fs", i, j), g_s[i]) for i in range(n)]
        terms += [coef(("us", k, j), g_u[k]) for k in range(n_fields)]
        new_g.append(_sum(terms))
    return new_g


def _sum(terms: list[Any]) -> Any:
    """Sum of the non-``None`` terms (``None`` if there are none): skips structural zeros."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    out = present[0]
    for term in present[1:]:
        out = out + term
    return out


def step_jacobian(net: GatedNetwork, state: Mapping[str, np.ndarray], inputs: np.ndarray | None = None) -> np.ndarray:
    """State-to-state Jacobian ``(nN, nN)`` of one step at ``state``, driven by ``inputs (n_in,)`` (default 0).

    Built from the backward step alone: the vector-Jacobian products of the ``nN`` unit vectors
    are the rows of ``J``.  This shares no code with :func:`rmtgate.simulation.jacobian_matrices`
    (which assembles ``J`` from the linearization), so agreement tests the backward pass.
    Block order is ``arch.state``.
    """
    arch = net.architecture
    model = compile_gated(arch, "numpy")
    n, N = len(arch.state), net.N
    nN = n * N
    w = net.weights
    pvals = _fixed_parameters(model, net.params, w)
    s = [np.ascontiguousarray(np.broadcast_to(np.asarray(state[name], dtype=float), (nN, N))) for name in arch.state]
    stacked = _stacked(model, w)
    stacked_in = _stacked(model, w, "V_")
    etas: list[Any] = [0.0] * len(model.matrices)
    for g, group in enumerate(model.groups):
        u = _full(np, model.step.field_inputs[group[0]](*s, *etas, *pvals), (nN, N), float)
        block = u @ stacked[g].T
        if inputs is not None:  # the input shifts the fields, hence where the partials are taken
            block = block + stacked_in[g] @ np.asarray(inputs, dtype=float)
        for j, k in enumerate(group):
            etas[k] = block[:, j * N : (j + 1) * N]
    eye = np.eye(nN)
    g_s = [eye[:, i * N : (i + 1) * N] for i in range(n)]  # batch row r seeds ∂L/∂s'_r = 1
    scratch = [np.zeros((nN, len(g) * N)) for g in model.groups]
    rows = _backward_step(model, stacked, s, etas, pvals, g_s, scratch, None)
    return np.concatenate([np.zeros((nN, N)) if r is None else r for r in rows], axis=1)


def driven_jacobian(net: GatedNetwork, sequence: np.ndarray) -> np.ndarray:
    """Jacobian of the last step of ``sequence (T, n_in)``: at the state the input has driven it to."""
    model = compile_gated(net.architecture, "numpy")
    x = np.asarray(sequence, dtype=float)[None]
    _, tape = run_forward(model, net.params, net.weights, x, keep=True)
    state = {name: tape["s"][i][-1, 0] for i, name in enumerate(net.architecture.state)}
    return step_jacobian(net, state, x[0, -1])
