"""rmtgate: random-matrix and mean-field theory of gated recurrent networks, as software."""

__version__ = "0.1.0"

from rmtgate.symbolic.architecture import Architecture, Field, LocalForm, MatVec, RandomMatrix
from rmtgate.symbolic.builtins import builtin, ctrnn, gru, lstm, mgu, vanilla
from rmtgate.symbolic.derive import Derivation, derive
from rmtgate.symbolic.spec import declare, load_spec, loads_spec

__all__ = [
    "Architecture",
    "Derivation",
    "Field",
    "LocalForm",
    "MatVec",
    "RandomMatrix",
    "__version__",
    "builtin",
    "ctrnn",
    "declare",
    "derive",
    "gru",
    "load_spec",
    "loads_spec",
    "lstm",
    "mgu",
    "vanilla",
]
