"""Built-in architectures: each is an :class:`Architecture` value built from equations.

Equation numbers refer to Can, Krishnamurthy & Schwab [G] and Schuessler et al. [S]
(see ``docs/explanation/theory.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rmtgate.errors import ArchitectureError, expected
from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.spec import declare, load_spec


def vanilla() -> Architecture:
    """Vanilla RNN [G 1]: ``h' = tanh(U_h h + b_h)``."""
    return declare(
        "vanilla",
        state=["h"],
        matrices={"U_h": "a_h"},
        update={"h": "tanh(U_h @ h + b_h)"},
        description="Vanilla RNN [G 1]",
    )


def gru() -> Architecture:
    """Gated recurrent unit [G 2-5] with update gate z and reset gate r."""
    return declare(
        "gru",
        state=["h"],
        matrices={"U_z": "a_z", "U_r": "a_r", "U_h": "a_h"},
        gates={
            "z": "sigmoid(U_z @ h + b_z)",
            "r": "sigmoid(U_r @ h + b_r)",
            "y": "U_h @ (r * h) + b_h",
        },
        update={"h": "z * h + (1 - z) * tanh(y)"},
        description="GRU [G 2-5]",
    )


def lstm() -> Architecture:
    """Long short-term memory [G 6-8], state (c, h); ``c_next`` is the new cell state."""
    return declare(
        "lstm",
        state=["c", "h"],
        matrices={"U_f": "a_f", "U_i": "a_i", "U_o": "a_o", "U_h": "a_h"},
        gates={
            "f": "sigmoid(U_f @ h + b_f)",
            "i": "sigmoid(U_i @ h + b_i)",
            "o": "sigmoid(U_o @ h + b_o)",
            "y": "U_h @ h + b_h",
            "c_next": "f * c + i * tanh(y)",
        },
        update={"c": "c_next", "h": "o * tanh(c_next)"},
        description="LSTM [G 6-8]",
    )


def ctrnn(dt: float | str = 0.5) -> Architecture:
    """Leaky rate network of [S 1-2], Euler step ``dt``: ``x' = (1-dt) x + dt W tanh(x)``.

    ``W`` has entries ``N(0, g²/N)``.  ``dt`` is a number in (0, 1] or a parameter name.
    """
    if isinstance(dt, bool) or not isinstance(dt, int | float | str):
        raise ArchitectureError(expected("a number in (0, 1] or a parameter name", "dt", dt))
    if isinstance(dt, int | float) and not 0 < dt <= 1:
        raise ArchitectureError(expected("a time step in (0, 1]", "dt", dt))
    step = repr(float(dt)) if isinstance(dt, int | float) else dt
    return declare(
        "ctrnn",
        state=["x"],
        matrices={"W": "g"},
        update={"x": f"(1 - {step}) * x + {step} * (W @ tanh(x))"},
        description=f"Leaky continuous-time rate network [S 1-2], dt={dt}",
    )


def mgu() -> Architecture:
    """Minimal gated unit: ``f = σ(U_f h + b_f)``, ``h' = (1-f) h + f tanh(U_h (f h) + b_h)``."""
    return declare(
        "mgu",
        state=["h"],
        matrices={"U_f": "a_f", "U_h": "a_h"},
        gates={"f": "sigmoid(U_f @ h + b_f)"},
        update={"h": "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"},
        description="Minimal gated unit",
    )


BUILTINS: dict[str, Callable[[], Architecture]] = {
    "vanilla": vanilla,
    "gru": gru,
    "lstm": lstm,
    "ctrnn": ctrnn,
    "mgu": mgu,
}


def builtin(name: str) -> Architecture:
    """A built-in architecture by name."""
    try:
        factory = BUILTINS[name]
    except KeyError:
        raise ArchitectureError(expected(f"one of {sorted(BUILTINS)}", "architecture", name)) from None
    return factory()


def resolve_architecture(name_or_path: str) -> Architecture:
    """A built-in name (``gru``) or a path to a TOML spec file."""

    if name_or_path in BUILTINS:
        return builtin(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_spec(path)
    return builtin(name_or_path)  # raises with the list of built-ins
