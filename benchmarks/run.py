"""Run every benchmark script in this folder (``make bench``)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    selected = sys.argv[1:]
    for script in sorted(here.glob("bench_*.py")):
        if selected and script.stem.removeprefix("bench_") not in selected:
            continue
        print(f"\n## {script.stem}")
        runpy.run_path(str(script), run_name="__main__")
