"""Symbolic boundary: LSTM [G 33, 36], GRU [G 84-86], vanilla circular law."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import rmtgate
from rmtgate.symbolic.architecture import local_symbol, parameter_symbol, variance_symbol
from rmtgate.symbolic.boundary import (
    LAMBDA_BAR,
    Expectation,
    boundary,
    expectation,
    local_symbols,
    mean_field_independence,
)
from rmtgate.symbolic.derive import derive
from rmtgate.symbolic.functions import sigmoid
from rmtgate.symbolic.linearization import LAMBDA

lam, lam_bar = LAMBDA, LAMBDA_BAR


def abs2(expr: sympy.Expr) -> sympy.Expr:
    """|expr|² for an expression whose only complex symbol is λ."""
    return expr * expr.xreplace({lam: lam_bar})


def test_lstm_boundary_is_rank_one_and_equals_paper_eq_33_36() -> None:
    arch = rmtgate.lstm()
    bnd = boundary(derive(arch).linearization)
    assert bnd.form == "rank-one"
    c = local_symbol("c")
    f, i, o = (sigmoid(local_symbol(f"eta_{k}") + parameter_symbol(f"b_{k}")) for k in "fio")
    y = local_symbol("eta_h") + parameter_symbol("b_h")
    c_t = f * c + i * sympy.tanh(y)
    a = {k: variance_symbol(f"a_{k}") for k in "fioh"}
    d = lambda x: 1 - sympy.tanh(x) ** 2  # noqa: E731 - φ'
    q = a["o"] ** 2 * (o * (1 - o)) ** 2 * sympy.tanh(c_t) ** 2
    p = (o * d(c_t)) ** 2 * (
        a["f"] ** 2 * c**2 * (f * (1 - f)) ** 2
        + a["i"] ** 2 * (i * (1 - i)) ** 2 * sympy.tanh(y) ** 2
        + a["h"] ** 2 * i**2 * d(y) ** 2
    )
    local = local_symbols(arch)
    paper = expectation(q / abs2(lam), local) + expectation(p / abs2(lam - f), local)
    assert sympy.expand(bnd.spectral_function - paper) == 0
    # a wrong variant (a_i swapped for a_h in p) is detected
    wrong = expectation(q / abs2(lam), local) + expectation(p.xreplace({a["i"]: a["h"]}) / abs2(lam - f), local)
    assert sympy.expand(bnd.spectral_function - wrong) != 0


def _gru_symbols() -> dict[str, sympy.Expr]:
    z = sigmoid(local_symbol("eta_z") + parameter_symbol("b_z"))
    r = sigmoid(local_symbol("eta_r") + parameter_symbol("b_r"))
    y = local_symbol("eta_h") + parameter_symbol("b_h")
    return {
        "h": local_symbol("h"),
        "z": z,
        "r": r,
        "dz": z * (1 - z),
        "dr": r * (1 - r),
        "phi": sympy.tanh(y),
        "dphi": 1 - sympy.tanh(y) ** 2,
        "a_z": variance_symbol("a_z"),
        "a_r": variance_symbol("a_r"),
        "a_h": variance_symbol("a_h"),
    }


def test_gru_factorized_boundary_equals_paper_eq_84_86() -> None:
    arch = rmtgate.gru()
    bnd = boundary(derive(arch).linearization, factorized=True)
    assert bnd.form == "determinant"
    g = _gru_symbols()
    local = local_symbols(arch)
    mft = mean_field_independence(arch)

    def E(x: sympy.Expr) -> sympy.Expr:
        return expectation(x, local, mft)

    den = abs2(lam - g["z"])
    # [G 84-85]
    eq85 = (
        E(g["h"] ** 2 * (g["a_r"] * g["dr"]) ** 2) * E((g["a_h"] * g["dphi"]) ** 2 * (1 - g["z"]) ** 2 / den)
        + E((g["a_h"] * g["dphi"]) ** 2 * g["r"] ** 2 * (1 - g["z"]) ** 2 / den)
        + E((g["h"] - g["phi"]) ** 2 * (g["a_z"] * g["dz"]) ** 2 / den)
    )
    # [G 86]
    eq86 = E(g["r"] ** 2 + g["a_r"] ** 2 * g["h"] ** 2 * g["dr"] ** 2) * E(g["a_h"] ** 2 * g["dphi"] ** 2) * E(
        (1 - g["z"]) ** 2 / den
    ) + E(g["a_z"] ** 2 * (g["h"] - g["phi"]) ** 2 * g["dz"] ** 2 / den)
    assert sympy.expand(bnd.spectral_function - eq85) == 0
    assert sympy.expand(bnd.spectral_function - eq86) == 0


def test_gru_unfactorized_boundary_differs_from_paper_by_the_reset_correlation_term() -> None:
    # without the mean-field independence of r, 1 - det(I - L) = [G 84] + a_z² a_h² (P Q_r - Q P_r)
    arch = rmtgate.gru()
    bnd = boundary(derive(arch).linearization)
    g = _gru_symbols()
    local = local_symbols(arch)

    def E(x: sympy.Expr) -> sympy.Expr:
        return expectation(x, local)

    den = abs2(lam - g["z"])
    P = E(g["dz"] ** 2 * (g["h"] - g["phi"]) ** 2 / den)
    Q = E((1 - g["z"]) ** 2 * g["dphi"] ** 2 / den)
    Qr = E(g["r"] ** 2 * (1 - g["z"]) ** 2 * g["dphi"] ** 2 / den)
    Pr = E(g["r"] ** 2 * g["dz"] ** 2 * (g["h"] - g["phi"]) ** 2 / den)
    H = E(g["h"] ** 2 * g["dr"] ** 2)
    a_z, a_r, a_h = g["a_z"], g["a_r"], g["a_h"]
    expected = a_h**2 * Qr + a_r**2 * a_h**2 * Q * H + a_z**2 * P - a_z**2 * a_h**2 * (P * Qr - Q * Pr)
    assert sympy.expand(bnd.spectral_function - expected) == 0


def test_vanilla_boundary_is_the_circular_law() -> None:
    arch = rmtgate.vanilla()
    bnd = boundary(derive(arch).linearization)
    assert bnd.form == "rank-one"
    y = local_symbol("eta_h") + parameter_symbol("b_h")
    circular = (
        variance_symbol("a_h") ** 2 * expectation((1 - sympy.tanh(y) ** 2) ** 2, local_symbols(arch)) / (lam * lam_bar)
    )
    assert sympy.expand(bnd.spectral_function - circular) == 0


@pytest.mark.parametrize("name", ["vanilla", "gru", "lstm", "mgu", "ctrnn"])
def test_T_is_C_times_resolvent_times_B(name: str) -> None:
    # independent route: substitute random numbers first, then invert the numeric matrix
    lin = derive(rmtgate.builtin(name)).linearization
    bnd = boundary(lin)
    rng = np.random.default_rng(3)
    symbols = set().union(*(m.free_symbols for m in (lin.A, lin.C, bnd.T))) - {lam}
    point = {s: sympy.Float(rng.uniform(-0.9, 0.9)) for s in symbols}
    point[lam] = sympy.Float(0.3) + sympy.I * sympy.Float(1.1)
    numeric = lambda m: np.array(m.xreplace(point).evalf(), dtype=complex)  # noqa: E731
    direct = numeric(lin.C) @ np.linalg.inv(numeric(lin.I_lambda - lin.A)) @ numeric(lin.B)
    assert np.allclose(numeric(bnd.T), direct, rtol=1e-12, atol=1e-12)


def test_expectation_nodes_print() -> None:
    assert sympy.latex(Expectation(local_symbol("h") ** 2)) == r"\mathbb{E}\left[h^{2}\right]"


def test_gru_bounding_curves_drop_the_fixed_point_residual_column() -> None:
    from rmtgate.symbolic.boundary import bounding_curves

    bnd = boundary(derive(rmtgate.gru()).linearization)
    curves = bounding_curves(bnd)
    assert curves is not None
    h, y = local_symbol("h"), local_symbol("eta_h") + parameter_symbol("b_h")
    assert sympy.expand(curves.residual - (h - sympy.tanh(y))) == 0
    changed = [(k, l) for k in range(3) for l in range(3) if curves.inner_squared[k, l] != bnd.squared[k, l]]
    assert changed == [(0, 0), (1, 0), (2, 0)]  # the update-gate column, [G 88] with ν = 0
    # outer: E[X²|R|²] → ν² E[|R|²] with X² |R|² = |T|²
    for k, l in changed:
        ratio = sympy.cancel(bnd.squared[k, l] / curves.outer_squared[k, l] * curves.nu2)
        assert sympy.simplify(ratio - curves.residual**2) == 0
    # architectures whose L carries no residual factor have no bounds to offer
    assert bounding_curves(boundary(derive(rmtgate.lstm()).linearization)) is None
