"""The house rules of the package layout, checked by walking the imports (``ast``, nothing run).

* the domain (every subpackage but ``cli``) never imports the command line;
* argparse lives only in ``rmtgate.cli``;
* the module import graph has no cycles (lazy imports inside functions count too: a cycle
  hidden in a function body is still a cycle in the design);
* no module over 400 lines without a reason written in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rmtgate"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """rmtgate modules imported anywhere in ``path`` (``from rmtgate.x import y`` may name a module ``y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in modules and name != "rmtgate":
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def test_domain_never_imports_the_command_line() -> None:
    offenders = {
        name: sorted(d for d in deps if d.startswith("rmtgate.cli"))
        for name, deps in _graph().items()
        if not name.startswith("rmtgate.cli") and name != "rmtgate.__main__"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_argparse_only_in_the_cli_package() -> None:
    users = [
        name
        for name, path in _modules().items()
        if not name.startswith("rmtgate.cli") and "import argparse" in path.read_text()
    ]
    assert users == []


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_the_walker_sees_a_cycle(tmp_path: Path) -> None:
    # the cycle test above must be able to fail: a planted two-module cycle is found
    modules = {"rmtgate.a": tmp_path / "a.py", "rmtgate.b": tmp_path / "b.py"}
    modules["rmtgate.a"].write_text("def f():\n    from rmtgate.b import g\n")
    modules["rmtgate.b"].write_text("from rmtgate import a\n")
    assert _imports(modules["rmtgate.a"], modules) == {"rmtgate.b"}
    assert _imports(modules["rmtgate.b"], modules) == {"rmtgate.a"}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_long_modules_say_why(name: str) -> None:
    path = _modules()[name]
    lines = path.read_text().count("\n")
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "Why this module is long" in doc, f"{name} has {lines} lines and no reason in its docstring"
