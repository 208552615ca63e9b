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
