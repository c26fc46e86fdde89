"""The derivation chain in one place: ``Architecture → Jacobian → Linearization → ...``.

:func:`derive` runs every stage and returns a :class:`Derivation` whose attributes are the
stages' results, each inspectable and printable as LaTeX.  Results are cached on disk, keyed
by a hash of the architecture's canonical text and of the engine version.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import sympy

from rmtgate.symbolic.architecture import Architecture
from rmtgate.symbolic.boundary import Boundary, boundary
from rmtgate.symbolic.dyson import DysonSystem, dyson_system
from rmtgate.symbolic.jacobian import Jacobian, jacobian
from rmtgate.symbolic.linearization import Linearization, linearize

#: bump when the pickled layout of a Derivation changes
CACHE_FORMAT = 2

#: derivations already made in this process, by cache key
_MEMORY: dict[str, Derivation] = {}


@dataclass(frozen=True)
class Derivation:
    """Every stage of the derivation for one architecture."""

    architecture: Architecture
    jacobian: Jacobian
    linearization: Linearization
    boundary: Boundary
    mean_field_boundary: Boundary

    @cached_property
    def dyson(self) -> DysonSystem:
        """The η → 0⁺ hermitized Dyson system (density inside the support), built on demand.

        Cheap (no ``K × K`` symbolic inverse) and not part of the pickled cache entry's fields.
        """
        return dyson_system(self.boundary)

    @property
    def schur_identity_holds(self) -> bool:
        return self.linearization.schur_identity_holds

    def sections(self) -> dict[str, Any]:
        """LaTeX of every stage by name: one string, a name → string map, a list of lines, or None.

        The single source of both outputs: :meth:`equations` (the LaTeX/text form) flattens it
        and ``rmtgate derive --json`` prints it, so the two can never show different content.
        """
        from rmtgate.symbolic.boundary import bounding_curves

        bounds = bounding_curves(self.boundary)
        return {
            "update_equations": self.architecture.latex(),
            "jacobian": self.jacobian.latex(),
            "linearization": self.linearization.latex_parts(),
            "schur_identity": self.linearization.schur_latex(),
            "boundary": self.boundary.latex().splitlines(),
            "bounding_curves": bounds.latex().splitlines() if bounds is not None else None,
            "mean_field_boundary": self.mean_field_boundary.latex_equation().splitlines(),
            "dyson": self.dyson.latex().splitlines(),
        }

    def equations(self) -> list[tuple[str, str]]:
        """``(title, LaTeX body)`` for each displayed equation (no surrounding delimiters)."""
        parts = self.sections()
        out = [("Update equations", parts["update_equations"]), ("Jacobian", parts["jacobian"])]
        out += [(f"Linearization ({i})", line) for i, line in enumerate(parts["linearization"].values(), start=1)]
        out.append(("Schur identity", parts["schur_identity"]))
        for title, key in (
            ("Boundary", "boundary"),
            ("Bounding curves", "bounding_curves"),
            ("Mean-field boundary", "mean_field_boundary"),
            ("Density: Dyson equation", "dyson"),
        ):
            out += [(f"{title} ({i})", line) for i, line in enumerate(parts[key] or (), start=1)]
        return out

    def _repr_latex_(self) -> str:
        """``$$…$$`` of every equation of :meth:`equations`, stacked: the derivation rendered in Jupyter."""
        from rmtgate.symbolic.operators import display_math

        return display_math([body for _, body in self.equations()])

    def latex(self) -> str:
        """A LaTeX fragment (needs amsmath) with every stage."""
        chunks = [f"% rmtgate derivation of {self.architecture.name}"]
        for title, body in self.equations():
            chunks.append(f"% {title}\n\\[\n{body}\n\\]")
        return "\n".join(chunks) + "\n"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("dyson", None)  # derived on demand: keeps cache entries independent of it
        return state

    def summary(self) -> dict[str, Any]:
        out = self.architecture.summary()
        out["schur_identity_holds"] = self.schur_identity_holds
        out["spec_hash"] = self.architecture.spec_hash()
        return out

    def to_json(self) -> dict[str, Any]:
        """:meth:`summary` plus every stage's LaTeX (``sections``): all that the text output shows."""
        dyson = self.dyson
        return {
            **self.summary(),
            "derivation": self.sections(),
            "dyson": {
                "unknowns": [s.name for s in (*dyson.u, *dyson.v)],
                "n_state": dyson.n_state,
                "closed_form": bool(dyson.equations),
            },
        }


def cache_directory() -> Path:
    """``$RMTGATE_CACHE_DIR`` or ``$XDG_CACHE_HOME/rmtgate`` or ``~/.cache/rmtgate``."""
    if "RMTGATE_CACHE_DIR" in os.environ:
        return Path(os.environ["RMTGATE_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "rmtgate"


@functools.cache
def source_hash() -> str:
    """sha256 of the source of the symbolic stages (this package and the errors it raises).

    A derivation depends on the code that derives it: an edit to the boundary stage must not
    be answered from a cache written by the old code, even at the same version number.
    """
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(arch: Architecture) -> str:
    from rmtgate import __version__

    text = f"{CACHE_FORMAT}|{__version__}|sympy {sympy.__version__}|{source_hash()}|{arch.canonical_text()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_path(arch: Architecture, directory: Path) -> Path:
    return directory / f"derivation-{cache_key(arch)}.pickle"


def _load(path: Path, arch: Architecture) -> Derivation | None:
    try:
        with path.open("rb") as handle:
            value = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None
    if not isinstance(value, Derivation) or value.architecture.canonical_text() != arch.canonical_text():
        return None
    return value


def _store(path: Path, value: Derivation) -> None:
    """Write atomically: a killed process leaves either no entry or a complete one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".pickle", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def derive(arch: Architecture, *, cache: bool = True, cache_dir: str | Path | None = None) -> Derivation:
    """Run the derivation chain Architecture → Jacobian → Linearization → Boundary for ``arch``.

    Purely symbolic (no parameter values). The result is cached in memory and on disk
    (``RMTGATE_CACHE_DIR``, default ``~/.cache/rmtgate``), keyed by the architecture and by the
    source of the symbolic stages, so a changed engine never reads a stale derivation.

    Args:
        arch: a built-in (``rmtgate.gru()``), declared or loaded architecture.
        cache: read and write the cache; ``False`` always derives afresh.
        cache_dir: a cache folder instead of the default.

    Returns:
        A :class:`Derivation`: ``jacobian``, ``linearization`` (``M = A + B U C``, with the
        Schur identity checked), ``boundary`` (``ρ(L(λ)) = 1`` on measured statistics) and
        ``mean_field_boundary`` (with the mean-field independence of the fields).

    Raises:
        DerivationError: an internal consistency check failed (e.g. the Schur identity).
    """
    directory = Path(cache_dir) if cache_dir is not None else cache_directory()
    key = cache_key(arch)
    if cache and key in _MEMORY:
        return _MEMORY[key]
    path = _cache_path(arch, directory)
    if cache:
        cached = _load(path, arch)
        if cached is not None:
            _MEMORY[key] = cached
            return cached
    jac = jacobian(arch)
    lin = linearize(arch, reference=jac)
    result = Derivation(
        architecture=arch,
        jacobian=jac,
        linearization=lin,
        boundary=boundary(lin),
        mean_field_boundary=boundary(lin, factorized=True),
    )
    if cache:
        _MEMORY[key] = result
        try:
            _store(path, result)
        except OSError:
            pass  # an unwritable cache directory must not stop a derivation
    return result
