"""Finite-N simulation of any architecture, and its numerically assembled Jacobian.

Everything here is generic: the network is iterated through :func:`rmtgate.compile.compile_step`
(the architecture's own local map) and the Jacobian is assembled from the linearization
``M = A + B U C`` of :func:`rmtgate.linearization.linearize`, so that a user-declared
architecture is simulated and linearized exactly like the built-ins.  Finite-N spectra are
the reference every theoretical prediction (boundary curves, densities, radii) is checked
against, which is why the result keeps the per-neuron local sample that those formulas
average over.

Conventions ([G], see ``docs/explanation/theory.md``):

* ``(U_k)_ij ~ N(0, a_k²/N)`` i.i.d., drawn as a batch ``(ensemble, N, N)``;
* a bias ``b`` listed in ``arch.bias_variances`` as ``(b, v)`` is drawn per neuron ``N(b, v)``
  (``v`` is a variance); other biases are the scalar parameter value;
* the initial state is ``N(0, initial_scale²)`` per neuron and state variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import DerivationError, ParameterError, StateError, expected
from rmtgate.numerics.compile import compile_step, lambdify_local
from rmtgate.numerics.parameters import resolve_parameters
from rmtgate.simulation.backends import Backend, get_backend
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.linearization import Linearization, linearize
from rmtgate.validation import check_integer, check_real

SUPPORTED_DTYPES = ("float32", "float64")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """The network after ``transient + steps`` updates, with everything its last Jacobian needs.

    Arrays live on ``backend`` (numpy or cupy) and have a leading ensemble axis ``K``:
    ``matrices[name]`` is ``K×N×N``; ``state``, ``previous_state``, ``fields`` and ``biases``
    map names to ``K×N`` arrays; ``traces[s]`` is ``steps×K×N`` (the state after each of the
    ``steps`` recorded updates; the ``transient`` updates before them are not recorded).

    ``fields`` holds ``eta_k = U_k u_k`` (bias excluded, as in the local form) computed during
    the last update, i.e. from ``previous_state``; ``state`` is the result of that update.
    """

    architecture: Architecture
    params: dict[str, float]
    N: int
    ensemble: int
    steps: int
    transient: int
    backend: Backend
    dtype: np.dtype
    matrices: dict[str, Any]
    biases: dict[str, Any]
    previous_state: dict[str, Any]
    state: dict[str, Any]
    fields: dict[str, Any]
    traces: dict[str, Any] = field(default_factory=dict)

    @property
    def n_state(self) -> int:
        return len(self.architecture.state)

    def parameter_values(self) -> dict[str, Any]:
        """Parameter name → value as the compiled expressions see it.

        Scalars for ordinary parameters; ``K×N`` arrays for biases drawn per neuron.
        """
        values: dict[str, Any] = dict(self.params)
        values.update(self.biases)
        return values

    def local_sample(self, *, as_numpy: bool = False) -> dict[str, Any]:
        """Per-neuron values (``K×N``) that the Jacobian of the last update depends on.

        Keys are symbol names: the state variables (values of ``previous_state``, where the
        last update started), the fields ``eta_*`` of the last update, and the biases that
        were drawn per neuron (if any).  These are the samples the spectral formulas average
        over (``E`` over neurons in ``L(λ)``).  ``as_numpy`` copies device arrays to host.
        """
        sample: dict[str, Any] = {**self.previous_state, **self.fields, **self.biases}
        if as_numpy:
            return {k: self.backend.asnumpy(v) for k, v in sample.items()}
        return sample


# ---------------------------------------------------------------------------------------- input checks
def _dtype(value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise ParameterError(expected(f"one of {list(SUPPORTED_DTYPES)}", "dtype", value)) from None
    if dtype.name not in SUPPORTED_DTYPES:
        raise ParameterError(expected(f"one of {list(SUPPORTED_DTYPES)}", "dtype", value))
    return dtype


def _seed(value: Any) -> int | np.random.Generator:
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ParameterError(expected("a non-negative integer or a numpy.random.Generator", "seed", value))
    return int(value)


def _scale(value: Any) -> float:
    return check_real(value, "initial_scale", minimum=0.0, what="a finite non-negative number")


def _record(arch: Architecture, record: Sequence[str] | str) -> tuple[str, ...]:
    names = (record,) if isinstance(record, str) else tuple(record)
    for name in names:
        if name not in arch.state:
            raise StateError(expected(f"state variables of {arch.name} ({list(arch.state)}) to record", "record", name))
    return names


def _numeric(expr: sympy.Expr, values: Mapping[str, float], what: str) -> float:
    """A matrix scale or bias variance: a number in the architecture, or a parameter's value."""
    if isinstance(expr, sympy.Symbol):
        return float(values[expr.name])
    if expr.is_number:
        return float(expr)
    raise ParameterError(expected(f"a number or parameter name for {what}", what, str(expr)))


def _per_neuron(xp: Any, value: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """``value`` as a ``shape`` array of ``dtype`` (lambdify returns constants as scalars)."""
    array = xp.asarray(value, dtype=dtype)
    if array.shape != shape:
        array = xp.broadcast_to(array, shape).copy()
    return array


# ---------------------------------------------------------------------------------------- simulation
def simulation_memory(arch: Architecture, N: int, *, ensemble: int = 1, dtype: str | np.dtype = "float64") -> int:
    """Bytes a simulation plus its Jacobian eigenvalues needs, roughly (the dominant N² terms).

    ``ensemble × (matrices × N² + 3 × (n_state·N)²) × itemsize``: the random matrices, then
    the assembled Jacobian with LAPACK's copy and workspace.  Used to refuse a run before
    numpy fails half-way with a MemoryError (or the machine starts swapping).
    """
    itemsize = _dtype(dtype).itemsize
    n = len(arch.state) * N
    return int(ensemble) * (len(arch.matrices) * N * N + 3 * n * n) * itemsize


def available_memory() -> int | None:
    """Physical memory available now, in bytes (``MemAvailable``, else ``os.sysconf``); None if unknown."""
    import os

    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(arch: Architecture, N: int, *, ensemble: int = 1, dtype: str | np.dtype = "float64") -> None:
    """Raise :class:`ParameterError` when ``simulation_memory`` exceeds the available memory."""
    need = simulation_memory(arch, N, ensemble=ensemble, dtype=dtype)
    have = available_memory()
    if have is not None and need > have:
        raise ParameterError(
            expected(
                f"a network that fits in memory (N={N}, ensemble={ensemble} needs about {need / 2**30:.1f} GiB, "
                f"{have / 2**30:.1f} GiB available)",
                "N",
                N,
            )
        )


def simulate(
    arch: Architecture,
    params: Mapping[str, float],
    *,
    N: int,
    steps: int,
    seed: int | np.random.Generator,
    backend: str | Backend = "numpy",
    dtype: str | np.dtype = "float64",
    ensemble: int = 1,
    transient: int = 0,
    record: Sequence[str] = (),
    initial_scale: float = 1.0,
) -> SimulationResult:
    """Draw ``ensemble`` networks of size ``N`` and iterate them ``transient + steps`` times.

    Random numbers are drawn in a fixed order (matrices in declaration order, then per-neuron
    biases, then the initial state) before any update, so a given seed gives the same
    network whatever ``steps``, ``transient`` or ``record`` are; on the CPU the same seed
    gives bit-identical results.  The cupy backend uses the device RNG (seeded from
    ``seed``), so its numbers differ from numpy's.

    Raises :class:`~rmtgate.errors.ParameterError` for bad sizes, dtype, seed or parameters
    (via :func:`rmtgate.parameters.resolve_parameters`), :class:`~rmtgate.errors.StateError`
    for a ``record`` name that is not a state variable, and
    :class:`~rmtgate.errors.BackendUnavailable` for an unusable backend.

    Args:
        params: parameter values by name (matrix scales required; others default to 0).
        N: neurons per network (at least 2).
        steps: recorded updates (time steps of the discrete map); ``transient``: updates before.
        backend: ``"numpy"``, ``"cupy"`` or a :class:`~rmtgate.simulation.backends.Backend`.
        ensemble: independent networks simulated together (leading axis of every array).
        record: state variables whose whole trajectory is kept in ``traces``.
        initial_scale: standard deviation of the i.i.d. Gaussian initial state.

    Returns a :class:`SimulationResult`: matrices, biases, the last two states and the fields
    of the last update (what :func:`jacobian_eigvals` needs).
    """
    if not isinstance(arch, Architecture):
        raise ParameterError(expected("an rmtgate.Architecture", "arch", arch))
    N = check_integer(N, "N", 2)
    steps = check_integer(steps, "steps", 1)
    ensemble = check_integer(ensemble, "ensemble", 1)
    transient = check_integer(transient, "transient", 0)
    dtype_ = _dtype(dtype)
    seed_ = _seed(seed)
    scale0 = _scale(initial_scale)
    recorded = _record(arch, record)
    if not isinstance(params, Mapping):
        raise ParameterError(expected("a mapping of parameter names to numbers", "params", params))
    resolved = resolve_parameters(arch, params)
    be = get_backend(backend)
    if be.name == "numpy":  # device memory of the cupy backend is CuPy's to report
        check_memory(arch, N, ensemble=ensemble, dtype=dtype_)
    xp = be.xp
    generator = be.make_generator(seed_)
    shape = (ensemble, N)

    matrices: dict[str, Any] = {}
    for matrix in arch.matrices:
        a = _numeric(matrix.variance, resolved, f"scale of {matrix.name}")
        draw = be.random_normal(generator, (ensemble, N, N), dtype_)
        draw *= dtype_.type(a / math.sqrt(N))
        matrices[matrix.name] = draw
    biases: dict[str, Any] = {}
    for bias, variance in arch.bias_variances:
        v = _numeric(variance, resolved, f"variance of {bias}")
        draw = be.random_normal(generator, shape, dtype_)
        biases[bias] = draw * dtype_.type(math.sqrt(v)) + dtype_.type(resolved[bias])
    state: dict[str, Any] = {}
    for name in arch.state:
        draw = be.random_normal(generator, shape, dtype_)
        state[name] = draw * dtype_.type(scale0)

    parameters: dict[str, Any] = {**resolved, **biases}
    step = compile_step(arch, be.name)
    traces = {name: xp.empty((steps, *shape), dtype=dtype_) for name in recorded}
    previous = state
    fields: dict[str, Any] = {}
    for t in range(transient + steps):
        new, fields = step(state, matrices, parameters)
        previous = state
        state = {name: _per_neuron(xp, value, shape, dtype_) for name, value in new.items()}
        if t >= transient:
            for name in recorded:
                traces[name][t - transient] = state[name]
    fields = {name: _per_neuron(xp, value, shape, dtype_) for name, value in fields.items()}
    return SimulationResult(
        architecture=arch,
        params=resolved,
        N=N,
        ensemble=ensemble,
        steps=steps,
        transient=transient,
        backend=be,
        dtype=dtype_,
        matrices=matrices,
        biases=biases,
        previous_state=previous,
        state=state,
        fields=fields,
        traces=traces,
    )


# ---------------------------------------------------------------------------------------- Jacobian
def _linearization_for(result: SimulationResult, linearization: Linearization | None) -> Linearization:
    arch = result.architecture
    if linearization is None:
        return linearize(arch)
    if linearization.architecture != arch:
        raise ParameterError(
            expected(f"a linearization of {arch.name}", "linearization", linearization.architecture.name)
        )
    return linearization


def jacobian_matrices(result: SimulationResult, linearization: Linearization | None = None) -> Any:
    """Dense state-to-state Jacobian of the last update, ``K × nN × nN`` on the result's backend.

    Assembled from ``M = A + B U C`` by eliminating the field blocks: with ``X_k = ∂eta_k/∂s``
    (an ``N × nN`` block row), ``X_k = U_k (C_{k,s} + Σ_{j<k} diag(C_{kj}) X_j)`` — fields are
    in dependency order, so one pass suffices — and ``J = A_ss + Σ_k diag(A_{s,k}) X_k``.  The
    diagonal coefficients are the linearization's local expressions evaluated on
    :meth:`SimulationResult.local_sample`.  Block order is ``arch.state``.  This route shares no
    code with the symbolic Jacobian (:mod:`rmtgate.jacobian`) or with finite differences of the
    step map, which is what makes those comparisons tests of the linearization.
    """
    lin = _linearization_for(result, linearization)
    arch = result.architecture
    form = arch.local_form
    be, xp, dtype = result.backend, result.backend.xp, result.dtype
    n, n_fields = len(form.state), len(lin.fields)
    K, N = result.ensemble, result.N
    shape = (K, N)
    A, C = lin.A, lin.C
    for k in range(n_fields):
        for j in range(k, n_fields):
            if C[k, n + j] != 0:
                raise DerivationError(
                    expected("field inputs that use only earlier fields", f"C[{k},{n + j}]", str(C[k, n + j]))
                )

    # every nonzero diagonal coefficient, compiled once (with CSE across all of them)
    wanted: dict[tuple[str, int, int], sympy.Expr] = {}
    for i in range(n):
        for j in range(n + n_fields):
            if A[i, j] != 0:
                wanted[("A", i, j)] = A[i, j]
    for k in range(n_fields):
        for j in range(n + k):
            if C[k, j] != 0:
                wanted[("C", k, j)] = C[k, j]
    arguments = (*form.state, *form.field_symbols, *arch.parameters)
    sample = result.local_sample()
    parameter_values = result.parameter_values()
    args = [sample[s.name] for s in form.state]
    args += [sample[s.name] for s in form.field_symbols]
    args += [parameter_values[p.name] for p in arch.parameters]
    values: dict[tuple[str, int, int], Any] = {}
    if wanted:
        function = lambdify_local(arguments, tuple(wanted.values()), be.name)
        evaluated = function(*args)
        values = {key: _per_neuron(xp, v, shape, dtype) for key, v in zip(wanted, evaluated, strict=True)}

    nN = n * N
    idx = xp.arange(N)
    J = xp.zeros((K, nN, nN), dtype=dtype)
    for i in range(n):
        for j in range(n):
            if ("A", i, j) in values:
                J[:, i * N + idx, j * N + idx] += values[("A", i, j)]

    X: list[Any] = []
    for k, fld in enumerate(lin.fields):
        U = result.matrices[fld.matrix]
        earlier = [j for j in range(k) if ("C", k, n + j) in values]
        if not earlier:
            # U_k · [diag(c_1) ... diag(c_n)]: column scaling, no matrix product needed
            Xk = xp.zeros((K, N, nN), dtype=dtype)
            for j in range(n):
                if ("C", k, j) in values:
                    Xk[:, :, j * N : (j + 1) * N] = U * values[("C", k, j)][:, None, :]
        else:
            inner = xp.zeros((K, N, nN), dtype=dtype)
            for j in range(n):
                if ("C", k, j) in values:
                    inner[:, idx, j * N + idx] = values[("C", k, j)]
            for j in earlier:
                inner += values[("C", k, n + j)][:, :, None] * X[j]
            Xk = U @ inner
        X.append(Xk)
    for i in range(n):
        for k in range(n_fields):
            if ("A", i, n + k) in values:
                J[:, i * N : (i + 1) * N, :] += values[("A", i, n + k)][:, :, None] * X[k]
    return J


def jacobian_eigvals(result: SimulationResult, linearization: Linearization | None = None) -> np.ndarray:
    """Eigenvalues ``(K, nN)`` of the last update's Jacobian, as a complex numpy array.

    Computed by the result's backend (LAPACK ``geev`` or cuSOLVER); non-finite Jacobians (a
    diverged simulation) raise :class:`~rmtgate.errors.StateError` instead of reaching
    the eigensolver.
    """
    J = jacobian_matrices(result, linearization)
    xp = result.backend.xp
    if not bool(xp.isfinite(J).all()):
        raise StateError(expected("a finite Jacobian (did the simulation diverge?)", "jacobian", "non-finite entries"))
    return np.asarray(result.backend.eigvals(J)).astype(np.result_type(result.dtype, np.complex64))
