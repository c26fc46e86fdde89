"""rmtgate: random-matrix and mean-field theory of gated recurrent networks, as software."""

from rmtgate.symbolic.architecture import Architecture, Field, LocalForm, MatVec, RandomMatrix, declare
from rmtgate.symbolic.builtins import builtin, ctrnn, gru, lstm, mgu, vanilla
from rmtgate.symbolic.spec import load_spec, loads_spec

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
