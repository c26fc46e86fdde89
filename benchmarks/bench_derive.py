"""Benchmark: ``derive`` of GRU and LSTM, cold (fresh process, empty cache) and from cache.

Targets (issue 2): cold < 5 s, cached < 0.2 s on the 2-core development machine.
Each measurement runs in a fresh interpreter so that SymPy's in-process caches do not help;
the time includes importing rmtgate and SymPy, as a user's ``rmtgate derive`` would.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile

TARGETS = {"cold": 5.0, "cached": 0.2}

SNIPPET = """
import time
t0 = time.perf_counter()
import rmtgate
from rmtgate.symbolic.derive import derive
t1 = time.perf_counter()
derive(rmtgate.{name}(), cache_dir={cache!r})
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def measure(name: str, cache: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(name=name, cache=cache)], capture_output=True, text=True, check=True
    )
    imp, run = (float(x) for x in out.stdout.split())
    return imp, run


def main() -> None:
    print(f"{'arch':6} {'mode':7} {'import [s]':>10} {'derive [s]':>10} {'target [s]':>10} {'ratio':>7}")
    for name in ("gru", "lstm"):
        for _ in range(1):
            with tempfile.TemporaryDirectory() as cache:
                cold = [measure(name, cache)]
                cached = [measure(name, cache) for _ in range(3)]
            for mode, samples in (("cold", cold), ("cached", cached)):
                imp = statistics.median(s[0] for s in samples)
                run = statistics.median(s[1] for s in samples)
                print(f"{name:6} {mode:7} {imp:10.3f} {run:10.3f} {TARGETS[mode]:10.2f} {run / TARGETS[mode]:7.3f}")


if __name__ == "__main__":
    main()
