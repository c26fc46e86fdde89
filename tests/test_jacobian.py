"""Jacobian and linearization: paper equations, Schur identity, finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings

import rmtgate
from rmtgate.numerics.compile import compile_step
from rmtgate.symbolic.architecture import local_symbol, parameter_symbol
from rmtgate.symbolic.functions import sigmoid
from rmtgate.symbolic.jacobian import jacobian
from rmtgate.symbolic.linearization import LAMBDA, linearize
from rmtgate.symbolic.operators import OperatorPolynomial
from rmtgate.verification.strategies import architecture_specs

D = OperatorPolynomial.diagonal
U = OperatorPolynomial.matrix


def sym(name: str) -> sympy.Symbol:
    return local_symbol(name)


def par(name: str) -> sympy.Symbol:
    return parameter_symbol(name)


def test_gru_jacobian_equals_paper_eq_11() -> None:
    # [G 11]: J = z + (1-z) φ'(y) U_h (r + h r' U_r) + (h - φ(y)) z' U_z, written by hand
    h = sym("h")
    z = sigmoid(sym("eta_z") + par("b_z"))
    r = sigmoid(sym("eta_r") + par("b_r"))
    y = sym("eta_h") + par("b_h")
    phi, dphi = sympy.tanh(y), 1 - sympy.tanh(y) ** 2
    paper = (
        D(z)
        + D((1 - z) * dphi) * U("U_h") * (D(r) + D(h * r * (1 - r)) * U("U_r"))
        + D((h - phi) * z * (1 - z)) * U("U_z")
    )
    derived = jacobian(rmtgate.gru()).blocks[0][0]
    assert derived.equals(paper)
    # and the comparison can fail: dropping the reset-gate term breaks equality
    assert not derived.equals(paper - D((1 - z) * dphi) * U("U_h") * D(h * r * (1 - r)) * U("U_r"))


def test_lstm_jacobian_equals_paper_eq_31() -> None:
    # [G 31] with state order (c, h): J = [[f, g], [m f, o' φ(c_t) U_o + m g]]
    c, _h = sym("c"), sym("h")
    f = sigmoid(sym("eta_f") + par("b_f"))
    i = sigmoid(sym("eta_i") + par("b_i"))
    o = sigmoid(sym("eta_o") + par("b_o"))
    y = sym("eta_h") + par("b_h")
    c_t = f * c + i * sympy.tanh(y)
    m = o * (1 - sympy.tanh(c_t) ** 2)
    g = (
        D(f * (1 - f) * c) * U("U_f")
        + D(i * (1 - sympy.tanh(y) ** 2)) * U("U_h")
        + D(i * (1 - i) * sympy.tanh(y)) * U("U_i")
    )
    paper = [[D(f), g], [D(m * f), D(o * (1 - o) * sympy.tanh(c_t)) * U("U_o") + D(m) * g]]
    derived = jacobian(rmtgate.lstm()).blocks
    for row in range(2):
        for col in range(2):
            assert derived[row][col].equals(paper[row][col]), (row, col)


@pytest.mark.parametrize("name", ["vanilla", "gru", "lstm", "ctrnn", "mgu"])
def test_schur_identity_holds_for_builtins(name: str) -> None:
    assert linearize(rmtgate.builtin(name)).schur_identity_holds


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(architecture_specs())
def test_schur_identity_holds_for_random_architectures(spec: dict) -> None:
    arch = rmtgate.declare(**spec)
    lin = linearize(arch)
    assert lin.schur_identity_holds, spec
    # the Schur complement is a genuine function of λ: its λ-coefficient is the identity
    schur = lin.schur_complement()[0][0]
    assert (schur - D(LAMBDA, constants=(LAMBDA,))).equals(-jacobian(arch).blocks[0][0])


def test_schur_check_detects_a_wrong_linearization() -> None:
    arch = rmtgate.gru()
    lin = linearize(arch)
    wrong_c = lin.C.as_mutable()
    wrong_c[2, 0] = 2 * wrong_c[2, 0]  # double ∂u_h/∂h
    from rmtgate.symbolic.linearization import _resolvent_operand, _schur_complement

    operand = _resolvent_operand(lin.A, lin.B, wrong_c, lin.I_lambda, lin.matrix_names, LAMBDA)
    schur = _schur_complement(operand, 1)[0][0]
    target = D(LAMBDA, constants=(LAMBDA,)) - jacobian(arch).blocks[0][0]
    assert not schur.equals(target)


def _random_point(arch: rmtgate.Architecture, n: int, rng: np.random.Generator) -> tuple[dict, dict, dict]:
    state = {s: rng.normal(0.0, 0.8, n) for s in arch.state}
    params = {p.name: float(rng.uniform(-0.5, 0.5)) for p in arch.parameters}
    for p in arch.variance_parameters:
        params[p.name] = float(rng.uniform(0.5, 2.0))
    matrices = {}
    for m in arch.matrices:
        scale = params[m.variance.name] if isinstance(m.variance, sympy.Symbol) else float(m.variance)
        matrices[m.name] = rng.normal(0.0, scale / np.sqrt(n), (n, n))
    return state, params, matrices


@pytest.mark.parametrize("name", ["vanilla", "gru", "lstm", "ctrnn", "mgu"])
def test_symbolic_jacobian_matches_finite_differences(name: str) -> None:
    arch = rmtgate.builtin(name)
    n = 50
    rng = np.random.default_rng(7)
    state, params, matrices = _random_point(arch, n, rng)
    step = compile_step(arch)
    _new_state, fields = step(state, matrices, params)

    values = {s: state[s.name] for s in arch.state_symbols}
    values.update({f.symbol: fields[f.symbol.name] for f in arch.fields})
    values.update({p: params[p.name] for p in arch.parameters})
    symbolic = jacobian(arch).evaluate(values, matrices)

    # central differences: truncation O(δ²)·|f'''| ~ 1e-10 and rounding ~ 1e-16/δ ~ 1e-11
    delta = 1e-5
    columns = []
    for s in arch.state:
        for j in range(n):
            plus = {k: v.copy() for k, v in state.items()}
            minus = {k: v.copy() for k, v in state.items()}
            plus[s][j] += delta
            minus[s][j] -= delta
            up, _ = step(plus, matrices, params)
            down, _ = step(minus, matrices, params)
            columns.append(np.concatenate([(up[t] - down[t]) / (2 * delta) for t in arch.state]))
    numeric = np.stack(columns, axis=1)
    assert symbolic.shape == numeric.shape == (n * len(arch.state), n * len(arch.state))
    assert np.max(np.abs(symbolic - numeric)) < 1e-7 * max(1.0, np.max(np.abs(numeric)))
    assert np.max(np.abs(numeric)) > 0.1  # the comparison is not between two zero matrices
