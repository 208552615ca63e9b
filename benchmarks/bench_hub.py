"""A class on one hub: N students at once run notebook 9.2.2 through the proxy (N = 4, 8, 16).

For each N a fresh test-mode hub (deploy/jupyterhub/simulate.py; loopback
only) logs N students in at the same moment; each starts a server and runs the
notebook. Reported: p50 and p95 of login (the server start request) to the
first picture, and to the end of the notebook; memory per student while all
are still running, as PSS and private memory of the student's server plus
kernel (from /proc/PID/smaps_rollup; not RSS, which counts shared libraries
once per process); and the hub + proxy. From these: students per GiB (1024 /
private MiB per student: what each more student costs) and students per core
(the CPU seconds one student's server + kernel used for the notebook, against
one core for ``--period`` seconds: how many students one core serves when each
runs the notebook once in that time). Nothing is asserted.

Usage: python benchmarks/bench_hub.py [--students 4 8 16] [--period 600]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "deploy" / "jupyterhub"))
import simulate  # noqa: E402
from bench_kernels import cpu_seconds, memory  # noqa: E402
from timing import print_result  # noqa: E402

NOTEBOOK = "09_2_2_grad_cam.ipynb"


def children(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    parent = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                parent[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier]
        tree += frontier
    return tree


def tree_memory(pid: int) -> dict[str, float]:
    """PSS, private and RSS (MiB) and CPU seconds (``cpu``) of ``pid`` and its descendants."""
    total = {"pss": 0.0, "private": 0.0, "rss": 0.0, "cpu": 0.0}
    for p in children(pid):
        try:
            for k, v in memory(p).items():
                total[k] += v
            total["cpu"] += cpu_seconds(p)
        except OSError:
            pass
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def measure(hub: simulate.Hub, n: int) -> tuple[list[simulate.Run], list[dict], dict]:
    names = [f"s{n}x{i}" for i in range(n)]
    runs = await simulate.class_of(hub, names, NOTEBOOK)  # kernels stay alive afterwards
    per_student = [tree_memory(pid) for pid in hub.server_pids().values()]
    everything = tree_memory(hub.process.pid)  # the hub, proxy, culler and every student
    hub_only = {k: everything[k] - sum(m[k] for m in per_student) for k in everything}
    return runs, per_student, hub_only


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="*", default=[4, 8, 16])
    parser.add_argument("--period", type=float, default=600.0,
                        help="seconds in which each student runs the notebook once (students per core)")
    args = parser.parse_args(argv)
    print(f"notebook {NOTEBOOK}, all students at once; times from the server start request (s);")
    print("memory per student = its server + kernel while all are running (MiB); CPU s per student = "
          f"its server + kernel; per core: one run each per {args.period:.0f} s")
    print(f"{'N':>3} {'picture p50':>11} {'p95':>6} {'done p50':>9} {'p95':>6} {'errors':>6} "
          f"{'PSS/student':>11} {'private/student':>15} {'hub+proxy PSS':>13} {'CPU s/student':>13} "
          f"{'per GiB':>7} {'per core':>8}")
    for n in args.students:
        with tempfile.TemporaryDirectory(prefix="ch9-bench-hub-") as state, simulate.Hub(Path(state)) as hub:
            t0 = time.perf_counter()
            runs, mems, hub_mem = asyncio.run(measure(hub, n))
            wall = time.perf_counter() - t0
        pictures = [r.first_picture - r.started for r in runs if r.first_picture]
        done = [r.done - r.started for r in runs]
        errors = sum(bool(r.errors) for r in runs)
        pss = statistics.median(m["pss"] for m in mems) if mems else float("nan")
        private = statistics.median(m["private"] for m in mems) if mems else float("nan")
        cpu = statistics.median(m["cpu"] for m in mems) if mems else float("nan")
        per_gib, per_core = 1024 / private, args.period / cpu
        p50, p95 = (statistics.median(pictures), percentile(pictures, 0.95)) if pictures else (None, None)
        print(f"{n:3d} {p50 or float('nan'):11.1f} {p95 or float('nan'):6.1f} {statistics.median(done):9.1f} "
              f"{percentile(done, 0.95):6.1f} {errors:6d} {pss:11.0f} {private:15.0f} {hub_mem['pss']:13.0f} "
              f"{cpu:13.1f} {per_gib:7.1f} {per_core:8.1f}")
        print_result(hub_students=n, picture_p50_s=p50 and round(p50, 1), picture_p95_s=p95 and round(p95, 1),
                     done_p50_s=round(statistics.median(done), 1), done_p95_s=round(percentile(done, 0.95), 1),
                     errors=errors, pss_per_student_mib=round(pss), private_per_student_mib=round(private),
                     hub_proxy_pss_mib=round(hub_mem["pss"]), wall_s=round(wall, 1),
                     cpu_s_per_student=round(cpu, 1), students_per_gib=round(per_gib, 1),
                     students_per_core=round(per_core, 1), period_s=args.period)
    return 0


if __name__ == "__main__":
    sys.exit(main())
