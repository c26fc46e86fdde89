"""Compile an architecture's local map into array code (numpy, cupy, mpmath).

Every elementwise expression goes through SymPy's ``lambdify`` with common-subexpression
elimination and the nonlinearity registry's implementations for the backend.  The generated
source of each function is kept in ``sources`` for inspection.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy

from rmtgate.errors import BackendUnavailable, expected
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.functions import backend_namespace


def lambdify_local(
    symbols: tuple[sympy.Symbol, ...], expr: sympy.Expr | tuple[sympy.Expr, ...], backend: str = "numpy"
) -> Callable[..., Any]:
    """``lambdify`` with the backend's nonlinearities and CSE."""
    if backend not in ("numpy", "cupy", "mpmath"):
        raise BackendUnavailable(expected("one of 'numpy', 'cupy', 'mpmath'", "backend", backend))
    modules = [backend_namespace(backend), backend]
    return sympy.lambdify(symbols, expr, modules=modules, cse=True)


@dataclass(frozen=True)
class CompiledStep:
    """One network step ``s → s'`` for a backend, with the fields it computes on the way.

    ``field_inputs[k](*state, *fields, *parameters)`` is the presynaptic vector of field k
    (fields not yet computed may be passed as 0: they do not enter); ``new_state`` returns
    the new state tuple.  ``arguments`` lists the symbols in call order.
    """

    architecture: Architecture
    backend: str
    arguments: tuple[sympy.Symbol, ...]
    field_inputs: tuple[Callable[..., Any], ...]
    new_state: Callable[..., Any]
    sources: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        state: Mapping[str, Any],
        matrices: Mapping[str, Any],
        parameters: Mapping[str, Any],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return ``(new_state, fields)`` as dicts of per-neuron arrays.

        ``matrices[name]`` is an N×N array (or a batch ``K×N×N`` with states ``K×N``).
        """
        arch = self.architecture
        form = arch.local_form
        values: dict[str, Any] = {s: state[s] for s in arch.state}
        fields: dict[str, Any] = {f.symbol.name: 0.0 for f in form.fields}
        param_values = [parameters[p.name] for p in arch.parameters]
        for fld, make_input in zip(form.fields, self.field_inputs, strict=True):
            vector = make_input(*[values[s] for s in arch.state], *fields.values(), *param_values)
            matrix = matrices[fld.matrix]
            fields[fld.symbol.name] = _matvec(matrix, vector, values[arch.state[0]])
        new = self.new_state(*[values[s] for s in arch.state], *fields.values(), *param_values)
        return dict(zip(arch.state, new, strict=True)), fields


def _matvec(matrix: Any, vector: Any, like: Any) -> Any:
    # a constant presynaptic vector (e.g. u = 1) comes back from lambdify as a scalar
    if getattr(vector, "shape", ()) != getattr(like, "shape", None):
        vector = vector + 0 * like
    if getattr(matrix, "ndim", 2) == 3:
        return (matrix @ vector[..., None])[..., 0]
    return matrix @ vector


def compile_step(arch: Architecture, backend: str = "numpy") -> CompiledStep:
    """Compile the update map of ``arch`` for ``backend``."""
    form = arch.local_form
    arguments = (*form.state, *form.field_symbols, *arch.parameters)
    inputs = tuple(lambdify_local(arguments, f.input, backend) for f in form.fields)
    new_state = lambdify_local(arguments, tuple(form.new_state), backend)
    sources = {f"input[{f.matrix}]": inspect.getsource(fn) for f, fn in zip(form.fields, inputs, strict=True)}
    sources["new_state"] = inspect.getsource(new_state)
    return CompiledStep(arch, backend, arguments, inputs, new_state, sources)
