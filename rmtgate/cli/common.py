"""Pieces every command shares: progress bars and JSON output."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], description: str, *, total: int | None = None) -> Iterable[T]:
    """``tqdm`` on stderr, shown only when stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(items, desc=description, total=total, file=sys.stderr, disable=not sys.stderr.isatty())


def emit_json(payload: Any) -> None:
    """Print one JSON document (every command uses the same layout)."""
    import json

    print(json.dumps(payload, indent=2, default=float))
