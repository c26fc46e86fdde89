"""rmtgate: random-matrix and mean-field theory of gated recurrent networks, as software."""

from .architecture import Architecture, Field, LocalForm, MatVec, RandomMatrix, declare
from .builtins import builtin, ctrnn, gru, lstm, mgu, vanilla
from .spec import load_spec, loads_spec

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Field",
    "LocalForm",
    "MatVec",
    "RandomMatrix",
    "__version__",
    "builtin",
    "ctrnn",
    "declare",
    "gru",
    "load_spec",
    "loads_spec",
    "lstm",
    "mgu",
    "vanilla",
]
