"""Pieces every command shares: progress bars and JSON output."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def show_progress(quiet: bool = False) -> bool:
    """Whether to draw progress bars: only on a terminal (a log file gets no carriage-return noise)."""
    return not quiet and sys.stderr.isatty()


def progress(items: Iterable[T], description: str, *, total: int | None = None, quiet: bool = False) -> Iterable[T]:
    """``tqdm`` on stderr, shown only when stderr is a terminal and ``quiet`` is off."""
    from tqdm import tqdm

    return tqdm(items, desc=description, total=total, file=sys.stderr, disable=not show_progress(quiet))


def progress_bar(description: str, *, total: int | None = None, quiet: bool = False) -> Any:
    """A manual ``tqdm`` bar (``update``/``close``) for domain loops that report through a callback."""
    from tqdm import tqdm

    return tqdm(desc=description, total=total, file=sys.stderr, disable=not show_progress(quiet))


def emit_json(payload: Any) -> None:
    """Print one JSON document (every command uses the same layout)."""
    import json

    print(json.dumps(payload, indent=2, default=float))
