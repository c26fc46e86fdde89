"""Test-session setup shared by ``tests/`` and ``verification/``."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config: object) -> None:
    # a private derivation cache: tests never read a cache written by other code (or another
    # checkout), and never write into the user's ~/.cache; subprocesses inherit it
    if "RMTGATE_TEST_SHARED_CACHE" not in os.environ:
        os.environ["RMTGATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="rmtgate-test-cache-")
