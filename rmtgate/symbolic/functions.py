"""Elementwise nonlinearities: one registry serving the parser, SymPy and every backend.

A nonlinearity is data: its SymPy function (with its derivative, so that Jacobians are
derived symbolically), and its numeric implementations per backend, looked up by name at
compile time.  ``register_nonlinearity`` extends the registry; spec files may call any
registered name and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy

from rmtgate.errors import ArchitectureError, expected


def _with_exponent(exp: Any) -> str:
    """``%``-template that appends ``^{exp}`` when SymPy prints a power of the function."""
    return "%s" if exp is None else "%s" + f"^{{{exp}}}"


class sigmoid(sympy.Function):
    r"""Logistic function :math:`\sigma(x) = 1/(1+e^{-x})`."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_zero:
            return sympy.Rational(1, 2)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        base = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class boxcar(sympy.Function):
    r"""Indicator of :math:`|x| < 1`: the (almost-everywhere) derivative of hard-tanh."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Integer(0)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _with_exponent(exp) % rf"\mathbb{{1}}_{{|{printer._print(self.args[0])}|<1}}"


class hardtanh(sympy.Function):
    r"""Hard tanh, :math:`\max(-1, \min(1, x))` [G 93]."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_zero:
            return sympy.Integer(0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return boxcar(self.args[0])

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _with_exponent(exp) % rf"\operatorname{{htanh}}\left({printer._print(self.args[0])}\right)"


class step(sympy.Function):
    r"""Heaviside step :math:`\Theta(x)` (value 0 at 0): the derivative of relu."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Integer(0)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _with_exponent(exp) % rf"\Theta\left({printer._print(self.args[0])}\right)"


class relu(sympy.Function):
    r"""Rectified linear unit :math:`\max(0, x)`."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_zero:
            return sympy.Integer(0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return step(self.args[0])

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _with_exponent(exp) % rf"\operatorname{{relu}}\left({printer._print(self.args[0])}\right)"


def _array_module(x: Any) -> Any:
    """numpy, or cupy for a cupy array: one implementation serves both array backends."""
    if type(x).__module__.startswith("cupy"):
        import cupy

        return cupy
    import numpy

    return numpy


def _numpy_sigmoid(x: Any) -> Any:
    import numpy

    np = _array_module(x)
    # 1/(1+e^{-x}) keeps full relative precision in both tails: for x ≪ 0 the exponential
    # overflows to inf and its reciprocal 0 is the correctly rounded underflow, so the overflow
    # warning is the only defect and is silenced.  Four in-place passes (ufuncs only, so array
    # stand-ins dispatch too): this is the innermost loop of training and of the DMFT paths.
    if getattr(x, "dtype", numpy.dtype(float)).kind not in "fc":
        x = x * 1.0  # integers: the float result numpy would give
    out = np.negative(x)
    with numpy.errstate(over="ignore"):
        if getattr(out, "ndim", 0) == 0:  # scalars cannot be written in place
            return 1.0 / (1.0 + np.exp(out))
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _numpy_boxcar(x: Any) -> Any:
    np = _array_module(x)
    return (np.abs(x) < 1).astype(np.result_type(x, np.float32))  # float32 stays float32


def _numpy_step(x: Any) -> Any:
    np = _array_module(x)
    return (x > 0).astype(np.result_type(x, np.float32))


def _numpy_hardtanh(x: Any) -> Any:
    np = _array_module(x)
    return np.clip(x, -1.0, 1.0)


def _numpy_relu(x: Any) -> Any:
    np = _array_module(x)
    return np.maximum(x, 0.0)


def mp_sigmoid(x: Any) -> Any:
    import mpmath

    return 1 / (1 + mpmath.exp(-x))


def _mp_boxcar(x: Any) -> Any:
    import mpmath

    return mpmath.mpf(1) if abs(x) < 1 else mpmath.mpf(0)


def _mp_step(x: Any) -> Any:
    import mpmath

    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


def _mp_hardtanh(x: Any) -> Any:
    import mpmath

    return max(mpmath.mpf(-1), min(mpmath.mpf(1), x))


def _mp_relu(x: Any) -> Any:
    import mpmath

    return max(mpmath.mpf(0), x)


@dataclass(frozen=True)
class Nonlinearity:
    """A named elementwise function and its implementations.

    ``implementations`` maps a backend name (``"numpy"``, ``"mpmath"``, ``"cupy"``) to a
    callable; a backend without an entry falls back to the printer's own translation of
    ``sympy_function`` (true for SymPy built-ins such as ``tanh``).
    """

    name: str
    sympy_function: Callable[..., sympy.Expr]
    implementations: dict[str, Callable[..., Any]] = field(default_factory=dict)
    callable_in_specs: bool = True


_REGISTRY: dict[str, Nonlinearity] = {}


def register_nonlinearity(nonlinearity: Nonlinearity, *, replace: bool = False) -> None:
    """Add a nonlinearity to the registry (``replace=True`` to redefine an existing name)."""
    if not nonlinearity.name.isidentifier() or nonlinearity.name.startswith("_"):
        raise ArchitectureError(expected("a public identifier", "name", nonlinearity.name))
    if nonlinearity.name in _REGISTRY and not replace:
        raise ArchitectureError(expected("a name not yet registered (pass replace=True)", "name", nonlinearity.name))
    _REGISTRY[nonlinearity.name] = nonlinearity


def nonlinearity(name: str) -> Nonlinearity:
    """Look a registered nonlinearity up by name."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ArchitectureError(expected(f"one of {sorted(spec_function_names())}", "function", name)) from None


def spec_function_names() -> frozenset[str]:
    """Names a spec file may call."""
    return frozenset(n for n, f in _REGISTRY.items() if f.callable_in_specs)


def backend_namespace(backend: str) -> dict[str, Callable[..., Any]]:
    """Name → implementation for ``backend``, for SymPy's ``lambdify(modules=...)``."""
    if backend == "cupy":  # the array implementations dispatch on the array type
        backend = "numpy"
    return {n: f.implementations[backend] for n, f in _REGISTRY.items() if backend in f.implementations}


def _identity(x: sympy.Expr) -> sympy.Expr:
    return x


for _nl in (
    Nonlinearity("tanh", sympy.tanh),
    Nonlinearity("identity", _identity, {"numpy": lambda x: x, "mpmath": lambda x: x}),
    # |x|, mainly for [functions] bodies such as softsign x / (1 + abs(x)); SymPy's Abs
    # differentiates to sign(x) for real x and both print to numpy/mpmath natively
    Nonlinearity("abs", sympy.Abs),
    Nonlinearity("sigmoid", sigmoid, {"numpy": _numpy_sigmoid, "mpmath": mp_sigmoid}),
    Nonlinearity("hardtanh", hardtanh, {"numpy": _numpy_hardtanh, "mpmath": _mp_hardtanh}),
    Nonlinearity("relu", relu, {"numpy": _numpy_relu, "mpmath": _mp_relu}),
    Nonlinearity("boxcar", boxcar, {"numpy": _numpy_boxcar, "mpmath": _mp_boxcar}, False),
    Nonlinearity("step", step, {"numpy": _numpy_step, "mpmath": _mp_step}, False),
):
    register_nonlinearity(_nl)
