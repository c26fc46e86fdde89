"""Symbolic Dyson system (rmtgate.symbolic.dyson) against [G]'s own equations and the boundary.

Code paths: the symbolic ``T(λ)``, ``T†``, ``∂_λT`` of :func:`dyson_system` are lambdified and
the per-neuron ``K × K`` algebra done by numpy (:meth:`DysonSystem.numeric`); the numeric solver
(:mod:`rmtgate.numerics.dyson_coefficients`) builds ``T`` from poles and residues instead.
[G]'s scalar equations (GRU Prop. B.1 / App. C with ``a_r = 0``; LSTM Thm 5.1 and the density
after eq. 155) are solved here by ``brentq``.  Every test runs in well under 10 s.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from scipy.optimize import brentq

import rmtgate
from rmtgate.numerics.dyson_coefficients import DysonTerms, coefficients
from rmtgate.numerics.dyson_solver import solve
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.boundary import LAMBDA_BAR, Expectation
from rmtgate.symbolic.derive import derive
from rmtgate.symbolic.dyson import DysonSystem
from rmtgate.symbolic.linearization import LAMBDA

sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
dphi = lambda x: 1.0 - np.tanh(x) ** 2  # noqa: E731


def _random_sample(arch: rmtgate.Architecture, m: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    local = (*arch.state_symbols, *arch.local_form.field_symbols)
    return {s.name: rng.normal(0, 1.2, m) for s in local}


def _scalar_root(equation) -> float:
    """Root ``F ≥ 0`` of [G]'s decreasing ``E[...] − 1`` (0 outside the support)."""
    return 0.0 if equation(0.0) <= 0 else brentq(equation, 0.0, 1e8, xtol=1e-300, rtol=1e-15)


def _residual(system: DysonSystem, params: dict, values: dict, lam: complex, u, v) -> tuple[np.ndarray, complex]:
    """Relative residual of the symbolic system at ``(u, v)`` and its ``G``."""
    hx, hy, g = system.numeric(params)(values, lam, u, v)
    a2 = (
        np.array(
            [
                float(f.variance.xreplace({p: params[p.name] for p in system.linearization.architecture.parameters}))
                for f in system.linearization.fields
            ]
        )
        ** 2
    )
    F = np.concatenate([u - a2 * np.mean(hx.real, axis=0), v - a2 * np.mean(hy.real, axis=0)])
    return np.max(np.abs(F)) / max(np.max(np.abs(np.concatenate([u, v]))), 1e-300), complex(np.mean(g)) / system.n_state


@pytest.mark.parametrize("name", ["gru", "lstm", "mgu"])
def test_symbolic_per_neuron_algebra_matches_pole_residue_numerics(name: str) -> None:
    arch = getattr(rmtgate, name)()
    d = derive(arch)
    values = _random_sample(arch, 5, 11)
    rng = np.random.default_rng(3)
    params = {p.name: float(rng.uniform(0.5, 2.0)) for p in arch.parameters}
    K = d.dyson.T.rows
    u, v = rng.uniform(0.1, 1.0, K), rng.uniform(0.1, 1.0, K)
    lam = 0.3 + 0.4j
    hx, hy, g = d.dyson.numeric(params)(values, lam, u, v)
    t = DysonTerms(coefficients(d, LocalSample.from_arrays(values), params), np.array([lam]), u[None], v[None])
    # same per-neuron quantities from two code paths (lambdified T vs poles/residues): rounding only
    assert np.allclose(hx, np.diagonal(t.Hx[0], axis1=-2, axis2=-1), rtol=1e-10, atol=1e-12)
    assert np.allclose(hy, np.diagonal(t.Hy[0], axis1=-2, axis2=-1), rtol=1e-10, atol=1e-12)
    assert abs(np.mean(g) / d.dyson.n_state - t.green()[0]) < 1e-10


def test_gru_with_ar_zero_reduces_to_prop_b1() -> None:
    """a_r = 0: the 3-field Dyson system has [G]'s scalar solution (Prop. B.1, eqs. 91-92)."""
    d = derive(rmtgate.gru())
    params = {"a_h": 3.0, "a_z": 2.0, "a_r": 0.0, "b_z": 0.3, "b_r": 0.2, "b_h": -0.1}
    rng = np.random.default_rng(1)
    m = 60
    s = {
        "h": rng.uniform(-0.9, 0.9, m),
        "eta_z": rng.normal(0, 1.5, m),
        "eta_r": np.zeros(m),
        "eta_h": rng.normal(0, 1.5, m),
    }
    z, r, y = sig(s["eta_z"] + 0.3), sig(0.2), s["eta_h"] - 0.1
    st = (r * 3.0 * (1 - z) * dphi(y)) ** 2 + (2.0 * z * (1 - z) * (s["h"] - np.tanh(y))) ** 2
    co = coefficients(d, LocalSample.from_arrays(s), params)
    for lam in (0.5 + 0.1j, 0.2 + 0.6j, 0.9 + 0.05j, 1.8 + 1.0j):
        d2 = np.abs(lam - z) ** 2
        F = _scalar_root(lambda F, d2=d2: np.mean(st / (d2 + F * st)) - 1.0)
        G_paper = np.mean((np.conj(lam) - z) / (d2 + F * st))
        sol = solve(co, [lam])
        u, v = sol.u[0], sol.v[0]
        residual, G = _residual(d.dyson, params, s, lam, u, v)
        assert residual < 1e-9
        assert abs(G - G_paper) < 1e-10
        # the scalar F of [G] is the gauge-invariant product of the reset-free unknowns
        assert u[1] == 0 and v[1] == 0  # a_r = 0: the reset field carries nothing
        if F > 0:
            a2c2 = np.array([4.0, 9.0 * r**2])  # a_z²|c_z|², a_h²|c_h|² (presynaptic h, r h)
            assert np.allclose(v[[0, 2]] / np.sum(v[[0, 2]]), a2c2 / np.sum(a2c2), rtol=1e-8)


def _lstm_reference(s: dict[str, np.ndarray], p: dict[str, float], lam: complex) -> complex:
    """[G] Thm 5.1 / eqs. 150-155: G per N (the test divides by 2 for the 2N eigenvalues)."""
    f, i, o = (sig(s[f"eta_{k}"] + p[f"b_{k}"]) for k in "fio")
    y = s["eta_h"] + p["b_h"]
    ct = f * s["c"] + i * np.tanh(y)
    q = p["a_o"] ** 2 * (o * (1 - o)) ** 2 * np.tanh(ct) ** 2
    pp = (o * dphi(ct)) ** 2 * (
        p["a_f"] ** 2 * s["c"] ** 2 * (f * (1 - f)) ** 2
        + p["a_i"] ** 2 * (i * (1 - i)) ** 2 * np.tanh(y) ** 2
        + p["a_h"] ** 2 * i**2 * dphi(y) ** 2
    )
    a2, b2, lb = abs(lam) ** 2, np.abs(lam - f) ** 2, np.conj(lam)
    Q = b2 * q + a2 * pp
    F = _scalar_root(lambda F: np.mean(Q / (a2 * b2 + F * Q)) - 1.0)
    return np.mean((a2 * (lb - f) + lb * b2 + F * ((lb - f) * q + lb * pp)) / (a2 * b2 + F * Q))


def test_lstm_reduces_to_theorem_5_1() -> None:
    d = derive(rmtgate.lstm())
    rng = np.random.default_rng(2)
    s = {k: rng.normal(0, 1.5, 80) for k in ("c", "h", "eta_f", "eta_i", "eta_o", "eta_h")}
    p = {"a_h": 3.0, "a_i": 1.0, "a_f": 1.0, "a_o": 1.0, "b_f": 0.3, "b_i": -0.2, "b_o": 0.1, "b_h": 0.05}
    co = coefficients(d, LocalSample.from_arrays(s), p)
    inside = 0
    for lam in (0.3 + 0.2j, -0.5 + 0.4j, 0.9 + 0.1j, 1.5 + 1.5j, 0.6 + 0.5j):
        sol = solve(co, [lam])
        residual, G = _residual(d.dyson, p, s, lam, sol.u[0], sol.v[0])
        inside += bool(sol.inside[0])
        assert residual < 1e-9
        assert abs(2 * G - _lstm_reference(s, p, lam)) < 1e-10
    assert 0 < inside < 5


@pytest.mark.parametrize("name", ["gru", "lstm", "mgu"])
def test_edge_of_dyson_system_is_rho_L_equal_one(name: str) -> None:
    """∂(v-equations)/∂v at u = v = 0 is I − L, L the boundary's: the η → 0 edge is ρ(L(λ)) = 1."""
    arch = getattr(rmtgate, name)()
    d = derive(arch)
    unwrap = lambda e: e.replace(lambda x: isinstance(x, Expectation), lambda x: x.args[0])  # noqa: E731
    rng = np.random.default_rng(13)
    local = (*arch.state_symbols, *arch.local_form.field_symbols)
    lam = 0.2 + 0.7j
    values = {LAMBDA: lam, LAMBDA_BAR: np.conj(lam)}
    values.update({s: float(rng.normal()) for s in local})
    values.update({p: float(rng.uniform(0.5, 2.0)) for p in arch.parameters})
    number = lambda M: np.array(sympy.Matrix(M).xreplace(values).evalf(), dtype=complex)  # noqa: E731
    K = d.dyson.T.rows
    edge, L = number(unwrap(d.dyson.edge_matrix())), number(unwrap(sympy.Matrix(d.boundary.L)))
    assert np.allclose(edge, np.eye(K) - L, rtol=1e-12, atol=1e-12)
    # and the v-equations' linearization at 0 is (I − L) v: check with the numeric form
    params = {p.name: float(values[p]) for p in arch.parameters}
    sample = {s.name: [float(values[s])] for s in local}
    v = rng.uniform(0.1, 1, K)
    hy = d.dyson.numeric(params)(sample, lam, np.zeros(K), 1e-7 * v)[1][0]
    a2 = (
        np.array(
            [float(f.variance.xreplace({p: values[p] for p in arch.parameters})) for f in d.dyson.linearization.fields]
        )
        ** 2
    )
    assert np.allclose(a2 * hy.real / 1e-7, L.real @ v, rtol=1e-10)


def test_derivation_exposes_dyson_latex_and_vanilla_closed_form() -> None:
    d = derive(rmtgate.vanilla())
    system = d.dyson
    assert len(system.equations) == 2 and system.G is not sympy.S.NaN
    text = system.latex()
    for piece in (
        r"\Sigma_{11}",
        r"\mu(\lambda) = \frac{1}{\pi}\partial_{\bar\lambda} G",
        r"\rho(L(\lambda)) = 1",
        "G(\\lambda) =",
    ):
        assert piece in text
    assert system._repr_latex_().startswith("$$")
    assert any(title.startswith("Density") for title, _ in d.equations())
    # the closed form solves to the circular law: G = λ̄/a² inside |λ| < a (φ' = 1 at η = 0, b = 0)
    lam, a = 0.3 + 0.2j, 1.5
    u = v = np.sqrt(a**2 - abs(lam) ** 2)  # u v = a² − |λ|² solves u = a² u/(|λ|² + u v)
    subs = {
        LAMBDA: lam,
        LAMBDA_BAR: np.conj(lam),
        system.u[0]: u,
        system.v[0]: v,
        sympy.Symbol("a_h", positive=True): a,
    }
    subs.update({s: 0 for s in system.linearization.architecture.local_form.field_symbols})
    subs.update({p: (a if p.name == "a_h" else 0.0) for p in system.linearization.architecture.parameters})
    unwrap = lambda e: e.replace(lambda x: isinstance(x, Expectation), lambda x: x.args[0])  # noqa: E731
    for eq in system.equations:
        assert abs(complex(unwrap(eq).xreplace(subs).evalf())) < 1e-12
    assert abs(complex(unwrap(system.G).xreplace(subs).evalf()) - np.conj(lam) / a**2) < 1e-12
