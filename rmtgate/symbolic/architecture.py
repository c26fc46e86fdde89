"""Architectures as data.

An :class:`Architecture` is an immutable value: state variables, named random matrices,
local gate definitions, and the update equations.  Every product ``U @ (expr)`` of a random
matrix with a presynaptic vector is a *field*; :meth:`Architecture.local_form` rewrites the
network as an elementwise map of the old state and the fields, which is what every later
stage (Jacobian, linearization, boundary, mean-field theory, simulation) consumes.

A GRU is an ``Architecture`` instance (see :mod:`rmtgate.builtins`), never a subclass.

Why this module is long: the ``Architecture`` value and its validation at construction (names, matrices, fields, the local form) are one invariant; splitting the checks from the value would let an unchecked architecture exist.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sympy

from rmtgate.errors import ArchitectureError, expected

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")
RESERVED_NAMES = frozenset({"lambda", "I", "E", "pi", "oo", "nan", "zoo", "S", "N", "O", "Q"}) | (
    frozenset(dir(builtins)) | frozenset(keyword.kwlist)
)
FIELD_PREFIX = "eta_"


class MatVec(sympy.Function):
    """Component ``i`` of ``U @ u``: a random matrix ``U`` applied to a presynaptic vector.

    ``args = (Symbol(matrix_name), presynaptic_expression)``.  It only appears in declared
    architectures; :meth:`Architecture.local_form` replaces each occurrence by a field symbol.
    """

    nargs = 2

    def _eval_is_real(self) -> bool | None:
        return self.args[1].is_real

    def _sympystr(self, printer: Any) -> str:
        matrix, vector = self.args
        return f"{printer._print(matrix)} @ ({printer._print(vector)})"

    def _latex(self, printer: Any) -> str:
        matrix, vector = self.args
        inner = printer._print(vector)
        if vector.is_Atom:
            return f"{printer._print(matrix)} {inner}"
        return rf"{printer._print(matrix)} \left({inner}\right)"


def check_name(name: str, *, role: str) -> str:
    """Validate a user-chosen identifier (state, gate, matrix or parameter name)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ArchitectureError(
            expected(
                f"a {role} name made of letters, digits and single underscores, starting with a letter",
                role,
                name,
            )
        )
    if name in RESERVED_NAMES:
        raise ArchitectureError(expected(f"a {role} name that is not reserved", role, name))
    if name.startswith(FIELD_PREFIX):
        raise ArchitectureError(
            expected(f"a {role} name not starting with {FIELD_PREFIX!r} (field symbols)", role, name)
        )
    return name


def local_symbol(name: str) -> sympy.Symbol:
    """Per-neuron local quantity (state, gate, field): real."""
    return sympy.Symbol(name, real=True)


def parameter_symbol(name: str) -> sympy.Symbol:
    """Global parameter (bias mean, bias variance, time step, ...): real."""
    return sympy.Symbol(name, real=True)


def variance_symbol(name: str) -> sympy.Symbol:
    """Scale ``a_k`` of a random matrix (entries ~ N(0, a_k²/N)): positive."""
    return sympy.Symbol(name, positive=True)


@dataclass(frozen=True)
class RandomMatrix:
    """A random N×N matrix with i.i.d. entries ``N(0, variance²/N)``.

    ``variance`` is the paper's ``a_k`` (a positive symbol or number); its square divided by
    N is the entry variance.
    """

    name: str
    variance: sympy.Expr

    def __post_init__(self) -> None:
        check_name(self.name, role="matrix")
        raw = self.variance
        value = _variance_value(raw, self.name)
        if value.is_number and not (value.is_real and value.is_positive):
            shown = raw if isinstance(raw, int | float | str) else str(raw)
            raise ArchitectureError(expected(f"a positive variance parameter for matrix {self.name}", self.name, shown))
        if not value.is_number and not isinstance(value, sympy.Symbol):
            raise ArchitectureError(
                expected(f"a parameter name or a positive number as variance of {self.name}", self.name, str(value))
            )
        if isinstance(value, sympy.Symbol):
            value = variance_symbol(check_name(value.name, role="variance parameter"))
        object.__setattr__(self, "variance", value)

    @property
    def symbol(self) -> sympy.Symbol:
        return sympy.Symbol(self.name)


@dataclass(frozen=True)
class Field:
    """A local field ``eta_k = U_k u_k``: the product of one random matrix with its input.

    ``input`` is the presynaptic vector ``u_k`` as an elementwise expression of the old
    state, earlier fields and parameters.  Biases are not part of the field: they stay in the
    local expressions, so every field has mean zero in the mean-field theory.
    """

    matrix: str
    variance: sympy.Expr
    symbol: sympy.Symbol
    input: sympy.Expr

    def latex(self) -> str:
        return (
            rf"{sympy.latex(self.symbol)} = {sympy.latex(sympy.Symbol(self.matrix))}"
            rf"\left({sympy.latex(self.input)}\right)"
        )


@dataclass(frozen=True)
class LocalForm:
    """The network as an elementwise map ``s' = F(s, eta_1..eta_K)``, with ``eta_k = U_k u_k``.

    ``fields`` are in dependency order: the input of a field uses only earlier fields.
    ``new_state[i]`` is the new value of ``state[i]``.  ``gate_values`` are the gates written
    in the same variables (used to print derived expressions with gate names).
    """

    state: tuple[sympy.Symbol, ...]
    fields: tuple[Field, ...]
    new_state: tuple[sympy.Expr, ...]
    gate_values: tuple[tuple[sympy.Symbol, sympy.Expr], ...]

    @property
    def field_symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(f.symbol for f in self.fields)

    def display(self, expr: sympy.Expr) -> sympy.Expr:
        """Rewrite ``expr`` with gate names where a gate's value appears (for printing)."""
        rules = {value: gate for gate, value in self.gate_values if not value.is_Atom}
        return sympy.sympify(expr).xreplace(rules)


@dataclass(frozen=True)
class Architecture:
    """A recurrent network declared as data.

    Parameters
    ----------
    name:
        Human-readable name (also used in printed output).
    state:
        Names of the state variables, e.g. ``("h",)`` or ``("c", "h")``.
    matrices:
        The random matrices.
    gates:
        Local quantities in order, ``(name, expression)``; an expression may use state
        variables, earlier gates, parameters and ``MatVec(U, expr)`` products.
    update:
        New value of every state variable, ``(state name, expression)``, in the order of
        ``state``.  Update expressions see the *old* state; a new-state value used by another
        update (the LSTM's ``h' = o tanh(c')``) is written as a gate.
    bias_variances:
        Optional ``(bias parameter, variance parameter)`` pairs: the bias is drawn per neuron
        as ``N(b, v)`` [G, below eq. 8].  Biases not listed are deterministic.
    """

    name: str
    state: tuple[str, ...]
    matrices: tuple[RandomMatrix, ...]
    gates: tuple[tuple[str, sympy.Expr], ...]
    update: tuple[tuple[str, sympy.Expr], ...]
    bias_variances: tuple[tuple[str, sympy.Expr], ...] = ()
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ArchitectureError(expected("a non-empty architecture name", "name", self.name))
        object.__setattr__(self, "state", tuple(self.state))
        object.__setattr__(self, "matrices", tuple(self.matrices))
        object.__setattr__(self, "gates", tuple((str(n), _expression(e, f"gate {n}")) for n, e in self.gates))
        object.__setattr__(self, "update", tuple((str(n), _expression(e, f"update {n}")) for n, e in self.update))
        object.__setattr__(
            self,
            "bias_variances",
            tuple((str(b), _bias_variance_value(v, str(b))) for b, v in self.bias_variances),
        )
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        if not self.state:
            raise ArchitectureError(expected("at least one state variable", "state", self.state))
        seen: dict[str, str] = {}

        def claim(name: str, role: str) -> None:
            check_name(name, role=role)
            if name in seen:
                raise ArchitectureError(expected(f"a {role} name not already used as a {seen[name]}", role, name))
            seen[name] = role

        for s in self.state:
            claim(s, "state")
        for m in self.matrices:
            if not isinstance(m, RandomMatrix):
                raise ArchitectureError(expected("RandomMatrix entries", "matrices", m))
            claim(m.name, "matrix")
        for g, _ in self.gates:
            claim(g, "gate")
        update_names = [n for n, _ in self.update]
        if sorted(update_names) != sorted(self.state) or len(set(update_names)) != len(update_names):
            missing = sorted(set(self.state) - set(update_names))
            extra = sorted(set(update_names) - set(self.state))
            what = f"missing {missing}" if missing else f"not a state variable: {extra}"
            raise ArchitectureError(
                expected(f"exactly one update per state variable {list(self.state)} ({what})", "update", update_names)
            )
        # keep update in state order
        by_name = dict(self.update)
        object.__setattr__(self, "update", tuple((s, by_name[s]) for s in self.state))

        matrix_names = {m.name for m in self.matrices}
        locals_so_far = set(self.state)
        for g, e in self.gates:
            self._check_expression(e, where=f"gate {g}", local_names=locals_so_far, matrix_names=matrix_names)
            locals_so_far = locals_so_far | {g}
        for s, e in self.update:
            self._check_expression(e, where=f"update {s}", local_names=locals_so_far, matrix_names=matrix_names)
        for b, v in self.bias_variances:
            check_name(b, role="bias parameter")
            if b not in {p.name for p in self.parameters}:
                raise ArchitectureError(expected("a bias parameter used in the equations", "bias_variances", b))
            if v.is_number and not v.is_nonnegative:
                raise ArchitectureError(expected(f"a non-negative variance for bias {b}", b, str(v)))
        used = {str(mv.args[0]) for _, e in (*self.gates, *self.update) for mv in e.atoms(MatVec)}
        unused = sorted(matrix_names - used)
        if unused:
            raise ArchitectureError(
                expected("every declared matrix to be applied with `@`", "unused matrix", unused[0])
            )
        # the lowering raises on a matrix applied to two different vectors
        self.local_form  # noqa: B018

    def _check_expression(self, expr: sympy.Expr, *, where: str, local_names: set[str], matrix_names: set[str]) -> None:
        gate_names = {g for g, _ in self.gates}
        for mv in expr.atoms(MatVec):
            if str(mv.args[0]) not in matrix_names:
                raise ArchitectureError(expected(f"a declared random matrix in {where}", "matrix", str(mv.args[0])))
        for sym in _free_symbols_outside_matvec_heads(expr):
            name = sym.name
            if name in gate_names and name not in local_names:
                raise ArchitectureError(expected(f"gates used only after their definition (in {where})", "name", name))
            if name in matrix_names:
                raise ArchitectureError(
                    expected(f"random matrix {name} used only as `{name} @ (...)` (in {where})", "name", name)
                )
            check_name(name, role="symbol")

    # ------------------------------------------------------------------ derived views
    @cached_property
    def state_symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(local_symbol(s) for s in self.state)

    @cached_property
    def gate_symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(local_symbol(g) for g, _ in self.gates)

    @cached_property
    def parameters(self) -> tuple[sympy.Symbol, ...]:
        """Every free parameter: variance scales, biases, bias variances, constants."""
        local = set(self.state) | {g for g, _ in self.gates}
        params: dict[str, sympy.Symbol] = {}
        for _, e in (*self.gates, *self.update):
            for sym in _free_symbols_outside_matvec_heads(e):
                if sym.name not in local:
                    params[sym.name] = parameter_symbol(sym.name)
        for m in self.matrices:
            if isinstance(m.variance, sympy.Symbol):
                params[m.variance.name] = m.variance
        for _, v in self.bias_variances:
            for sym in v.free_symbols:
                params[sym.name] = parameter_symbol(sym.name)
        return tuple(params[k] for k in sorted(params))

    @cached_property
    def variance_parameters(self) -> tuple[sympy.Symbol, ...]:
        return tuple(m.variance for m in self.matrices if isinstance(m.variance, sympy.Symbol))

    def canonical(self, expr: sympy.Expr) -> sympy.Expr:
        """Replace every symbol by the canonical symbol of its role (fixes assumptions)."""
        matrix_names = {m.name for m in self.matrices}
        local = set(self.state) | {g for g, _ in self.gates}
        variances = {v.name: v for v in self.variance_parameters}
        rules: dict[sympy.Basic, sympy.Basic] = {}
        for sym in expr.free_symbols:
            assert isinstance(sym, sympy.Symbol)
            if sym.name in matrix_names:
                rules[sym] = sympy.Symbol(sym.name)
            elif sym.name in local:
                rules[sym] = local_symbol(sym.name)
            elif sym.name in variances:
                rules[sym] = variances[sym.name]
            else:
                rules[sym] = parameter_symbol(sym.name)
        return expr.xreplace(rules)

    @cached_property
    def local_form(self) -> LocalForm:
        """Lower the declaration to an elementwise map of the old state and the fields."""
        gate_values: dict[sympy.Symbol, sympy.Expr] = {}
        for g, e in self.gates:
            gate_values[local_symbol(g)] = self.canonical(e).xreplace(gate_values)
        raw_updates = [self.canonical(e).xreplace(gate_values) for _, e in self.update]

        variances = {m.name: m.variance for m in self.matrices}
        inputs: dict[str, sympy.Expr] = {}
        memo: dict[sympy.Basic, sympy.Basic] = {}

        def lower(expr: sympy.Basic) -> sympy.Basic:
            if expr in memo:
                return memo[expr]
            if isinstance(expr, MatVec):
                matrix = str(expr.args[0])
                vector = lower(expr.args[1])
                if matrix in inputs and inputs[matrix] != vector:
                    raise ArchitectureError(
                        expected(
                            f"random matrix {matrix} applied to a single presynaptic vector "
                            f"(already applied to {inputs[matrix]})",
                            matrix,
                            str(vector),
                        )
                    )
                inputs[matrix] = vector
                out: sympy.Basic = field_symbol(matrix)
            elif expr.args:
                out = expr.func(*[lower(a) for a in expr.args])
            else:
                out = expr
            memo[expr] = out
            return out

        new_state = tuple(lower(e) for e in raw_updates)
        lowered_gates = tuple((g, lower(v)) for g, v in gate_values.items())
        fields = _dependency_order(
            [
                Field(m.name, variances[m.name], field_symbol(m.name), inputs[m.name])
                for m in self.matrices
                if m.name in inputs
            ]
        )
        return LocalForm(self.state_symbols, fields, new_state, lowered_gates)

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.local_form.fields

    # ------------------------------------------------------------------ identity and printing
    def canonical_text(self) -> str:
        """A stable text of everything that defines the architecture (for hashing)."""
        parts = [
            f"name={self.name}",
            f"state={self.state}",
            "matrices=" + ";".join(f"{m.name}:{sympy.srepr(m.variance)}" for m in self.matrices),
            "gates=" + ";".join(f"{g}:{sympy.srepr(e)}" for g, e in self.gates),
            "update=" + ";".join(f"{s}:{sympy.srepr(e)}" for s, e in self.update),
            "bias_variances=" + ";".join(f"{b}:{sympy.srepr(v)}" for b, v in self.bias_variances),
        ]
        return "\n".join(parts)

    def spec_hash(self) -> str:
        return hashlib.sha256(self.canonical_text().encode()).hexdigest()

    def latex(self) -> str:
        """The update equations as a LaTeX ``aligned`` block (gates first)."""
        lines = [rf"{_latex_name(g)} &= {sympy.latex(self.canonical(e))}" for g, e in self.gates]
        lines += [rf"{_latex_name(s)}' &= {sympy.latex(self.canonical(e))}" for s, e in self.update]
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def summary(self) -> dict[str, Any]:
        """Machine-readable summary (the ``--json`` output of ``rmtgate derive``)."""
        return {
            "name": self.name,
            "state": list(self.state),
            "fields": [
                {"matrix": f.matrix, "variance": str(f.variance), "input": str(f.input), "symbol": str(f.symbol)}
                for f in self.fields
            ],
            "gates": [{"name": g, "expression": str(e)} for g, e in self.gates],
            "update": [{"state": s, "expression": str(e)} for s, e in self.update],
            "parameters": [p.name for p in self.parameters],
        }


def _number(value: Any) -> sympy.Expr | None:
    """An exact SymPy number for an int, float or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, float | str):
        try:
            as_float = float(value)
        except ValueError:
            return None
        if as_float != as_float or as_float in (float("inf"), float("-inf")):
            return sympy.nan
        return sympy.Rational(str(value).strip())
    return None


def _variance_value(value: Any, matrix: str) -> sympy.Expr:
    """A matrix scale given as a name, a number, or a SymPy symbol/number (never evaluated)."""
    if isinstance(value, sympy.Basic):
        return value
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        return variance_symbol(check_name(value.strip(), role="variance parameter"))
    raise ArchitectureError(expected(f"a parameter name or a positive number as variance of {matrix}", matrix, value))


def _bias_variance_value(value: Any, bias: str) -> sympy.Expr:
    if isinstance(value, sympy.Basic):
        return value
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        return parameter_symbol(check_name(value.strip(), role="bias variance parameter"))
    raise ArchitectureError(
        expected(f"a parameter name or a non-negative number as variance of bias {bias}", bias, value)
    )


def _expression(value: Any, where: str) -> sympy.Expr:
    # strings would need sympify, which evaluates code: they go through the safe parser instead
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return sympy.sympify(value)
    raise ArchitectureError(expected(f"a SymPy expression for {where} (use rmtgate.declare for strings)", where, value))


def field_symbol(matrix: str) -> sympy.Symbol:
    suffix = matrix[2:] if matrix.startswith("U_") and len(matrix) > 2 else matrix
    return local_symbol(FIELD_PREFIX + suffix)


def _latex_name(name: str) -> str:
    return sympy.latex(sympy.Symbol(name))


def _free_symbols_outside_matvec_heads(expr: sympy.Basic) -> set[sympy.Symbol]:
    """Free symbols of ``expr`` except the matrix names in ``MatVec`` heads."""
    out: set[sympy.Symbol] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, MatVec):
            stack.append(node.args[1])
        elif isinstance(node, sympy.Symbol):
            out.add(node)
        else:
            stack.extend(node.args)
    return out


def _dependency_order(fields: list[Field]) -> tuple[Field, ...]:
    """Order fields so that each input uses only earlier fields (declaration order on ties)."""
    remaining = list(fields)
    ordered: list[Field] = []
    done: set[sympy.Symbol] = set()
    all_symbols = {f.symbol for f in fields}
    while remaining:
        for f in remaining:
            if (f.input.free_symbols & all_symbols) <= done:
                ordered.append(f)
                done.add(f.symbol)
                remaining.remove(f)
                break
        else:  # pragma: no cover - gates are ordered, so a cycle cannot be declared
            raise ArchitectureError(expected("acyclic field dependencies", "fields", [f.matrix for f in remaining]))
    return tuple(ordered)
