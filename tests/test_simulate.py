"""Simulation layer: draws, iteration, the numerically assembled Jacobian, and its spectra.

Every numeric check compares against a reference computed by an independent route
(finite differences of the compiled step map, the symbolic Jacobian, a closed-form random-matrix
result), with the tolerance's origin stated next to it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy

import rmtgate
from rmtgate.errors import BackendUnavailable, ParameterError, StateError
from rmtgate.numerics.compile import compile_step
from rmtgate.simulation.backends import get_backend
from rmtgate.simulation.simulate import SimulationResult, jacobian_eigvals, jacobian_matrices, simulate
from rmtgate.symbolic.functions import sigmoid
from rmtgate.symbolic.jacobian import jacobian

BUILTINS = ["vanilla", "gru", "lstm", "ctrnn", "mgu"]


def ginibre_edge(n: int) -> float:
    """Expected spectral radius of an n×n Ginibre matrix with entry variance 1/n (Rider 2003).

    ``sqrt(4nγ)(ρ - 1 - sqrt(γ/4n))`` tends to a Gumbel law (mean: Euler's constant), with
    ``γ = log(n/2π) - 2 log log n``.  At n = 400 this gives 1.038; 200 real-Ginibre draws gave
    a mean of 1.033, sd 0.018, range [0.998, 1.103].
    """
    gamma = np.log(n / (2 * np.pi)) - 2 * np.log(np.log(n))
    return float(1 + np.sqrt(gamma / (4 * n)) + np.euler_gamma / np.sqrt(4 * n * gamma))


def chained() -> rmtgate.Architecture:
    """Not a built-in: a field whose input uses two earlier fields, two states, a per-neuron bias.

    It exercises the generic elimination ``X_k = U_k (C_ks + Σ_j diag(C_kj) X_j)`` with a
    chain of length two, and the per-neuron bias path (``b_h ~ N(b_h, v_h)``).
    """
    return rmtgate.declare(
        "chained",
        state=["c", "h"],
        matrices={"U_a": "a_a", "U_b": "a_b", "U_h": "a_h"},
        gates={
            "g": "sigmoid(U_a @ h + b_a)",
            "q": "tanh(U_b @ (g * c) + b_b)",
            "c_next": "g * c + (1 - g) * tanh(U_h @ (q * g * h) + b_h)",
        },
        update={"c": "c_next", "h": "q * tanh(c_next)"},
        bias_variances={"b_h": "v_h"},
    )


def architecture(name: str) -> rmtgate.Architecture:
    return chained() if name == "chained" else rmtgate.builtin(name)


def random_params(arch: rmtgate.Architecture, rng: np.random.Generator) -> dict[str, float]:
    """Scales in [0.5, 2.5], other parameters (biases, bias variances) in [0.05, 0.6]·sign."""
    params = {p.name: float(rng.uniform(-0.6, 0.6)) for p in arch.parameters}
    for p in arch.variance_parameters:
        params[p.name] = float(rng.uniform(0.5, 2.5))
    for _, v in arch.bias_variances:
        if isinstance(v, sympy.Symbol):
            params[v.name] = float(rng.uniform(0.05, 0.3))
    return params


def member(result: SimulationResult, index: int = 0) -> dict[str, Any]:
    """Ensemble member ``index`` as plain numpy: state before the last step, matrices, parameters."""
    be = result.backend
    return {
        "state": {k: be.asnumpy(v)[index] for k, v in result.previous_state.items()},
        "matrices": {k: be.asnumpy(v)[index] for k, v in result.matrices.items()},
        "params": {
            k: (be.asnumpy(v)[index] if k in result.biases else v) for k, v in result.parameter_values().items()
        },
    }


def finite_difference_jacobian(arch: rmtgate.Architecture, point: dict[str, Any], delta: float) -> np.ndarray:
    """Central differences of the compiled step map, every column at once (perturbations batched)."""
    state, matrices, params = point["state"], point["matrices"], point["params"]
    n = next(iter(state.values())).shape[0]
    size = n * len(arch.state)
    step = compile_step(arch)
    batch = {k: np.tile(v, (2 * size, 1)) for k, v in state.items()}
    for column in range(size):
        variable, neuron = arch.state[column // n], column % n
        batch[variable][2 * column, neuron] += delta
        batch[variable][2 * column + 1, neuron] -= delta
    new, _ = step(batch, {k: v[None] for k, v in matrices.items()}, params)
    stacked = np.concatenate([new[s] for s in arch.state], axis=1)  # (2·size, size)
    return ((stacked[0::2] - stacked[1::2]) / (2 * delta)).T


# ---------------------------------------------------------------------------------------- Jacobian
@pytest.mark.parametrize("name", [*BUILTINS, "chained"])
def test_assembled_jacobian_matches_finite_differences(name: str) -> None:
    arch = architecture(name)
    rng = np.random.default_rng(11)
    result = simulate(arch, random_params(arch, rng), N=40, steps=6, seed=3, ensemble=2)
    J = jacobian_matrices(result)
    n_total = 40 * len(arch.state)
    assert J.shape == (2, n_total, n_total)
    for k in range(2):
        numeric = finite_difference_jacobian(arch, member(result, k), delta=1e-5)
        scale = np.max(np.abs(numeric))
        # central differences: truncation δ²/6·|f'''| ≲ 1e-10 (entries of U are ~0.3) and
        # rounding ~ 1e-16/δ = 1e-11, both far below the 1e-6 relative tolerance
        assert np.max(np.abs(J[k] - numeric)) < 1e-6 * scale
        assert scale > 0.1  # not a comparison of two zero matrices


@pytest.mark.parametrize("name", [*BUILTINS, "chained"])
def test_assembled_jacobian_matches_symbolic_jacobian(name: str) -> None:
    arch = architecture(name)
    rng = np.random.default_rng(5)
    result = simulate(arch, random_params(arch, rng), N=40, steps=4, seed=8)
    point = member(result)
    sample = {k: v[0] for k, v in result.local_sample(as_numpy=True).items()}
    values: dict[sympy.Symbol, Any] = {s: sample[s.name] for s in arch.state_symbols}
    values.update({f.symbol: sample[f.symbol.name] for f in arch.fields})
    values.update({p: point["params"][p.name] for p in arch.parameters})
    symbolic = jacobian(arch).evaluate(values, point["matrices"])
    # same double-precision quantities through a different association of products and sums:
    # differences are rounding, ~1e-16 × (N terms of size 1) ≪ 1e-10
    assert np.max(np.abs(jacobian_matrices(result)[0] - symbolic)) < 1e-10 * max(1.0, np.max(np.abs(symbolic)))


def test_last_step_is_reproduced_from_the_local_sample() -> None:
    # the fields and state reported are those of the update starting at previous_state
    arch = rmtgate.lstm()
    result = simulate(arch, random_params(arch, np.random.default_rng(2)), N=30, steps=3, seed=4, ensemble=2)
    new, fields = compile_step(arch)(result.previous_state, result.matrices, result.parameter_values())
    for s in arch.state:
        np.testing.assert_array_equal(new[s], result.state[s])
    for name, value in fields.items():
        np.testing.assert_array_equal(value, result.fields[name])
    assert set(result.local_sample()) == {"c", "h", "eta_f", "eta_i", "eta_o", "eta_h"}


# ---------------------------------------------------------------------------------------- spectra
def test_gru_zero_fixed_point_spectrum_is_the_shifted_disk() -> None:
    # [Prop. 4.2, G 20]: at h = 0 (b_h = 0), J = σ(b_z) + (1-σ(b_z)) σ(b_r) U_h, a shifted and
    # scaled real Ginibre matrix: uniform disk of center σ(b_z), radius (1-σ(b_z)) σ(b_r) a_h
    params = {"a_z": 1.5, "a_r": 0.7, "a_h": 2.0, "b_z": 0.5, "b_r": -0.3, "b_h": 0.0}
    result = simulate(rmtgate.gru(), params, N=400, steps=3, seed=21, ensemble=4, initial_scale=0.0)
    assert np.all(result.backend.asnumpy(result.state["h"]) == 0.0)
    center = float(sigmoid(sympy.Float(0.5)))
    radius = (1 - center) * float(sigmoid(sympy.Float(-0.3))) * 2.0
    distance = np.abs(jacobian_eigvals(result) - center) / radius
    # finite N: the largest radius over 200 draws at N=400 never exceeded 1.103 (see
    # ginibre_edge), so 1.12 bounds it; the mean of 4 maxima (sd 0.009) is within 0.04 (> 4 sd)
    # of the finite-N edge 1.038, hence within 8% (typically 3%) of the infinite-N radius
    assert distance.max() < 1.12
    assert abs(distance.max(axis=1).mean() - ginibre_edge(400)) < 0.04
    # uniform density: E|λ-c|²/R² = 1/2; observed sd per member 0.0026 → 0.01 is ~7 sd for 4
    assert abs((distance**2).mean() - 0.5) < 0.01
    # the center: mean eigenvalue = tr J / N = σ(b_z) + O(R N^{-3/2})
    assert abs(jacobian_eigvals(result).mean() - center) < 1e-3


def test_vanilla_linearized_at_zero_obeys_the_circular_law() -> None:
    # J = tanh'(0) U_h = U_h: the circular law of radius a_h
    a_h = 1.7
    result = simulate(rmtgate.vanilla(), {"a_h": a_h}, N=400, steps=2, seed=5, ensemble=4, initial_scale=0.0)
    radii = np.abs(jacobian_eigvals(result)) / a_h
    # same Ginibre edge statistics and tolerances as in the GRU test above
    assert radii.max() < 1.12
    assert abs(radii.max(axis=1).mean() - ginibre_edge(400)) < 0.04
    # fraction inside half the radius = 1/4 for the uniform disk; sd per member 0.0078 → 0.02
    assert abs((radii < 0.5).mean() - 0.25) < 0.02


# ---------------------------------------------------------------------------------------- draws
def test_matrix_and_bias_draws_have_the_declared_law() -> None:
    arch = chained()
    params = {"a_a": 0.5, "a_b": 1.0, "a_h": 2.0, "b_h": 0.3, "v_h": 0.25}
    result = simulate(arch, params, N=400, steps=1, seed=9, ensemble=2)
    for name, a in (("U_a", 0.5), ("U_b", 1.0), ("U_h", 2.0)):
        entries = result.matrices[name]
        # 320 000 entries: relative sd of the sample variance is sqrt(2/320000) ≈ 0.25%
        assert abs(entries.var() * 400 / a**2 - 1.0) < 0.02
        assert abs(entries.mean()) < 4 * a / 400 / np.sqrt(2 * 400)  # 4 sd of the sample mean
    bias = result.biases["b_h"]
    assert bias.shape == (2, 400)
    # 800 draws of N(0.3, 0.25): sd of the mean 0.018 (tolerance ~4.5 sd); relative sd of the
    # sample variance 5% (tolerance 4 sd)
    assert abs(bias.mean() - 0.3) < 0.08
    assert abs(bias.var() / 0.25 - 1.0) < 0.2
    assert np.all(result.local_sample()["b_h"] == bias)


def test_numeric_matrix_scale_in_the_architecture_is_used_directly() -> None:
    arch = rmtgate.declare("fixed", state=["h"], matrices={"U_h": 0.5}, update={"h": "tanh(U_h @ h)"})
    result = simulate(arch, {}, N=300, steps=1, seed=1)
    assert abs(result.matrices["U_h"].var() * 300 / 0.25 - 1.0) < 0.02  # 90 000 entries: sd 0.5%


# ---------------------------------------------------------------------------------------- bookkeeping
def test_traces_transient_and_reproducibility() -> None:
    arch = rmtgate.gru()
    params = {"a_z": 1.0, "a_r": 1.0, "a_h": 2.5}
    full = simulate(arch, params, N=50, steps=7, seed=42, ensemble=3, record=("h",))
    assert full.traces["h"].shape == (7, 3, 50)
    np.testing.assert_array_equal(full.traces["h"][-1], full.state["h"])
    np.testing.assert_array_equal(full.traces["h"][-2], full.previous_state["h"])
    # the network is drawn before iterating: 4 transient + 3 recorded = 7 steps of the same net
    split = simulate(arch, params, N=50, steps=3, seed=42, ensemble=3, transient=4, record="h")
    np.testing.assert_array_equal(split.traces["h"], full.traces["h"][4:])
    again = simulate(arch, params, N=50, steps=7, seed=42, ensemble=3)
    for name in full.matrices:
        np.testing.assert_array_equal(again.matrices[name], full.matrices[name])
    np.testing.assert_array_equal(again.state["h"], full.state["h"])
    np.testing.assert_array_equal(jacobian_eigvals(again), jacobian_eigvals(full))
    other = simulate(arch, params, N=50, steps=7, seed=43, ensemble=3)
    assert not np.allclose(other.state["h"], full.state["h"])
    from_generator = simulate(arch, params, N=50, steps=7, seed=np.random.default_rng(42), ensemble=3)
    np.testing.assert_array_equal(from_generator.state["h"], full.state["h"])


def test_float32_runs_in_float32() -> None:
    arch = rmtgate.mgu()
    result = simulate(arch, {"a_f": 1.0, "a_h": 1.5}, N=60, steps=5, seed=0, dtype="float32")
    assert result.matrices["U_h"].dtype == np.float32
    assert result.state["h"].dtype == np.float32
    assert jacobian_matrices(result).dtype == np.float32
    # the last float32 update against the same update in float64 from the same inputs: float32
    # eps ≈ 6e-8, and each entry is a sum of 60 products of size ≲ 0.2, so errors are ≲ 1e-6
    up = {k: v.astype(np.float64) for k, v in result.previous_state.items()}
    matrices = {k: v.astype(np.float64) for k, v in result.matrices.items()}
    new, _ = compile_step(arch)(up, matrices, result.parameter_values())
    assert np.max(np.abs(result.state["h"] - new["h"])) < 1e-5
    eigs = jacobian_eigvals(result)
    assert eigs.dtype == np.complex64 and eigs.shape == (1, 60)


# ---------------------------------------------------------------------------------------- errors
GOOD: dict[str, Any] = {"N": 10, "steps": 2, "seed": 0}


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"N": 1}, ParameterError, "Expected an integer N >= 2 but got N=1"),
        ({"N": 2.5}, ParameterError, "but got N=2.5"),
        ({"N": True}, ParameterError, "but got N=True"),
        ({"steps": 0}, ParameterError, "Expected an integer steps >= 1 but got steps=0"),
        ({"ensemble": 0}, ParameterError, "Expected an integer ensemble >= 1 but got ensemble=0"),
        ({"transient": -1}, ParameterError, "but got transient=-1"),
        ({"dtype": "float16"}, ParameterError, "Expected one of ['float32', 'float64'] but got dtype='float16'"),
        ({"dtype": "complex"}, ParameterError, "but got dtype='complex'"),
        ({"seed": -3}, ParameterError, "but got seed=-3"),
        ({"seed": "x"}, ParameterError, "but got seed='x'"),
        ({"initial_scale": float("nan")}, ParameterError, "but got initial_scale=nan"),
        ({"backend": "xyz"}, BackendUnavailable, "Expected one of ['cupy', 'numpy'] but got backend='xyz'"),
        ({"record": ("q",)}, StateError, "but got record='q'"),
    ],
)
def test_bad_arguments_raise_typed_errors(overrides: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        simulate(rmtgate.gru(), {"a_z": 1, "a_r": 1, "a_h": 1}, **{**GOOD, **overrides})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a_z": 1, "a_r": 1}, "but got missing='a_h'"),
        ({"a_z": 1, "a_r": 1, "a_h": float("nan")}, "Expected a finite value for a_h but got a_h=nan"),
        ({"a_z": 1, "a_r": 1, "a_h": 1, "bogus": 1}, "but got parameter='bogus'"),
        ({"a_z": 1, "a_r": 1, "a_h": -1}, "but got a_h=-1"),
    ],
)
def test_bad_parameters_raise_parameter_error(params: dict[str, float], message: str) -> None:
    with pytest.raises(ParameterError) as info:
        simulate(rmtgate.gru(), params, **GOOD)
    assert message in str(info.value)


def test_get_backend_rejects_unknown_names() -> None:
    with pytest.raises(BackendUnavailable) as info:
        get_backend("xyz")
    assert str(info.value) == "Expected one of ['cupy', 'numpy'] but got backend='xyz'"
    assert get_backend("numpy").xp is np


def test_cupy_backend_is_unavailable_here() -> None:
    if importlib.util.find_spec("cupy") is not None:
        try:
            get_backend("cupy")
        except BackendUnavailable:
            pass
        else:
            pytest.skip("CuPy and a GPU are available: the GPU path is covered by -m gpu tests")
    with pytest.raises(BackendUnavailable, match="CuPy"):
        get_backend("cupy")
    with pytest.raises(BackendUnavailable, match="CuPy"):
        simulate(rmtgate.vanilla(), {"a_h": 1.0}, N=4, steps=1, seed=0, backend="cupy")


def test_importing_and_simulating_on_numpy_never_imports_cupy() -> None:
    # a finder that fails any attempt to import cupy makes the check meaningful with CuPy installed
    code = textwrap.dedent(
        """
        import sys

        class NoCupy:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "cupy":
                    raise AssertionError("cupy was imported")
                return None

        sys.meta_path.insert(0, NoCupy())
        import rmtgate, rmtgate.simulation.backends
        from rmtgate.simulation.simulate import jacobian_eigvals, simulate
        result = simulate(rmtgate.gru(), {"a_z": 1, "a_r": 1, "a_h": 1}, N=8, steps=2, seed=0)
        jacobian_eigvals(result)
        assert "cupy" not in sys.modules
        """
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


# ---------------------------------------------------------------------------------------- cupy path, no GPU
# the stand-in lives in tests/strict_cupy.py: numpy underneath, but its arrays refuse implicit
# conversion to numpy exactly like CuPy's, so a host transfer nobody asked for fails here
STAND_IN = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from strict_cupy import install\n"


def _fake_cupy(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Any:
    from strict_cupy import install

    monkeypatch.setitem(sys.modules, "cupy", None)  # undone after the test: "cupy" removed or restored
    monkeypatch.setitem(sys.modules, "cupyx", None)
    return install(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": "13.6.0"}, "Expected CuPy >= 14"),
        ({"devices": 0}, "CuPy found no CUDA device"),
        ({"devices": RuntimeError("cudaErrorNoDevice")}, "cudaErrorNoDevice"),
    ],
)
def test_cupy_backend_reports_why_it_is_unusable(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], message: str
) -> None:
    _fake_cupy(monkeypatch, **kwargs)
    with pytest.raises(BackendUnavailable, match=message):
        get_backend("cupy")


def test_the_stand_in_refuses_implicit_host_transfers(monkeypatch: pytest.MonkeyPatch) -> None:
    # what makes the stand-in worth running: like CuPy, no silent conversion to numpy
    cupy = _fake_cupy(monkeypatch)
    device = cupy.asarray([1.0, 2.0])
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(device)
    with pytest.raises(TypeError, match="Implicit conversion"):
        float(np.sum(np.array(device)))
    assert cupy.asnumpy(device * 2).tolist() == [2.0, 4.0]


def test_cupy_eigvals_refuse_to_return_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    # geev works on the 2×2 probe but fails (NaN, as cuSOLVER signals it) on the real matrices
    def eigvals(m: np.ndarray) -> np.ndarray:
        return np.linalg.eigvals(m) if m.shape[-1] == 2 else np.full(m.shape[-1], np.nan + 0j)

    _fake_cupy(monkeypatch, eigvals=eigvals)
    backend = get_backend("cupy")
    with pytest.raises(BackendUnavailable, match="NaN"):
        backend.eigvals(np.eye(3)[None])


def test_cupy_code_path_matches_numpy_with_a_numpy_stand_in() -> None:
    # the whole cupy route (device RNG, lambdify for "cupy", assembly, eigvals) on a numpy
    # stand-in seeded like numpy: it must give bit-identical numbers, in a fresh process so that
    # SymPy's cached "cupy" namespace cannot leak into other tests
    code = STAND_IN + textwrap.dedent(
        """
        install()
        import numpy as np
        import rmtgate
        from rmtgate.simulation.simulate import simulate, jacobian_eigvals, jacobian_matrices
        arch = rmtgate.lstm()
        params = {"a_f": 1.0, "a_i": 1.5, "a_o": 0.8, "a_h": 2.0, "b_f": 0.3}
        runs = [simulate(arch, params, N=30, steps=5, seed=3, ensemble=2, backend=b, record=("h",))
                for b in ("numpy", "cupy")]
        assert runs[1].backend.name == "cupy"
        assert type(runs[1].state["h"]).__name__ == "DeviceArray"  # the state really lives "on the device"
        for name in ("c", "h"):
            assert np.array_equal(runs[0].state[name], runs[1].state[name])
        assert np.array_equal(runs[0].traces["h"], runs[1].traces["h"])
        assert np.array_equal(jacobian_matrices(runs[0]), jacobian_matrices(runs[1]))
        assert np.allclose(np.sort_complex(jacobian_eigvals(runs[0])), np.sort_complex(jacobian_eigvals(runs[1])))
        """
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.gpu
def test_cupy_backend_on_a_gpu() -> None:
    # run with -m gpu on a machine with CuPy >= 14; get_backend raises there if it is unusable
    backend = get_backend("cupy")
    arch = rmtgate.gru()
    params = {"a_z": 1.0, "a_r": 2.0, "a_h": 3.0, "b_z": 0.2}
    result = simulate(arch, params, N=300, steps=20, seed=0, ensemble=2, backend="cupy", record=("h",))
    assert type(result.state["h"]).__module__.startswith("cupy")
    J = backend.asnumpy(jacobian_matrices(result))
    sample = {k: v[0] for k, v in result.local_sample(as_numpy=True).items()}
    values: dict[sympy.Symbol, Any] = {s: sample[s.name] for s in arch.state_symbols}
    values.update({f.symbol: sample[f.symbol.name] for f in arch.fields})
    values.update({p: result.params[p.name] for p in arch.parameters})
    matrices = {k: backend.asnumpy(v)[0] for k, v in result.matrices.items()}
    symbolic = jacobian(arch).evaluate(values, matrices)
    # device and host float64 arithmetic differ only by rounding order (~1e-16 per term)
    assert np.max(np.abs(J[0] - symbolic)) < 1e-10 * max(1.0, np.max(np.abs(symbolic)))
    device, host = jacobian_eigvals(result), np.linalg.eigvals(J)
    # same spectrum, matched as sets (order is solver-dependent); eigenvalue condition numbers of
    # a 300x300 random non-normal matrix are ≲ 1e3, so 1e-8 is far above rounding
    for k in range(2):
        distance = np.abs(device[k][:, None] - host[k][None, :])
        assert distance.min(axis=1).max() < 1e-8 and distance.min(axis=0).max() < 1e-8


def test_training_paths_run_on_the_strict_stand_in() -> None:
    # BPTT of the rate network [S] and of a gated network on the cupy route: the stand-in's
    # arrays refuse implicit host transfers, so passing means every transfer is explicit; the
    # numbers must equal the numpy run (same seeds, same float64 arithmetic underneath)
    code = STAND_IN + textwrap.dedent(
        """
        install()
        import numpy as np
        import rmtgate
        from rmtgate.training.bptt import train
        from rmtgate.training.sequential import SequenceData, train_gated

        runs = [train("flipflop", g=0.9, N=16, epochs=3, seed=0, backend=b) for b in ("numpy", "cupy")]
        assert runs[1].settings["backend"] == "cupy"
        assert np.allclose(runs[0].losses, runs[1].losses, rtol=1e-10)

        rng = np.random.default_rng(0)
        x = rng.normal(size=(40, 6, 1))
        y = rng.integers(0, 3, 40)
        data = SequenceData("toy", x[:30], y[:30], x[30:], y[30:], 3)
        params = {"a_h": 2.0, "a_z": 2.0, "a_r": 0.5}
        gated = [train_gated(rmtgate.gru(), params, data, N=8, epochs=2, batch_size=10, backend=b) for b in ("numpy", "cupy")]
        assert np.allclose(gated[0].loss_history, gated[1].loss_history, rtol=1e-10)
        """
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_cupy_backend_probes_eigvals_when_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    # a CuPy whose geev is broken (old CUDA) passes the version check: the probe must refuse it
    _fake_cupy(monkeypatch, eigvals=lambda m: np.zeros(m.shape[-1], dtype=complex))
    with pytest.raises(BackendUnavailable, match="±i"):
        get_backend("cupy")
