"""The derivation chain, its disk cache, the CLI and the Python declaration API."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

import rmtgate
from rmtgate.cli.main import main
from rmtgate.errors import ArchitectureError
from rmtgate.symbolic.architecture import Architecture, MatVec, RandomMatrix
from rmtgate.symbolic.derive import _cache_path, _store, derive

ROOT = Path(__file__).resolve().parents[1]


def test_derive_returns_every_stage(tmp_path: Path) -> None:
    d = derive(rmtgate.gru(), cache_dir=tmp_path)
    assert d.schur_identity_holds
    assert d.linearization.A.shape == (4, 4)  # (h, eta_z, eta_r, eta_h)
    assert d.linearization.B.shape == (4, 3) and d.linearization.C.shape == (3, 4)
    assert [str(f.symbol) for f in d.linearization.fields] == ["eta_z", "eta_r", "eta_h"]
    assert d.summary()["parameters"] == ["a_h", "a_r", "a_z", "b_h", "b_r", "b_z"]


def test_cache_round_trip_and_corrupt_entries(tmp_path: Path) -> None:
    arch = rmtgate.lstm()
    rmtgate.symbolic.derive._MEMORY.clear()
    first = derive(arch, cache_dir=tmp_path)
    path = _cache_path(arch, tmp_path)
    assert path.exists()
    again = derive(arch, cache_dir=tmp_path)
    assert again.linearization.A == first.linearization.A
    # a truncated entry (as from a crash mid-write without atomic rename) is ignored and rewritten
    path.write_bytes(path.read_bytes()[:100])
    rmtgate.symbolic.derive._MEMORY.clear()  # force the disk path
    recomputed = derive(arch, cache_dir=tmp_path)
    assert recomputed.linearization.A == first.linearization.A
    assert pickle.loads(path.read_bytes()).architecture == arch
    # a different architecture never reads another's entry
    assert _cache_path(rmtgate.gru(), tmp_path) != path


def test_atomic_store_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    class Exploding:
        def __reduce__(self):
            raise KeyboardInterrupt

    target = tmp_path / "entry.pickle"
    with pytest.raises(KeyboardInterrupt):
        _store(target, Exploding())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_killed_process_never_leaves_a_corrupt_entry(tmp_path: Path) -> None:
    # kill a deriving process repeatedly at random moments; every entry present must load
    code = f"import rmtgate; rmtgate.derive(rmtgate.lstm(), cache_dir={str(tmp_path)!r})"
    for delay in (0.3, 0.6, 0.9, 1.2):
        proc = subprocess.Popen([sys.executable, "-c", code])
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for entry in tmp_path.glob("derivation-*.pickle"):
        assert pickle.loads(entry.read_bytes()).schur_identity_holds
    # the same command left alone completes and writes the entry (so the loop above saw real runs)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert [pickle.loads(e.read_bytes()).schur_identity_holds for e in tmp_path.glob("derivation-*.pickle")] == [True]


def test_cache_key_follows_the_code_of_the_symbolic_stages(tmp_path: Path) -> None:
    # a copy of the package whose boundary stage is edited must not answer from the old cache
    package = tmp_path / "src" / "rmtgate"
    shutil.copytree(ROOT / "rmtgate", package, ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import rmtgate, sys; from rmtgate.symbolic.derive import cache_key; "
        "assert rmtgate.__file__.startswith(sys.argv[1]); print(cache_key(rmtgate.gru()))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}

    def key() -> str:
        run = subprocess.run(
            [sys.executable, "-c", code, str(package)], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    before = key()
    assert key() == before  # deterministic
    boundary = package / "symbolic" / "boundary.py"
    boundary.write_text(boundary.read_text() + "\n# an edit to the boundary stage\n")
    assert key() != before


def test_cli_derive_json_for_a_spec_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RMTGATE_CACHE_DIR", str(tmp_path))
    assert main(["derive", str(ROOT / "docs" / "examples" / "mgu.toml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["name"] == "mgu"
    assert summary["state"] == ["h"]
    assert summary["fields"][1] == {
        "matrix": "U_h",
        "variance": "a_h",
        "input": "h*sigmoid(b_f + eta_f)",
        "symbol": "eta_h",
    }
    assert summary["parameters"] == ["a_f", "a_h", "b_f", "b_h"]
    assert summary["schur_identity_holds"] is True


def test_cli_derive_latex_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RMTGATE_CACHE_DIR", str(tmp_path))
    assert main(["derive", "mgu", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{aligned}" in out and "U_{h}" in out and r"\lambda - J" in out
    assert main(["derive", "transformer"]) == 2
    assert "Expected one of" in capsys.readouterr().err


def test_python_declaration_errors() -> None:
    h = sympy.Symbol("h", real=True)
    with pytest.raises(ArchitectureError, match="missing"):
        Architecture("x", ("h",), (RandomMatrix("U", "a"),), (), ())
    with pytest.raises(ArchitectureError, match="declared random matrix"):
        Architecture("x", ("h",), (RandomMatrix("U", "a"),), (), (("h", sympy.tanh(MatVec(sympy.Symbol("V"), h))),))
    with pytest.raises(ArchitectureError, match="U=-1"):
        RandomMatrix("U", -1)
    with pytest.raises(ArchitectureError, match="use rmtgate.declare for strings"):
        Architecture("x", ("h",), (RandomMatrix("U", "a"),), (), (("h", "tanh(U @ h)"),))
    with pytest.raises(ArchitectureError, match="unused matrix"):
        rmtgate.declare("x", state=["h"], matrices={"U": "a", "V": "b"}, update={"h": "tanh(U @ h)"})


def test_ctrnn_time_step() -> None:
    arch = rmtgate.ctrnn(0.25)
    assert (
        arch.local_form.new_state[0]
        == sympy.Rational(3, 4) * arch.state_symbols[0] + sympy.Rational(1, 4) * arch.fields[0].symbol
    )
    with pytest.raises(ArchitectureError, match="dt=1.5"):
        rmtgate.ctrnn(1.5)


def test_import_does_not_pull_in_cupy_or_matplotlib() -> None:
    code = "import sys, rmtgate; print('cupy' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
