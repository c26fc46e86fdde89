"""Argument checks shared by every stage: one home for "is this a usable number?".

Each check returns the cleaned value or raises :class:`~rmtgate.errors.ParameterError` with
the project's message form ``Expected <what> but got name=value``.  Bools are rejected
wherever a number is expected (``True`` is an ``int`` in Python, never a meaningful size).
"""

from __future__ import annotations

import math
import operator
from typing import Any

from rmtgate.errors import ParameterError, expected


def check_integer(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """An integer argument in ``[minimum, maximum]`` (bools and floats rejected)."""
    bound = f"{minimum} <= {name} <= {maximum}" if maximum is not None else f"{name} >= {minimum}"
    message = expected(f"an integer {bound}", name, value)
    if isinstance(value, bool):
        raise ParameterError(message)
    try:
        number = operator.index(value)
    except TypeError:
        raise ParameterError(message) from None
    if number < minimum or (maximum is not None and number > maximum):
        raise ParameterError(message)
    return number


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    what: str | None = None,
) -> float:
    """A finite real number within the given bounds (open where ``strict_*``)."""
    parts = []
    if minimum is not None:
        parts.append(f"{name} {'>' if strict_minimum else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{name} {'<' if strict_maximum else '<='} {maximum:g}")
    message = expected(what or ("a finite number" + (" " + " and ".join(parts) if parts else "")), name, value)
    if isinstance(value, bool):
        raise ParameterError(message)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(message) from None
    if not math.isfinite(number):
        raise ParameterError(message)
    if minimum is not None and (number < minimum or (strict_minimum and number == minimum)):
        raise ParameterError(message)
    if maximum is not None and (number > maximum or (strict_maximum and number == maximum)):
        raise ParameterError(message)
    return number


def check_positive(value: Any, name: str) -> float:
    """A finite number ``> 0``."""
    return check_real(value, name, minimum=0.0, strict_minimum=True)


def check_nonnegative(value: Any, name: str) -> float:
    """A finite number ``>= 0``."""
    return check_real(value, name, minimum=0.0)
