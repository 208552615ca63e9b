"""Run one notebook in a fresh kernel and print its timings as JSON.

Measured: wall time of the whole run, time from kernel start to the first
picture (the first cell output with an image), and the kernel's peak resident
memory. Nothing is asserted.

Usage: python benchmarks/notebook_timing.py notebooks/09_1_layer_outputs.ipynb
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def time_notebook(path: Path, timeout: int = 900) -> dict:
    """Execute ``path`` top to bottom in a new kernel (outputs are not saved)."""
    nb = nbformat.read(path, as_version=4)
    marks: dict[str, float] = {}

    def on_start(**_: object) -> None:
        marks.setdefault("kernel", time.perf_counter())

    def on_cell(cell, **_: object) -> None:
        if "picture" in marks:
            return
        for out in cell.get("outputs", []):
            if any(k.startswith("image/") for k in out.get("data", {})):
                marks["picture"] = time.perf_counter()
                return

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=on_start, on_cell_executed=on_cell)
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    # The kernel was this process's child: its peak RSS is in RUSAGE_CHILDREN (KiB on Linux).
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    first = marks.get("picture")
    return {
        "notebook": path.name,
        "wall_s": round(wall, 2),
        "first_picture_s": round(first - marks.get("kernel", start), 2) if first else None,
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }


if __name__ == "__main__":
    os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(json.dumps(time_notebook(Path(sys.argv[1]).resolve())))
