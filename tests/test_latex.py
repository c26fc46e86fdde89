"""Every emitted LaTeX equation renders: with matplotlib's mathtext always, and with a TeX
engine (``latex`` + amsmath) when one is installed (CI installs texlive-latex-base)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pytest

import rmtgate
from rmtgate.symbolic.derive import derive

matplotlib.use("Agg")

ARCHITECTURES = ["vanilla", "gru", "lstm", "ctrnn", "mgu"]


def _mathtext_pieces(body: str) -> list[str]:
    """Split an equation into mathtext-renderable pieces.

    mathtext has no matrix environments, ``aligned`` or ``\\text``: those are rendered by
    the TeX engine test; here each matrix entry / aligned line is rendered on its own.
    """
    body = body.replace(r"\text{", r"\mathrm{").replace(r"\operatorname{", r"\mathrm{")
    body = re.sub(r"\\left\(\\begin\{matrix\}|\\end\{matrix\}\\right\)|\\begin\{pmatrix\}|\\end\{pmatrix\}", "&", body)
    body = body.replace(r"\begin{aligned}", "").replace(r"\end{aligned}", "")
    pieces = re.split(r"\\\\|&", body)
    return [p.strip() for p in pieces if p.strip() and p.strip() != "="]


def _render_mathtext(text: str) -> None:
    from matplotlib.mathtext import MathTextParser

    MathTextParser("agg").parse(f"${text}$")


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_equations_render_with_mathtext(name: str, tmp_path: Path) -> None:
    derivation = derive(rmtgate.builtin(name), cache_dir=tmp_path)
    equations = derivation.equations()
    assert {t for t, _ in equations} >= {"Update equations", "Jacobian", "Schur identity"}
    rendered = 0
    for _, body in equations:
        for piece in _mathtext_pieces(body):
            _render_mathtext(piece)
            rendered += 1
    assert rendered >= 6


def test_mathtext_rejects_broken_latex() -> None:
    # the renderer used above is a real check: malformed input raises
    with pytest.raises(ValueError):
        _render_mathtext(r"\frac{1}{")


@pytest.mark.skipif(shutil.which("latex") is None, reason="no TeX engine installed (CI installs one)")
def test_fragment_compiles_with_latex(tmp_path: Path) -> None:
    fragments = [derive(rmtgate.builtin(n), cache_dir=tmp_path).latex() for n in ARCHITECTURES]
    document = (
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\usepackage[margin=0.5cm,paperwidth=150cm]{geometry}\n"
        "\\begin{document}\n" + "\n".join(fragments) + "\n\\end{document}\n"
    )
    (tmp_path / "doc.tex").write_text(document)
    result = subprocess.run(
        ["latex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "doc.dvi").stat().st_size > 1000


def test_stages_render_in_jupyter() -> None:
    """``_repr_latex_`` of Derivation, Jacobian, Linearization and Boundary: ``$$…$$`` of their LaTeX."""
    import rmtgate

    d = rmtgate.derive(rmtgate.gru())
    for stage, source in (
        (d, [body for _, body in d.equations()]),
        (d.jacobian, [d.jacobian.latex()]),
        (d.linearization, d.linearization.latex().splitlines()),
        (d.boundary, d.boundary.latex().splitlines()),
    ):
        shown = stage._repr_latex_()
        assert shown.startswith("$$") and shown.endswith("$$"), type(stage).__name__
        assert shown.count("$$") == 2, type(stage).__name__
        for line in source:
            assert line in shown, (type(stage).__name__, line)
    assert d.jacobian._repr_latex_() == f"$${d.jacobian.latex()}$$"
    assert r"\begin{gathered}" in d._repr_latex_()
