"""Spec files: the MGU example, the safe grammar, and a corpus of hostile specs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import rmtgate
from rmtgate.errors import ArchitectureError
from rmtgate.verification.strategies import architecture_specs

DOCS_EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mgu.toml"

MGU_SPEC = """\
name = "mgu"
state = ["h"]

[matrices]
U_f = "a_f"
U_h = "a_h"

[gates]
f = "sigmoid(U_f @ h + b_f)"

[update]
h = "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"
"""


def test_docs_example_equals_builtin_mgu() -> None:
    from_file = rmtgate.load_spec(DOCS_EXAMPLE)
    assert from_file.canonical_text() == rmtgate.mgu().canonical_text()
    assert [f.matrix for f in from_file.fields] == ["U_f", "U_h"]
    assert {p.name for p in from_file.parameters} == {"a_f", "a_h", "b_f", "b_h"}


def test_lstm_style_spec_with_two_states_and_bias_variances() -> None:
    spec = """
name = "lstm-like"
state = ["c", "h"]
[matrices]
U_f = "a_f"
U_h = "a_h"
[gates]
f = "sigmoid(U_f @ h + b_f)"
c_next = "f * c + (1 - f) * tanh(U_h @ h + b_h)"
[update]
c = "c_next"
h = "tanh(c_next)"
[bias_variances]
b_h = "v_h"
"""
    arch = rmtgate.loads_spec(spec)
    assert arch.state == ("c", "h")
    assert {p.name for p in arch.parameters} == {"a_f", "a_h", "b_f", "b_h", "v_h"}


# Each hostile spec replaces the update expression; none may execute anything.
HOSTILE_UPDATES = {
    "code execution": ('__import__("os").system("touch /tmp/rmtgate-pwned")', ".system"),
    "dunder name": ("__import__", "__import__"),
    "attribute access": ("h.real", ".real"),
    "dunder attribute": ("h.__class__", ".__class__"),
    "subscript": ("h[0]", "subscript"),
    "lambda": ("(lambda x: x)(h)", "lambda"),
    "builtin call": ('eval("1")', "eval"),
    "unknown function": ("exp(h)", "exp"),
    "open file": ('open("/etc/passwd")', "open"),
    "keyword argument": ("tanh(x=h)", "tanh"),
    "string literal": ('"h"', "'h'"),
    "huge exponent": ("h ** 999999999", "999999999"),
    "symbolic exponent": ("h ** h", "h"),
    "deep nesting": ("(" * 60 + "h" + ")" * 60, "h"),
    "very deep nesting": ("(" * 5000 + "h" + ")" * 5000, "((((("),
    "undeclared matrix": ("tanh(U_x @ h)", "U_x"),
    "matrix outside @": ("U_h * h", "U_h"),
    "walrus": ("(x := h)", ":="),
    "comprehension": ("[h for h in range(3)]", "comprehension"),
    "floor division": ("h // 2", "//"),
    "comparison": ("h < 1", "comparison"),
    "huge integer": ("h * 123456789012345678901234567890", "123456789012"),
    "f-string": ('f"{h}"', "f-string"),
    "forward gate reference": ("g_later", None),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_UPDATES))
def test_hostile_specs_are_rejected(case: str, tmp_path: Path) -> None:
    expression, token = HOSTILE_UPDATES[case]
    marker = Path("/tmp/rmtgate-pwned")
    marker.unlink(missing_ok=True)
    text = MGU_SPEC.replace('h = "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"', f"h = '''{expression}'''")
    if case == "forward gate reference":
        text = text.replace(
            '[gates]\nf = "sigmoid(U_f @ h + b_f)"', '[gates]\nf = "sigmoid(U_f @ h + b_f) * g_later"\ng_later = "h"'
        )
        text = text.replace(f"h = '''{expression}'''", 'h = "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"')
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    with pytest.raises(ArchitectureError) as info:
        rmtgate.load_spec(path)
    message = str(info.value)
    if token is not None:
        assert repr(token)[1:-1] in message or token in message, message
    assert "line" in message or "offending" in message or "Expected" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name = 'x'\nstate = [\n", "Malformed TOML"),
        (
            MGU_SPEC.replace('[update]\nh = "(1 - f) * h + f * tanh(U_h @ (f * h) + b_h)"', "[update]\n"),
            "missing ['h']",
        ),
        (MGU_SPEC.replace('U_f = "a_f"', 'U_f = "a_f"\nU_q = "a_q"'), "U_q"),
        (MGU_SPEC.replace('U_f = "a_f"', "U_f = -1.5"), "U_f=-1.5"),
        (MGU_SPEC.replace('U_f = "a_f"', 'U_f = "-2"'), "U_f="),
        (MGU_SPEC.replace('U_f = "a_f"', "U_f = true"), "U_f=True"),
        (MGU_SPEC.replace('state = ["h"]', 'state = ["h", "c"]'), "missing ['c']"),
        (MGU_SPEC + '\n[extra]\nx = "1"\n', "key='extra'"),
        (MGU_SPEC.replace("U_h @ (f * h)", "U_f @ (f * h)").replace('U_h = "a_h"', ""), "single presynaptic vector"),
        (MGU_SPEC.replace('name = "mgu"', "name = 3"), "name=3"),
        (MGU_SPEC.replace('f = "sigmoid(U_f @ h + b_f)"', "f = 3"), "gates.f"),
        (MGU_SPEC.replace('f = "sigmoid', 'h = "sigmoid'), "gate name not already used as a state"),
    ],
)
def test_malformed_specs_raise_typed_errors(text: str, fragment: str) -> None:
    with pytest.raises(ArchitectureError) as info:
        rmtgate.loads_spec(text)
    assert fragment in str(info.value), str(info.value)


def test_error_names_the_line_of_the_offending_entry() -> None:
    text = MGU_SPEC.replace('f = "sigmoid(U_f @ h + b_f)"', 'f = "sigmoid(U_f @ h + b_f).conjugate()"')
    with pytest.raises(ArchitectureError, match=r"gates\.f \(line 9, column"):
        rmtgate.loads_spec(text)


def test_declared_parameters_make_unknown_names_errors() -> None:
    strict = MGU_SPEC.replace('state = ["h"]', 'state = ["h"]\nparameters = ["b_f"]')
    with pytest.raises(ArchitectureError, match="Unknown name.*'b_h'"):
        rmtgate.loads_spec(strict)


def test_spec_files_cannot_run_code_even_via_sympy_names(tmp_path: Path) -> None:
    # names that sympify would resolve to SymPy objects are plain parameters here, or rejected
    text = MGU_SPEC.replace("b_h)", "b_h + Symbol + Integer)")
    arch = rmtgate.loads_spec(text)
    assert {"Symbol", "Integer"} <= {p.name for p in arch.parameters}
    # they are plain symbols in the update, not the SymPy classes of those names
    _, update = arch.update[0]
    assert {"Symbol", "Integer"} <= {s.name for s in update.free_symbols}


@settings(max_examples=20, deadline=None, derandomize=True)
@given(architecture_specs())
def test_random_architectures_round_trip_through_toml(spec: dict) -> None:
    lines = [f'name = "{spec["name"]}"', 'state = ["h"]', "[matrices]"]
    lines += [f'{k} = "{v}"' for k, v in spec["matrices"].items()]
    lines += ["[gates]"] + [f'{k} = "{v}"' for k, v in spec["gates"].items()]
    lines += ["[update]"] + [f'{k} = "{v}"' for k, v in spec["update"].items()]
    from_toml = rmtgate.loads_spec("\n".join(lines))
    assert from_toml.canonical_text() == rmtgate.declare(**spec).canonical_text()
