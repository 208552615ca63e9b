"""What every benchmark script shares: a median timer and the machine-readable line.

Each ``bench_*.py`` prints a readable table and, last, one ``RESULT {json}``
line that ``benchmarks/run_all.py`` gathers into RESULTS.md.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

REPEATS = 40


def median_ms(step: Callable[[int], None], repeats: int = REPEATS, warmup: int = 2) -> float:
    """Median wall time of ``step(i)`` in milliseconds (after ``warmup`` warm-up calls)."""
    for i in range(warmup):
        step(i)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def print_result(**fields: object) -> None:
    """Print the one ``RESULT {json}`` line that run_all.py reads."""
    print("RESULT " + json.dumps(fields, ensure_ascii=False))


def timed_calls(run: Callable[[], object], calls: int, device: object = None) -> list[float]:
    """Wall seconds of each of ``calls`` calls of ``run()``; on CUDA the device is
    synchronized before and after each call, so the time covers the kernels too."""
    import torch

    def sync() -> None:
        if getattr(device, "type", device) == "cuda":
            torch.cuda.synchronize()

    out = []
    for _ in range(calls):
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        out.append(time.perf_counter() - t0)
    return out

