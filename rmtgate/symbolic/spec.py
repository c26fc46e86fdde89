"""Architecture spec files (TOML) and the safe expression grammar.

Expressions are parsed with Python's :mod:`ast` (parsing never runs code) and then walked
against a whitelist: names, numbers, ``+ - * / **``, unary minus, ``U @ (expr)`` for a
declared random matrix, and calls of registered nonlinearities with one argument.  Anything
else (attribute access, subscripts, lambdas, keywords, strings, dunder names, unknown
functions, huge exponents, deep nesting) raises :class:`ArchitectureError` naming the
offending token and its line.  Nothing in a spec file is ever evaluated.

Why this module is long: the grammar is a security boundary, so the parser, the spec
tables that feed it (including ``[functions]``, whose bodies go through the same parser) and
``declare`` stay together in one module that can be audited in one read.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy

from rmtgate.errors import ArchitectureError, expected
from rmtgate.symbolic.architecture import (
    Architecture,
    MatVec,
    RandomMatrix,
    check_name,
    local_symbol,
    parameter_symbol,
    variance_symbol,
)
from rmtgate.symbolic.functions import nonlinearity, spec_function_names

MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 40
MAX_EXPONENT = 16
MAX_SPEC_BYTES = 200_000

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}

_TOKEN_OF_NODE = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.Starred: "*",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "if-expression",
    ast.ListComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.DictComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.JoinedStr: "f-string",
    ast.NamedExpr: ":=",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Slice: "slice",
}


@dataclass(frozen=True)
class Scope:
    """What names mean where an expression is parsed."""

    local: frozenset[str]
    later_gates: frozenset[str]
    matrices: frozenset[str]
    variances: frozenset[str]
    parameters: frozenset[str] | None  # None: every other name is a parameter
    #: functions defined by the spec's ``[functions]`` table, as ``Lambda(x, body)``
    functions: Mapping[str, sympy.Lambda] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str, scope: Scope, where: str, line: int | None) -> None:
        self.text = text
        self.scope = scope
        self.where = where
        self.line = line

    def fail(self, token: str, node: ast.AST | None, what: str) -> ArchitectureError:
        column = getattr(node, "col_offset", None)
        location = f"line {self.line}" if self.line is not None else "an expression"
        if column is not None:
            location += f", column {column + 1}"
        return ArchitectureError(f"{what} in {self.where} ({location}): offending token {token!r}")

    def parse(self) -> sympy.Expr:
        if not isinstance(self.text, str):
            raise ArchitectureError(expected(f"an expression string for {self.where}", self.where, self.text))
        if len(self.text) > MAX_EXPRESSION_LENGTH:
            raise self.fail(self.text[:20] + "...", None, f"Expression longer than {MAX_EXPRESSION_LENGTH} characters")
        if not self.text.strip():
            raise self.fail("", None, "Empty expression")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as err:
            token = (err.text or "").strip()[:30] if err.text else str(err.msg)
            raise self.fail(token, None, f"Syntax error ({err.msg})") from None
        except (RecursionError, MemoryError, ValueError):
            raise self.fail(self.text[:20] + "...", None, "Expression too deeply nested") from None
        return self.visit(tree.body, depth=0)

    def visit(self, node: ast.AST, depth: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(ast.unparse(node)[:20], node, f"Expression nested deeper than {MAX_DEPTH}")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.MatMult):
                return self.matvec(node, depth)
            if isinstance(node.op, ast.Pow):
                return self.power(node, depth)
            op = _BINARY.get(type(node.op))
            if op is None:
                raise self.fail(_operator_token(node.op), node, "Operator not allowed")
            return op(self.visit(node.left, depth + 1), self.visit(node.right, depth + 1))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.visit(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand, depth + 1)
            raise self.fail(_operator_token(node.op), node, "Operator not allowed")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        token = _TOKEN_OF_NODE.get(type(node), type(node).__name__)
        if isinstance(node, ast.Attribute):
            token = "." + node.attr
        raise self.fail(token, node, "Construct not allowed")

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(repr(value)[:30], node, "Only real number literals are allowed")
        if isinstance(value, float) and (value != value or abs(value) == float("inf")):
            raise self.fail(repr(value), node, "Non-finite number")
        if isinstance(value, int):
            if abs(value) > 10**12:
                raise self.fail(str(value)[:20], node, "Integer literal too large")
            return sympy.Integer(value)
        return sympy.Rational(repr(value))

    def name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        scope = self.scope
        if name in scope.matrices:
            raise self.fail(name, node, f"Random matrix used outside `{name} @ (...)`")
        if name in spec_function_names() or name in scope.functions:
            raise self.fail(name, node, "Function name used without a call")
        if name in scope.local:
            return local_symbol(name)
        if name in scope.later_gates:
            raise self.fail(name, node, "Gate used before its definition")
        try:
            check_name(name, role="symbol")
        except ArchitectureError as err:
            raise self.fail(name, node, f"Unknown or reserved name ({err})") from None
        if scope.parameters is not None and name not in scope.parameters and name not in scope.variances:
            raise self.fail(name, node, f"Unknown name (declared parameters: {sorted(scope.parameters)})")
        if name in scope.variances:
            return variance_symbol(name)
        return parameter_symbol(name)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            return self.visit(node.func, depth + 1)  # raises: attribute access, subscript, ...
        name = node.func.id
        defined = self.scope.functions
        if name not in spec_function_names() and name not in defined:
            allowed = sorted(spec_function_names() | set(defined))
            raise self.fail(name, node, f"Unknown function (allowed: {allowed})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(name, node, "A function takes exactly one positional argument")
        argument = self.visit(node.args[0], depth + 1)
        if name in defined:
            # a spec-defined function is inlined: its body is an ordinary expression, so the
            # Jacobian differentiates it like any other and every backend can evaluate it
            return defined[name](argument)
        return nonlinearity(name).sympy_function(argument)

    def matvec(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        left = node.left
        if not isinstance(left, ast.Name) or left.id not in self.scope.matrices:
            token = left.id if isinstance(left, ast.Name) else ast.unparse(left)[:20]
            raise self.fail(token, node, "Left of `@` must be a declared random matrix")
        vector = self.visit(node.right, depth + 1)
        return MatVec(sympy.Symbol(left.id), vector)

    def power(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        exponent_node = node.right
        sign = 1
        if isinstance(exponent_node, ast.UnaryOp) and isinstance(exponent_node.op, ast.USub):
            sign, exponent_node = -1, exponent_node.operand
        if (
            not isinstance(exponent_node, ast.Constant)
            or isinstance(exponent_node.value, bool)
            or not isinstance(exponent_node.value, int | float)
        ):
            raise self.fail(ast.unparse(node.right)[:20], node.right, "Exponent must be a number literal")
        if abs(exponent_node.value) > MAX_EXPONENT:
            raise self.fail(str(exponent_node.value)[:20], node.right, f"Exponent larger than {MAX_EXPONENT}")
        exponent = sign * self.constant(exponent_node)
        return self.visit(node.left, depth + 1) ** exponent


def _operator_token(op: ast.AST) -> str:
    return {
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitOr: "|",
        ast.BitAnd: "&",
        ast.BitXor: "^",
        ast.Invert: "~",
        ast.Not: "not",
    }.get(type(op), type(op).__name__)


def parse_expression(text: str, scope: Scope, *, where: str = "expression", line: int | None = None) -> sympy.Expr:
    """Parse one expression of the spec grammar into SymPy (never evaluates code)."""
    return _Parser(text, scope, where, line).parse()


#: the variable of a ``[functions]`` body
FUNCTION_VARIABLE = "x"
#: at most this many ``[functions]`` entries per spec
MAX_FUNCTIONS = 32


def parse_functions(
    functions: Mapping[str, Any] | None, *, lines: Mapping[tuple[str, str], int] | None = None
) -> dict[str, sympy.Lambda]:
    """The ``[functions]`` table: ``name = "expression in x"`` → ``Lambda(x, body)``.

    Bodies use the same whitelist grammar as every other expression, with ``x`` as the only
    name: numbers, arithmetic, ``**`` with a literal exponent and calls of the registered
    nonlinearities (``abs``, ``tanh``, ...).  No parameters, matrices or other ``[functions]``
    entries: a body that could call another spec function could compose itself into an
    exponentially large expression.
    """
    lines = lines or {}
    if not functions:
        return {}
    if not isinstance(functions, Mapping):
        raise ArchitectureError(expected("a [functions] table", "functions", functions))
    if len(functions) > MAX_FUNCTIONS:
        raise ArchitectureError(expected(f"at most {MAX_FUNCTIONS} [functions] entries", "functions", len(functions)))
    scope = Scope(
        local=frozenset({FUNCTION_VARIABLE}),
        later_gates=frozenset(),
        matrices=frozenset(),
        variances=frozenset(),
        parameters=frozenset(),
    )
    x = local_symbol(FUNCTION_VARIABLE)
    out: dict[str, sympy.Lambda] = {}
    for name, text in functions.items():
        check_name(name, role="function")
        if name in spec_function_names() or name == FUNCTION_VARIABLE:
            raise ArchitectureError(expected("a function name that is not already defined", "function", name))
        if not isinstance(text, str):
            raise ArchitectureError(expected(f"an expression string in x for functions.{name}", name, text))
        body = parse_expression(text, scope, where=f"functions.{name}", line=lines.get(("functions", name)))
        out[name] = sympy.Lambda(x, body)
    return out


def architecture_from_tables(
    *,
    name: str,
    state: list[str],
    matrices: Mapping[str, Any],
    gates: Mapping[str, Any],
    update: Mapping[str, Any],
    bias_variances: Mapping[str, Any] | None = None,
    parameters: list[str] | None = None,
    description: str = "",
    lines: Mapping[tuple[str, str], int] | None = None,
    functions: Mapping[str, Any] | None = None,
) -> Architecture:
    """Build an :class:`Architecture` from the tables of a spec (strings parsed safely)."""
    lines = lines or {}
    if not isinstance(state, list) or not all(isinstance(s, str) for s in state):
        raise ArchitectureError(expected("a list of state variable names", "state", state))
    for s in state:
        check_name(s, role="state")
    defined = parse_functions(functions, lines=lines)
    clash = sorted(set(defined) & (set(state) | set(gates) | set(matrices)))
    if clash:
        raise ArchitectureError(
            expected("function names distinct from state, gate and matrix names", "function", clash[0])
        )
    matrix_objects = []
    for m, v in matrices.items():
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ArchitectureError(expected(f"a parameter name or a positive number as variance of {m}", m, v))
        matrix_objects.append(RandomMatrix(m, v))
    variances = frozenset(m.variance.name for m in matrix_objects if isinstance(m.variance, sympy.Symbol))
    declared_parameters = None if parameters is None else frozenset(parameters)
    if declared_parameters is not None:
        for p in declared_parameters:
            check_name(p, role="parameter")
    gate_names = list(gates)
    for table, entries in (("gates", gates), ("update", update)):
        for key, value in entries.items():
            if not isinstance(value, str):
                raise ArchitectureError(expected(f"an expression string for {table}.{key}", f"{table}.{key}", value))
    parsed_gates: list[tuple[str, sympy.Expr]] = []
    for index, (g, text) in enumerate(gates.items()):
        check_name(g, role="gate")
        scope = Scope(
            local=frozenset(state) | frozenset(gate_names[:index]),
            later_gates=frozenset(gate_names[index:]),
            matrices=frozenset(matrices),
            variances=variances,
            parameters=declared_parameters,
            functions=defined,
        )
        parsed_gates.append((g, parse_expression(text, scope, where=f"gates.{g}", line=lines.get(("gates", g)))))
    full_scope = Scope(
        local=frozenset(state) | frozenset(gate_names),
        later_gates=frozenset(),
        matrices=frozenset(matrices),
        variances=variances,
        parameters=declared_parameters,
        functions=defined,
    )
    parsed_update = [
        (s, parse_expression(text, full_scope, where=f"update.{s}", line=lines.get(("update", s))))
        for s, text in update.items()
    ]
    for b, v in (bias_variances or {}).items():
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ArchitectureError(
                expected(f"a parameter name or a non-negative number as variance of bias {b}", b, v)
            )
    return Architecture(
        name=name,
        state=tuple(state),
        matrices=tuple(matrix_objects),
        gates=tuple(parsed_gates),
        update=tuple(parsed_update),
        bias_variances=tuple((b, v) for b, v in (bias_variances or {}).items()),
        description=description,
    )


_TABLE_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_\-]+)\s*\]")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

_KNOWN_KEYS = {
    "name",
    "description",
    "state",
    "matrices",
    "gates",
    "update",
    "bias_variances",
    "parameters",
    "functions",
}


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) → 1-based line number, to point errors at the right line."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            table = header.group(1)
            continue
        key = _KEY_LINE.match(line)
        if key:
            out.setdefault((table, key.group(1)), number)
    return out


def loads_spec(text: str, *, source: str = "<spec>") -> Architecture:
    """Parse a TOML architecture spec given as text (format: ``docs/reference/spec-format.md``).

    Args:
        text: the TOML document (at most ``MAX_SPEC_BYTES`` bytes).
        source: the name used in error messages (a file name, or ``"<spec>"``).

    Returns:
        The declared :class:`~rmtgate.Architecture`. Nothing in ``text`` is evaluated.

    Raises:
        ArchitectureError: malformed TOML, unknown or missing keys, or an expression outside
            the whitelist grammar (the message names the token and its line).
    """
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise ArchitectureError(expected(f"a spec of at most {MAX_SPEC_BYTES} bytes", "spec", source))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ArchitectureError(f"Malformed TOML in {source}: {err}") from None
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ArchitectureError(expected(f"only the keys {sorted(_KNOWN_KEYS)} in {source}", "key", unknown[0]))
    for required in ("name", "state", "matrices", "update"):
        if required not in data:
            raise ArchitectureError(expected(f"a `{required}` entry in {source}", "missing", required))
    for table in ("matrices", "gates", "update", "bias_variances", "functions"):
        if table in data and not isinstance(data[table], dict):
            raise ArchitectureError(expected(f"a [{table}] table in {source}", table, data[table]))
    if not isinstance(data["name"], str):
        raise ArchitectureError(expected("a string", "name", data["name"]))
    parameters = data.get("parameters")
    if parameters is not None and (not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters)):
        raise ArchitectureError(expected("a list of parameter names", "parameters", parameters))
    return architecture_from_tables(
        name=data["name"],
        state=data["state"],
        matrices=data["matrices"],
        gates=data.get("gates", {}),
        update=data["update"],
        bias_variances=data.get("bias_variances", {}),
        parameters=parameters,
        description=str(data.get("description", "")),
        lines=_key_lines(text),
        functions=data.get("functions"),
    )


def load_spec(path: str | Path) -> Architecture:
    """Parse a TOML architecture spec file (see :func:`loads_spec`).

    Args:
        path: a UTF-8 TOML file.

    Returns:
        The declared :class:`~rmtgate.Architecture`.

    Raises:
        ArchitectureError: an unreadable file, or anything :func:`loads_spec` rejects.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ArchitectureError(expected("a readable UTF-8 spec file", "path", str(path)) + f" ({err})") from None
    return loads_spec(text, source=str(path))


def declare(
    name: str,
    *,
    state: Iterable[str],
    matrices: Mapping[str, str | float],
    gates: Mapping[str, str] | None = None,
    update: Mapping[str, str],
    bias_variances: Mapping[str, str | float] | None = None,
    description: str = "",
    functions: Mapping[str, str] | None = None,
) -> Architecture:
    """Declare an architecture from expression strings (parsed by the safe spec grammar).

    ``state`` is a list of names; a single string is one name (``state="hc"`` is the state
    ``hc``, never the two states ``h`` and ``c`` that iterating the string would give).
    ``functions`` defines nonlinearities by an expression in ``x``, as a spec's ``[functions]``.

    Args:
        name: the architecture's name.
        state: per-neuron state variable names.
        matrices: random ``N × N`` matrices, ``name → scale``; entries are ``N(0, a²/N)`` with
            ``a`` a parameter name or a positive number.
        gates: local quantities in evaluation order, ``name → expression``; ``U @ (expr)`` is
            a matrix–vector product (a field).
        update: the new value of every state variable (right-hand sides see the old state).
        bias_variances: ``bias → variance``: the bias is drawn per neuron as ``N(b, v)``.
        description: free text.
        functions: ``name → expression in x``, nonlinearities defined by the declaration.

    Raises:
        ArchitectureError: as for a spec file.

    >>> mgu = declare("mgu", state=["h"], matrices={"U_f": "a_f", "U_h": "a_h"},
    ...               gates={"f": "sigmoid(U_f @ h + b_f)"},
    ...               update={"h": "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"})
    """
    if isinstance(state, str):
        state = [state]
    return architecture_from_tables(
        name=name,
        state=list(state),
        matrices=dict(matrices),
        gates=dict(gates or {}),
        update=dict(update),
        bias_variances=dict(bias_variances or {}),
        description=description,
        functions=dict(functions or {}),
    )
