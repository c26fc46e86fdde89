"""A strict stand-in for CuPy made of numpy, for testing the cupy code path without a GPU.

Like real CuPy, its arrays refuse implicit conversion to numpy: ``numpy.asarray(device_array)``
(or any numpy function handed a device array outside ``cupy``'s own namespace... numpy
dispatches those back here, as CuPy does via ``__array_function__``) works only through
``cupy.asnumpy`` / ``.get()``; ``__array__`` raises ``TypeError`` as CuPy does.  So a host
transfer that the code does not ask for explicitly fails the test instead of passing silently.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

MESSAGE = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
)


def _unwrap(x: Any) -> Any:
    if isinstance(x, DeviceArray):
        return x._data
    if isinstance(x, list | tuple):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(x: Any) -> Any:
    if isinstance(x, numpy.ndarray):
        return DeviceArray(x)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class DeviceArray(NDArrayOperatorsMixin):
    """An array "on the device": arithmetic and ``cupy.*`` functions work, numpy conversion does not."""

    __array_priority__ = 100

    def __init__(self, data: numpy.ndarray) -> None:
        self._data = data

    def __array__(self, *args: Any, **kwargs: Any) -> numpy.ndarray:
        raise TypeError(MESSAGE)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        # numpy.asarray / numpy.array on a device array end here in real CuPy too: refuse
        if func in (numpy.asarray, numpy.array, numpy.asanyarray, numpy.ascontiguousarray):
            raise TypeError(MESSAGE)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def get(self) -> numpy.ndarray:
        return self._data.copy()

    # the ndarray surface rmtgate uses
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    T = property(lambda self: DeviceArray(self._data.T))
    real = property(lambda self: DeviceArray(self._data.real))
    imag = property(lambda self: DeviceArray(self._data.imag))

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[_unwrap(key)] = _unwrap(value)

    def __float__(self) -> float:  # a device-to-host sync of one scalar, allowed by CuPy
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return f"DeviceArray({self._data!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # no __array_interface__ / __array_struct__ back door to numpy
            raise AttributeError(name)
        attribute = getattr(self._data, name)
        if callable(attribute):
            return lambda *a, **k: _wrap(attribute(*_unwrap(a), **_unwrap(k)))
        return _wrap(attribute)


def _device_function(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return _wrap(function(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = getattr(function, "__name__", "function")
    return call


def install(version: str = "14.0.0", devices: Any = 1, eigvals: Callable[..., Any] = numpy.linalg.eigvals) -> Any:
    """Put the strict stand-in into ``sys.modules`` as ``cupy`` (and ``cupyx``)."""
    fake = types.ModuleType("cupy")
    for name, value in vars(numpy).items():
        if name.startswith("__"):
            continue
        is_function = callable(value) and not isinstance(value, type)
        fake.__dict__[name] = _device_function(value) if is_function else value
    fake.__version__ = version
    fake.ndarray = DeviceArray
    fake.asarray = lambda x, dtype=None: DeviceArray(numpy.array(_unwrap(x), dtype=dtype))  # host → device
    fake.asnumpy = lambda x: x._data.copy() if isinstance(x, DeviceArray) else numpy.asarray(x)

    class RandomState:  # cupy.random.RandomState: standard_normal takes a dtype, returns device arrays
        def __init__(self, seed: int) -> None:
            self._generator = numpy.random.default_rng(seed)

        def standard_normal(self, size: Any = None, dtype: Any = float) -> DeviceArray:
            return DeviceArray(self._generator.standard_normal(size, dtype=dtype))

    def count() -> int:
        if isinstance(devices, Exception):
            raise devices
        return devices

    fake.random = types.SimpleNamespace(RandomState=RandomState)
    fake.linalg = types.SimpleNamespace(
        eigvals=_device_function(eigvals),
        **{n: _device_function(getattr(numpy.linalg, n)) for n in ("solve", "norm", "svd", "inv")},
    )
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count))
    fakex = types.ModuleType("cupyx")
    fakex.errstate = lambda **kwargs: contextlib.nullcontext()
    sys.modules["cupy"] = fake
    sys.modules["cupyx"] = fakex
    return fake
