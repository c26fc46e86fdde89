"""Array backends for the simulation layer: numpy always, cupy when a GPU is present.

The registry imports nothing optional at module import: ``import rmtgate`` must work (and
stay fast) on machines without CuPy or a GPU, so CuPy is imported only inside
``get_backend("cupy")`` (the lazy pattern of QuTiP 5's data layers).  A backend bundles the
four operations that differ between array libraries and that the simulation needs:
the array module itself, transfer to host memory, batched non-symmetric eigenvalues, and
seeded Gaussian draws.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtgate.errors import BackendUnavailable, expected

MIN_CUPY_MAJOR = 14  # first CuPy whose linalg.eigvals handles general (non-symmetric) matrices


@dataclass(frozen=True, eq=False)
class Backend:
    """One array library seen through the few operations rmtgate needs.

    ``xp`` is the numpy-compatible array module.  Subclasses override the operations whose
    implementations differ (generator construction, Gaussian draws, eigenvalues).
    """

    name: str
    xp: Any

    def asnumpy(self, x: Any) -> np.ndarray:
        """Host (numpy) copy of ``x``; a no-op view for numpy arrays."""
        return np.asarray(x)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """``x`` as an array of this backend (copies host data to the device where needed)."""
        return self.xp.asarray(x, dtype=dtype)

    def make_generator(self, seed: int | np.random.Generator) -> Any:
        """A random generator of this backend from an integer seed or a numpy ``Generator``."""
        if isinstance(seed, np.random.Generator):
            return seed
        return np.random.default_rng(seed)

    def random_normal(self, generator: Any, shape: tuple[int, ...], dtype: Any) -> Any:
        """Standard normal draws of ``shape`` in ``dtype`` (float32 draws directly, no cast)."""
        return generator.standard_normal(size=shape, dtype=np.dtype(dtype))

    def eigvals(self, matrix_batch: Any) -> np.ndarray:
        """Eigenvalues of a batch ``(..., M, M)`` of general real matrices, as a numpy array."""
        return np.linalg.eigvals(np.asarray(matrix_batch))


class _CupyBackend(Backend):
    """CuPy on the current CUDA device; eigenvalues via cuSOLVER (``geev``, CuPy >= 14)."""

    def asnumpy(self, x: Any) -> np.ndarray:
        return self.xp.asnumpy(x)

    def make_generator(self, seed: int | np.random.Generator) -> Any:
        # a numpy Generator cannot drive the device RNG: derive a device seed from it, so that
        # the whole draw is still a deterministic function of the caller's generator
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        return self.xp.random.RandomState(seed)

    def random_normal(self, generator: Any, shape: tuple[int, ...], dtype: Any) -> Any:
        return generator.standard_normal(size=shape, dtype=np.dtype(dtype))

    def eigvals(self, matrix_batch: Any) -> np.ndarray:
        batch = self.xp.asarray(matrix_batch)
        # cuSOLVER's geev is not batched: solve one matrix at a time (also safe if CuPy batches)
        flat = batch.reshape(-1, *batch.shape[-2:])
        with _linalg_errors_raise():
            values = self.xp.stack([self.xp.linalg.eigvals(m) for m in flat]).reshape(batch.shape[:-1])
        # cuSOLVER signals a failed (non-converged or invalid) geev by NaNs, not by an exception
        if not bool(self.xp.isfinite(values).all()):
            raise BackendUnavailable(
                "cupy.linalg.eigvals returned NaN eigenvalues (cuSOLVER geev failed); "
                "retry with backend='numpy' or check the matrices for non-finite entries"
            )
        return self.xp.asnumpy(values)


def _linalg_errors_raise() -> Any:
    """``cupyx.errstate(linalg="raise")``: a failed cuSOLVER call raises instead of returning NaN."""
    try:
        import cupyx
    except ImportError:
        return contextlib.nullcontext()
    return cupyx.errstate(linalg="raise")


def _numpy_backend() -> Backend:
    return _NUMPY


def _cupy_backend() -> Backend:
    try:
        import cupy
    except ImportError as error:  # also catches a broken CUDA library load
        raise BackendUnavailable(
            f"CuPy cannot be imported ({error}); install it with `pip install 'rmtgate[gpu]'`"
        ) from None
    try:
        major = int(str(cupy.__version__).split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_CUPY_MAJOR:
        raise BackendUnavailable(
            expected(
                f"CuPy >= {MIN_CUPY_MAJOR} (older linalg.eigvals is only correct for symmetric matrices)",
                "cupy.__version__",
                cupy.__version__,
            )
        )
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError without a driver; its class lives in cupy
        raise BackendUnavailable(f"CuPy found no usable CUDA device ({error})") from None
    if count < 1:
        raise BackendUnavailable("CuPy found no CUDA device")
    _probe_eigvals(cupy)
    return _CupyBackend("cupy", cupy)


def _probe_eigvals(cupy: Any) -> None:
    """A version number is not enough: cuSOLVER's ``geev`` needs a recent CUDA.  Solve the
    rotation ``[[0, 1], [-1, 0]]`` (eigenvalues ``±i``) once when the backend is selected."""
    try:
        values = cupy.asnumpy(cupy.linalg.eigvals(cupy.asarray([[0.0, 1.0], [-1.0, 0.0]])))
    except Exception as error:  # cuSOLVER missing, CUDA too old, or a geev without complex support
        raise BackendUnavailable(f"cupy.linalg.eigvals does not work on this installation ({error})") from None
    if not np.allclose(np.sort_complex(values), [-1j, 1j], atol=1e-12):
        raise BackendUnavailable(
            expected("eigenvalues ±i of [[0, 1], [-1, 0]] from cupy.linalg.eigvals", "eigenvalues", values.tolist())
        )


_NUMPY = Backend("numpy", np)
_FACTORIES: dict[str, Callable[[], Backend]] = {"cupy": _cupy_backend, "numpy": _numpy_backend}


def available_backends() -> tuple[str, ...]:
    """Names ``get_backend`` accepts (whether each one works here is only known on request)."""
    return tuple(sorted(_FACTORIES))


def get_backend(name: str | Backend) -> Backend:
    """The backend called ``name`` (a :class:`Backend` passes through unchanged).

    Raises :class:`~rmtgate.errors.BackendUnavailable` for an unknown name, and for
    ``"cupy"`` when CuPy is missing, too old, or sees no GPU (the reason is in the message).
    """
    if isinstance(name, Backend):
        return name
    factory = _FACTORIES.get(name) if isinstance(name, str) else None
    if factory is None:
        raise BackendUnavailable(expected(f"one of {sorted(_FACTORIES)}", "backend", name))
    return factory()
