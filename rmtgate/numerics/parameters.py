"""Numeric parameter values for an architecture: checked, completed with defaults, typed errors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from rmtgate.errors import ParameterError, expected
from rmtgate.symbolic.architecture import Architecture

#: largest float whose square is still finite in float64
_SQUARE_LIMIT = math.sqrt(np.finfo(float).max)


def required_parameters(arch: Architecture) -> tuple[sympy.Symbol, ...]:
    """Parameters without a default: the scales ``a_k`` of the random matrices."""
    return arch.variance_parameters


def resolve_parameters(arch: Architecture, values: Mapping[str, Any], *, defaults: bool = True) -> dict[str, float]:
    """Check ``values`` against ``arch.parameters`` and fill defaults.

    Matrix scales (``a_k``) are required and must be finite and non-negative; every other
    parameter (bias means, bias variances, constants) defaults to 0 when ``defaults`` is on.
    Unknown names, NaN and infinities raise :class:`ParameterError` naming the parameter.
    """
    known = {p.name: p for p in arch.parameters}
    scales = {p.name for p in required_parameters(arch)}
    bias_variances = {v.name for _, v in arch.bias_variances if isinstance(v, sympy.Symbol)}
    out: dict[str, float] = {}
    for name, raw in values.items():
        if name not in known:
            raise ParameterError(expected(f"a parameter of {arch.name} ({sorted(known)})", "parameter", name))
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(expected(f"a real number for {name}", name, raw)) from None
        if not math.isfinite(value):
            raise ParameterError(expected(f"a finite value for {name}", name, raw))
        if name in scales or name in bias_variances:
            if value < 0:
                raise ParameterError(expected(f"a non-negative value for {name}", name, raw))
            # the theory works with a_k² (and bias variances enter squared through the
            # quadrature): a value whose square overflows float64 would surface much later
            # as NaN inside an eigenvalue solver, far from the parameter that caused it
            if not math.isfinite(value * value):
                raise ParameterError(
                    expected(f"{name}² to be finite in float64 ({name} < {_SQUARE_LIMIT:.3g})", name, raw)
                )
        out[name] = value
    # report every missing value at once: one error per try makes a user run the command
    # as many times as there are parameters to learn what the architecture needs
    missing = [name for name in sorted(known) if name not in out and (name in scales or not defaults)]
    if missing:
        shown: Any = missing[0] if len(missing) == 1 else missing
        flags = " ".join(f"-p {name}=VALUE" for name in missing)
        raise ParameterError(
            expected(f"values for every parameter of {arch.name} without a default ({flags})", "missing", shown)
        )
    for name in sorted(known):
        out.setdefault(name, 0.0)
    return out


def as_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ParameterError(expected(f"finite values for {name}", name, value))
    return array


def parse_parameters(pairs: Sequence[str] | None) -> dict[str, float]:
    """``["a_h=3", "b_z=0.5"]`` → ``{"a_h": 3.0, "b_z": 0.5}`` (typed errors on bad input).

    A name given twice is an error rather than "last one wins": a repeated ``-p`` is almost
    always a typo for another parameter, and silently dropping a value hides it.
    """
    out: dict[str, float] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(expected("-p NAME=VALUE", "parameter", pair))
        if name in out:
            raise ParameterError(expected(f"each parameter once (-p {name}= given twice)", "parameter", pair))
        try:
            out[name] = float(value)
        except ValueError:
            raise ParameterError(expected(f"a number for {name}", name, value)) from None
    return out
