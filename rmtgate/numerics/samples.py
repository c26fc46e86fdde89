"""Samples of local variables: what the expectations of the boundary average over.

The expectations in ``L_kl(λ) = a_k² E[|T_kl(λ)|²]`` are averages over a *sample* of local
variables (:class:`LocalSample`): the per-neuron state and fields of a network, a saved
``.npz``, mean-field draws, or a closed-form state such as the zero fixed point (one sample,
:func:`zero_state`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import StateError, expected
from rmtgate.symbolic.boundary import Boundary

# ------------------------------------------------------------------------------ samples


@dataclass(frozen=True)
class LocalSample:
    """Per-neuron values of local variables: name → 1-D array (all the same length).

    Keys are state names (the state the step starts from) and field names (``eta_k``);
    per-neuron parameter arrays (random biases) may be included and override scalars.
    """

    values: Mapping[str, np.ndarray]
    source: str = "sample"

    @property
    def size(self) -> int:
        return len(next(iter(self.values.values())))

    @classmethod
    def from_arrays(cls, values: Mapping[str, Any], *, source: str = "sample") -> LocalSample:
        if not values:
            raise StateError(expected("a non-empty sample of local variables", "sample", dict(values)))
        arrays: dict[str, np.ndarray] = {}
        shape = None
        for name, raw in values.items():
            try:
                array = np.asarray(raw, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                raise StateError(expected(f"a real array for {name}", name, raw)) from None
            if array.size == 0:
                raise StateError(expected(f"at least one value for {name}", name, raw))
            if shape is not None and array.shape != shape:
                raise StateError(
                    expected(f"{name} with {shape[0]} values like the others", name, f"{array.size} values")
                )
            if not np.all(np.isfinite(array)):
                raise StateError(expected(f"finite values for {name}", name, "array with NaN/inf"))
            shape = array.shape
            arrays[name] = array
        return cls(arrays, source)

    @classmethod
    def load(cls, path: str) -> LocalSample:
        """Read an ``.npz`` file whose arrays are named like the local variables."""
        import zipfile
        from pathlib import Path

        if not Path(path).is_file():
            raise StateError(expected("an existing .npz file of per-neuron arrays", "state", str(path)))
        # an .npz is a zip archive; anything else makes np.load guess (and, for a non-numpy
        # file, talk about "pickled data", which misleads about what went wrong)
        if not zipfile.is_zipfile(path):
            raise StateError(
                expected("a .npz file written by numpy.savez (this is not a valid .npz file)", "state", str(path))
            )
        try:
            with np.load(path) as data:
                return cls.from_arrays({k: data[k] for k in data.files}, source=str(path))
        except (OSError, ValueError) as err:
            raise StateError(
                expected("a readable .npz file of per-neuron arrays", "state", str(path)) + f" ({err})"
            ) from None


def zero_state(bnd: Boundary, params: Mapping[str, float]) -> LocalSample:
    """The zero state (every state variable 0) as a one-point sample, checked to be a fixed point.

    At ``s = 0`` each field is ``U_k u_k(0)``; this is a closed-form (constant) state only if
    every presynaptic vector vanishes there, and it is a fixed point only if ``F(0, 0) = 0``.
    """
    arch = bnd.architecture
    form = arch.local_form
    subs: dict[sympy.Symbol, Any] = {s: 0 for s in form.state}
    subs.update({sympy.Symbol(n, real=True): v for n, v in params.items()})
    subs.update({p: params[p.name] for p in arch.parameters if p.name in params})
    for fld in form.fields:
        subs[fld.symbol] = 0
    for fld in form.fields:
        value = float(sympy.N(fld.input.xreplace(subs)))
        if abs(value) > 1e-14:
            raise StateError(
                expected(f"presynaptic vector of {fld.matrix} to vanish at the zero state", fld.matrix, value)
            )
    for name, new in zip(arch.state, form.new_state, strict=True):
        value = float(sympy.N(new.xreplace(subs)))
        if abs(value) > 1e-14:
            raise StateError(
                expected(
                    f"the zero state to be a fixed point ({name}' = 0); set the biases accordingly", f"{name}'", value
                )
            )
    return LocalSample.from_arrays(
        {s: [0.0] for s in (*arch.state, *(f.symbol.name for f in form.fields))}, source="zero"
    )
