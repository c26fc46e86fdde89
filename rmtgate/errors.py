"""Typed errors raised by rmtgate.

Every message follows the pattern ``Expected <what> but got <name>=<value>`` where a
single argument is at fault, so that a user can see at once which input to change.
"""

from __future__ import annotations

from typing import Any


class RmtgateError(Exception):
    """Base class of every error rmtgate raises on purpose."""


class ArchitectureError(RmtgateError, ValueError):
    """An architecture (Python declaration or spec file) is malformed or unsafe."""


class ParameterError(RmtgateError, ValueError):
    """A numeric parameter is missing, unknown, or outside its domain."""


class StateError(RmtgateError, ValueError):
    """A sample of local variables (network state) is empty or has mismatched shapes."""


class DerivationError(RmtgateError, RuntimeError):
    """A symbolic derivation step failed an internal consistency check."""


class ConvergenceError(RmtgateError, RuntimeError):
    """An iterative solver stopped before reaching its tolerance.

    ``residual`` holds the residual that was reached and ``iterations`` how many steps ran.
    """

    def __init__(self, message: str, *, residual: float, iterations: int) -> None:
        super().__init__(f"{message} (residual reached: {residual:.3e} after {iterations} iterations)")
        self.residual = residual
        self.iterations = iterations


class SweepError(RmtgateError, ValueError):
    """A parameter sweep cannot run as asked: a store made by another sweep, or a quantity
    that the chosen method cannot compute (the message says what to change)."""


class BackendUnavailable(RmtgateError, RuntimeError):
    """A numeric backend was requested but cannot be used here (reason in the message)."""


def expected(what: str, name: str, value: Any) -> str:
    """Format the standard message ``Expected <what> but got <name>=<value!r>``."""
    return f"Expected {what} but got {name}={value!r}"
