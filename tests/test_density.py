"""Eigenvalue density inside the support (hermitized Dyson equation) against closed forms of [G].

References are independent of :mod:`rmtgate.numerics.density`: closed forms (eqs. 20, 22, 37, 38), the
paper's scalar equations (Prop. B.1, Thm 5.1, density after eq. 155) solved here by ``brentq``,
and central finite differences of ``G`` (a test reference only, never the method).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

import rmtgate
from rmtgate.numerics.density import density, density_grid
from rmtgate.numerics.density_masses import angular_marginal, fraction_in_disk, radial_marginal
from rmtgate.numerics.dyson_coefficients import DysonTerms, coefficients
from rmtgate.numerics.dyson_solver import solve
from rmtgate.numerics.evaluators import NumpyEvaluator
from rmtgate.numerics.samples import LocalSample
from rmtgate.symbolic.derive import derive

sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
dphi = lambda x: 1.0 - np.tanh(x) ** 2  # noqa: E731

GRU = derive(rmtgate.gru())
LSTM = derive(rmtgate.lstm())


def _scalar_F(equation, scale: float = 1e8) -> float:
    """Root ``F ≥ 0`` of a decreasing ``equation(F) = E[...] − 1`` (0 outside the support)."""
    if equation(0.0) <= 0:
        return 0.0
    return brentq(equation, 0.0, scale, xtol=1e-300, rtol=1e-15, maxiter=500)


# ---------------------------------------------------------------------------------------- zero states


def test_gru_zero_state_is_uniform_disk_eq_20() -> None:
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0, "b_z": 0.4, "b_r": -0.3}
    z, r = sig(0.4), sig(-0.3)
    R = (1 - z) * r * 3.0
    rng = np.random.default_rng(0)
    radius = R * np.sqrt(rng.uniform(0, 1.44, 60))
    pts = z + radius * np.exp(1j * rng.uniform(0, 2 * np.pi, 60))
    res = density(GRU, "zero", params, pts)
    inside = np.abs(pts - z) < R
    expected_mu = np.where(inside, 1.0 / (np.pi * R**2), 0.0)
    # eq. 20 is exact: only rounding (relative 1e-13 in the Newton solution) separates them
    assert np.max(np.abs(res.mu - expected_mu)) * np.pi * R**2 < 1e-8
    expected_G = np.where(inside, np.conj(pts - z) / R**2, 1.0 / (pts - z))
    assert np.max(np.abs(res.G - expected_G)) < 1e-9
    assert res.atoms == ()


def test_lstm_zero_fixed_point_eq_37_with_atom_at_zero() -> None:
    params = {"a_h": 3.0, "a_i": 1.0, "a_f": 1.0, "a_o": 1.0, "b_f": 0.2, "b_i": 0.1, "b_o": -0.2}
    f, i, o = sig(0.2), sig(0.1), sig(-0.2)
    p = (o * i * 3.0) ** 2
    co = coefficients(LSTM, "zero", params)
    # at c = h = 0, q = 0: the h-pole at λ = 0 decouples -> N eigenvalues at 0 (half of 2N)
    assert len(co.atoms) == 1 and co.atoms[0].location == 0 and abs(co.atoms[0].weight - 0.5) < 1e-15
    pts = f + np.sqrt(p) * np.array([0.1 + 0.2j, -0.5 + 0.3j, 0.7j, 0.9, 1.1j, 1.5 + 0.5j])
    res = density(co, "zero", params, pts, coefficients_=co)
    disk = np.where(np.abs(pts - f) < np.sqrt(p), 1.0 / (np.pi * p) / 2, 0.0)  # eq. 37 normalised per 2N
    assert np.max(np.abs(res.mu - disk)) * np.pi * p < 1e-8
    # mass: the atom plus the whole disk (circle outside everything) and the disk alone
    assert abs(fraction_in_disk(co, center=f, radius=2.0 * np.sqrt(p) + 1) - 1.0) < 1e-12
    assert abs(fraction_in_disk(co, center=f, radius=0.5 * np.sqrt(p)) - 0.5 * 0.25) < 1e-10


def _lens_fraction(d: float, r: float, R: float) -> float:
    """Area of {|λ − c| < r} ∩ {|λ − z| < R} over πR² (closed-form lens area), d = |c − z|."""
    if d >= r + R:
        return 0.0
    if d <= abs(R - r):
        return min(r, R) ** 2 / R**2
    a = r**2 * np.arccos((d**2 + r**2 - R**2) / (2 * d * r))
    b = R**2 * np.arccos((d**2 + R**2 - r**2) / (2 * d * R))
    c = 0.5 * np.sqrt((-d + r + R) * (d + r - R) * (d - r + R) * (d + r + R))
    return (a + b - c) / (np.pi * R**2)


@pytest.mark.parametrize(("center", "radius"), [(1.0, 0.5), (0.0, 0.6), (0.5 + 0.5j, 0.3), (0.5, 0.3)])
def test_fraction_in_disk_equals_lens_area_on_uniform_disk(center: complex, radius: float) -> None:
    co = coefficients(GRU, "zero", {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0})
    got = fraction_in_disk(co, center=center, radius=radius)
    # Gauss–Legendre on arcs cut at the edge crossings (located to 1e-13): spectral accuracy
    assert abs(got - _lens_fraction(abs(center - 0.5), radius, 0.75)) < 1e-10


# ---------------------------------------------------------------------------------------- general samples


def _gru_sample(m: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"h": rng.uniform(-0.9, 0.9, m), **{k: rng.normal(0, 1.5, m) for k in ("eta_z", "eta_r", "eta_h")}}


def test_gru_ar0_matches_prop_b1() -> None:
    params = {"a_h": 3.0, "a_z": 2.0, "a_r": 0.0, "b_z": 0.3, "b_r": 0.2, "b_h": -0.1}
    s = _gru_sample(150, 1)
    s["eta_r"] = np.zeros(150)  # a_r = 0 means η_r = U_r h = 0: r = σ(b_r) is constant, as Prop. B.1 assumes
    z, r, y = sig(s["eta_z"] + 0.3), sig(s["eta_r"] + 0.2), s["eta_h"] - 0.1
    st = (r * 3.0 * (1 - z) * dphi(y)) ** 2 + (2.0 * z * (1 - z) * (s["h"] - np.tanh(y))) ** 2

    def paper(lam: complex) -> complex:
        d2 = np.abs(lam - z) ** 2
        F = _scalar_F(lambda F: np.mean(st / (d2 + F * st)) - 1.0)
        return np.mean((np.conj(lam) - z) / (d2 + F * st))  # eq. 91 (holomorphic form when F = 0)

    pts = np.array([0.5 + 0.1j, 0.2 + 0.6j, 0.9 + 0.05j, -0.3 + 0.2j, 1.8 + 1.0j, 0.7 + 1.3j])
    res = density(GRU, LocalSample.from_arrays(s), params, pts)
    ref = np.array([paper(p) for p in pts])
    # brentq solves F to 1e-15 relative: G agrees to rounding
    assert np.max(np.abs(res.G - ref)) < 1e-10
    assert np.any(res.solution.inside) and not np.all(res.solution.inside)


def _lstm_reference(s: dict[str, np.ndarray], p: dict[str, float], lam: complex) -> tuple[complex, float]:
    """[G] Thm 5.1 (eqs. 32-34) and the density after eq. 155, normalised per N (÷2 for 2N)."""
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
    F = _scalar_F(lambda F: np.mean(Q / (a2 * b2 + F * Q)) - 1.0)
    den = a2 * b2 + F * Q
    G = np.mean((a2 * (lb - f) + lb * b2 + F * ((lb - f) * q + lb * pp)) / den)
    if F == 0:
        return G, 0.0
    dF = -np.mean((lam * b2**2 * q + (lam - f) * a2**2 * pp) / den**2) / np.mean(Q**2 / den**2)
    mu = np.mean(
        (F * (b2**2 * q + a2**2 * pp) - dF * (lb * b2**2 * q + (lb - f) * a2**2 * pp) + F**2 * f**2 * pp * q) / den**2
    )
    return G, float(np.real(mu)) / np.pi


def test_lstm_matches_theorem_5_1_and_density_after_155() -> None:
    rng = np.random.default_rng(2)
    s = {k: rng.normal(0, 1.5, 200) for k in ("c", "h", "eta_f", "eta_i", "eta_o", "eta_h")}
    p = {"a_h": 3.0, "a_i": 1.0, "a_f": 1.0, "a_o": 1.0, "b_f": 0.3, "b_i": -0.2, "b_o": 0.1, "b_h": 0.05}
    pts = np.array([0.3 + 0.2j, -0.5 + 0.4j, 0.9 + 0.1j, 0.1 + 1.0j, 1.5 + 1.5j, 0.05j, 0.6 + 0.5j])
    res = density(LSTM, LocalSample.from_arrays(s), p, pts)
    for lam, G, mu in zip(pts, res.G, res.mu, strict=True):
        G_ref, mu_ref = _lstm_reference(s, p, lam)
        # both sides solve their equations to ~1e-15; the density formula differences d F by hand
        assert abs(2 * G - G_ref) < 1e-10
        assert abs(2 * mu - mu_ref) <= 1e-9 * max(1.0, mu_ref)
    assert np.any(res.mu > 0)


def test_implicit_density_matches_finite_difference_reference() -> None:
    """General GRU (a_r ≠ 0, three coupled fields): μ by implicit derivatives vs central differences of G."""
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    s = LocalSample.from_arrays(_gru_sample(120, 3))
    co = coefficients(GRU, s, params)
    pts = np.array([0.4 + 0.3j, 0.6 + 0.05j, 0.3 + 0.5j])
    res = density(co, s, params, pts, coefficients_=co)
    assert np.all(res.solution.inside)
    h = 1e-4
    for lam, mu in zip(pts, res.mu, strict=True):
        g = [density(co, s, params, [lam + d], tol=1e-14, coefficients_=co).G[0] for d in (h, -h, 1j * h, -1j * h)]
        dbar = 0.5 * ((g[0] - g[1]) / (2 * h) + 1j * (g[2] - g[3]) / (2 * h))
        # truncation h²·|G'''|/6 ≲ 1e-7 and rounding 1e-14/h = 1e-10: 1e-6 relative is safe
        assert abs(mu - dbar.real / np.pi) < 1e-6 * abs(mu)
        assert abs(dbar.imag) < 1e-6 * abs(mu) * np.pi


def test_edge_of_dyson_system_is_existing_boundary() -> None:
    """At g → 0 the Dyson Jacobian's y-block is I − L; inside/outside agrees with ρ(L(λ)) of numerics.evaluators."""
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    s = LocalSample.from_arrays(_gru_sample(100, 4))
    co = coefficients(GRU, s, params)
    ev = NumpyEvaluator(GRU.boundary, s, params)
    rng = np.random.default_rng(5)
    pts = rng.uniform(-1, 2, 40) + 1j * rng.uniform(0.01, 1.5, 40)
    K = co.K
    t = DysonTerms(co, pts, np.zeros((40, K)), np.zeros((40, K)))
    # same L(λ) as the boundary module (same pole–residue data, different code path)
    assert np.allclose(t.L(), ev.L(pts), rtol=1e-12, atol=1e-14)
    jac = t.jacobian()
    assert np.allclose(jac[:, K:, K:], np.eye(K) - ev.L(pts), rtol=1e-12, atol=1e-14)
    sol = solve(co, pts)
    assert np.array_equal(sol.inside, ev.spectral_function(pts) >= 1.0)
    # approaching the edge from inside along a ray the unknowns vanish like √(ρ − 1) (the gauge
    # product u·v is what the equations fix, and it is linear in ρ − 1 at the bifurcation)
    edge_ray = 0.45 + np.linspace(0.01, 3.0, 400) * 1j
    rho = ev.spectral_function(edge_ray)
    last = np.nonzero(rho >= 1.0)[0][-1]
    near = solve(co, edge_ray[[last - 3, last]])
    size = np.sum(near.u + near.v, axis=1)
    assert size[1] < size[0]
    ratio = (size[1] ** 2 / (rho[last] - 1)) / (size[0] ** 2 / (rho[last - 3] - 1))
    # corrections to the √ law are O(ρ − 1) ≤ 0.1 here: 20 % allows for them
    assert abs(ratio - 1) < 0.2


# ---------------------------------------------------------------------------------------- limits with atoms


def test_gru_binary_update_gate_hard_tanh_eq_22() -> None:
    """a_z → ∞ (z ∈ {0, 1}), hard-tanh φ' ∈ {0, 1}: atoms at 1 and 0 and a uniform disk (eq. 22)."""
    rng = np.random.default_rng(6)
    m = 400
    zero_gate = rng.uniform(size=m) < 0.6
    unsaturated = rng.uniform(size=m) < 0.7
    s = {
        "h": rng.uniform(-1, 1, m),
        "eta_z": np.where(zero_gate, -1000.0, 1000.0),  # σ = 0 or 1 exactly in floating point
        "eta_r": np.zeros(m),
        "eta_h": np.where(unsaturated, 0.0, 1000.0),  # φ'(0) = 1, φ'(1000) = 0 exactly
    }
    alpha = np.mean(zero_gate)
    eta = np.mean(zero_gate & unsaturated) / alpha
    b_r = 0.5
    params = {"a_h": 3.0, "a_z": 5.0, "a_r": 0.0, "b_r": b_r}
    co = coefficients(GRU, LocalSample.from_arrays(s), params)
    atoms = {a.location: a.weight for a in co.atoms}
    # counts are exact: the weights are fractions of the sample
    assert abs(atoms[1.0] - (1 - alpha)) < 1e-15 and abs(atoms[0.0] - alpha * (1 - eta)) < 1e-15
    R = np.sqrt(alpha * eta) * 3.0 * sig(b_r)
    pts = R * np.array([0.1 + 0.1j, 0.5j, -0.7 + 0.2j, 0.95, 1.05j, 1.3 + 0.2j])
    res = density(co, None, params, pts, coefficients_=co)
    disk = np.where(np.abs(pts) < R, 1.0 / (np.pi * (3.0 * sig(b_r)) ** 2), 0.0)
    assert np.max(np.abs(res.mu - disk)) < 1e-9 * disk.max()
    # continuous + atoms = 1, and the disk mass is αη
    # half the disk's radius: a quarter of its mass αη, plus the atom at 0 (the atom at 1 is outside)
    assert abs(fraction_in_disk(co, center=0.0, radius=0.5 * R) - (0.25 * alpha * eta + alpha * (1 - eta))) < 1e-10
    assert abs(fraction_in_disk(co, center=0.5, radius=5.0) - 1.0) < 1e-12


def test_lstm_binary_forget_gate_eq_38() -> None:
    """a_f → ∞ with a_i = a_o = 0 and hard-tanh: eq. 38 (normalised per 2N)."""
    rng = np.random.default_rng(7)
    m = 400
    forget = rng.uniform(size=m) < 0.5
    unsat = rng.uniform(size=m) < 0.65
    s = {
        "c": np.where(forget, 1000.0, 0.0),  # f = 1: c saturates φ'(c_t) = 0 (App. G.2)
        "h": rng.uniform(-1, 1, m),
        "eta_f": np.where(forget, 1000.0, -1000.0),
        "eta_i": np.zeros(m),
        "eta_o": np.zeros(m),
        "eta_h": np.where(unsat & ~forget, 0.0, 1000.0),
    }
    params = {"a_h": 3.0, "a_i": 0.0, "a_f": 8.0, "a_o": 0.0, "b_i": 0.3, "b_o": -0.1}
    frac_f0 = np.mean(~forget)
    eta = np.mean(unsat & ~forget) / frac_f0
    co = coefficients(LSTM, LocalSample.from_arrays(s), params)
    atoms = {a.location: a.weight for a in co.atoms}
    # per 2N: every neuron's h-pole at 0 (a_o = 0) + saturated f = 0 neurons' c-pole; f = 1 -> 1
    assert abs(atoms[0.0] - (1 + frac_f0 * (1 - eta)) / 2) < 1e-15
    assert abs(atoms[1.0] - (1 - frac_f0) / 2) < 1e-15
    R = sig(-0.1) * sig(0.3) * 3.0
    edge = np.sqrt(eta * frac_f0) * R  # eq. 38 with P(f = 0) = 1/2 generalised to the sample's share
    pts = edge * np.array([0.2 + 0.1j, 0.6j, -0.9 + 0.1j, 1.1j, 1.4])
    res = density(co, None, params, pts, coefficients_=co)
    disk = np.where(np.abs(pts) < edge, 1.0 / (np.pi * R**2) / 2, 0.0)
    assert np.max(np.abs(res.mu - disk)) < 1e-9 * disk.max()
    assert abs(fraction_in_disk(co, center=0.3, radius=4.0) - 1.0) < 1e-12


# ---------------------------------------------------------------------------------------- masses


def test_total_mass_by_polar_quadrature_of_mu_gru_steady_sample() -> None:
    """Continuous mass from μ alone (rays cut at the edge, trapezoid in angle) is 1 − atoms."""
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    values = _gru_sample(80, 8)
    # a narrow update-gate field keeps every pole z_s inside the bulk: with poles outside it, a
    # finite sample's support has tiny islands (one eigenvalue each) that rays would step over
    values["eta_z"] *= 0.2
    s = LocalSample.from_arrays(values)
    co = coefficients(GRU, s, params)
    center = 0.5
    angles = 2 * np.pi * (np.arange(24) + 0.5) / 24
    marginal = angular_marginal(co, center=center, angles=angles, nodes=32, scan=120)
    mass = np.sum(marginal) * 2 * np.pi / 24
    # trapezoid on a smooth periodic integrand + Gauss-Legendre per segment: 1e-3 is generous
    assert abs(mass + co.atom_mass - 1.0) < 1e-3
    # Stokes: ∮ G on a circle inside the bulk equals ∫ μ over the disk (radial marginal, Gauss-Legendre)
    r0 = 0.3
    t, w = np.polynomial.legendre.leggauss(12)
    radial = radial_marginal(co, center=center, radii=0.5 * r0 * (t + 1), nodes=32)
    # the radial marginal is smooth but the sample's poles z_s sit near the circles, so 12-node
    # Gauss-Legendre in r converges only to ~1e-6 (measured 1.5e-6); 1e-5 keeps a margin
    assert abs(np.sum(0.5 * r0 * w * radial) - fraction_in_disk(co, center=center, radius=r0)) < 1e-5


def test_density_grid_is_nonnegative_and_continuation_solves_every_inside_point() -> None:
    params = {"a_h": 3.0, "a_z": 1.0, "a_r": 1.0}
    s = LocalSample.from_arrays(_gru_sample(60, 9))
    grid = density_grid(GRU, s, params, grid=16)
    assert np.all(grid.mu >= 0) and np.any(grid.mu > 0)
    # midpoint rule with an O(h) error from the cells cut by the edge: a loose check of the mass
    assert abs(grid.continuous_mass - 1.0) < 0.1


def test_cli_density_json_zero_state(capsys) -> None:
    import json

    from rmtgate.cli.main import main

    argv = [
        "density",
        "gru",
        "-p",
        "a_h=3",
        "-p",
        "a_z=1",
        "-p",
        "a_r=1",
        "--grid",
        "8",
        "--disk",
        "0.5,0,0.375",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["grid"]["re"]) == 8 and len(out["density"]) == 8 and out["atoms"] == []
    assert abs(out["total_mass"] - 1.0) < 1e-10
    assert abs(out["fraction_in_disk"][0]["fraction"] - 0.25) < 1e-10  # eq. 20: R/2 of the uniform disk
    assert main(["density", "gru", "--state", "network"]) == 2  # network statistics need --simulate N


def test_erfc_fit_recovers_known_coefficients() -> None:
    # the [G] Fig. 1f fit form c1 erfc(c2 / a_z) on exact data: coefficients back to 1e-6
    from scipy.special import erfc

    from rmtgate.verification.slow_modes import erfc_fit

    a_z = np.array([1.0, 3.0, 10.0, 30.0, 100.0])
    c1, c2 = erfc_fit(a_z, 0.52 * erfc(3.2 / a_z))
    assert (c1, c2) == (pytest.approx(0.52, rel=1e-6), pytest.approx(3.2, rel=1e-6))
