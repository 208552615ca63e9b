"""Two notebooks at once on a small machine: how many torch threads per kernel.

torch starts one intra-op thread per core, and OpenMP's threads spin for a while
when they wait. Two kernels computing at once (two students on one hub, two
pytest workers) then spin on each other's cores. This script runs two notebooks
in two fresh kernels at the same time, under three settings of the kernels'
environment, and one notebook alone under two:

* default (``OMP_NUM_THREADS`` unset: one thread per core, spinning);
* ``OMP_WAIT_POLICY=PASSIVE`` (one thread per core, a waiting thread sleeps);
* ``OMP_NUM_THREADS=1``.

The make test environment and the class hub's kernels use one thread
(Makefile ``TEST_ENV``, ``deploy/jupyterhub/jupyterhub_config.py``). Nothing is
asserted; seconds and ratios are printed, then one ``RESULT`` line.

Usage: python benchmarks/bench_threads.py [--pair A.ipynb B.ipynb] [--alone A.ipynb]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"default": {}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}, "1 thread": {"OMP_NUM_THREADS": "1"}}
RUN = ("import sys, time, nbformat\nfrom nbclient import NotebookClient\n"
       "nb = nbformat.read(sys.argv[1], 4)\nt = time.perf_counter()\n"
       "NotebookClient(nb, kernel_name='python3', timeout=900,"
       " resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
       "print(time.perf_counter() - t)\n")


def _start(path: Path, extra: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    env.update(CH9_MODEL_SOURCE="bundled", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return subprocess.Popen([sys.executable, "-c", RUN, str(path), str(path.parent)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _seconds(procs: list[subprocess.Popen]) -> list[float]:
    out = []
    for p in procs:
        text, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"a notebook run failed (exit {p.returncode})")
        out.append(float(text.split()[-1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", nargs=2, default=["notebooks/09_2_1_cam.ipynb", "notebooks/09_3_attention.ipynb"])
    ap.add_argument("--alone", default="notebooks/09_2_1_cam.ipynb")
    args = ap.parse_args()
    pair = [ROOT / p for p in args.pair]
    print(f"cores: {os.cpu_count()}; each notebook in a fresh kernel, seconds of the whole run")
    together = {}
    for name, extra in SETTINGS.items():
        together[name] = _seconds([_start(p, extra) for p in pair])
        print(f"at once, {name:<9s}: " + ", ".join(f"{p.stem} {s:5.1f} s" for p, s in zip(pair, together[name])))
    alone = {}
    for name, extra in (("default", {}), ("1 thread", {"OMP_NUM_THREADS": "1"})):
        alone[name] = _seconds([_start(ROOT / args.alone, extra)])[0]
        print(f"alone,   {name:<9s}: {Path(args.alone).stem} {alone[name]:5.1f} s")
    slower = max(a / b for a, b in zip(together["default"], together["1 thread"]))
    print(f"at once, default / 1 thread: up to {slower:.1f}x; alone, 1 thread / default: "
          f"{alone['1 thread'] / alone['default']:.2f}x")
    print("RESULT " + json.dumps({"bench": "threads", "together": together, "alone": alone,
                                  "slowdown_default_vs_1": round(slower, 2), "time": time.time()}))


if __name__ == "__main__":
    main()
