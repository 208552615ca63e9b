"""Run every benchmark and write benchmarks/RESULTS.md (``make bench``).

Each ``bench_*.py`` script is run in its own process; what it prints goes into
RESULTS.md verbatim, and its ``RESULT {json}`` lines feed the targets table.
Every notebook is also run in a fresh kernel to time it. Nothing is asserted:
a missed target is listed with the measured figure.

Usage: python benchmarks/run_all.py [--skip-notebooks] [--test-seconds S]
       [--args "bench_hub=--students 4 8"] [--note TEXT]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata as md
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGES = ["torch", "torchvision", "numpy", "pillow", "matplotlib", "ipywidgets", "timm",
            "transformers", "grad-cam", "torchcam", "captum", "zennit"]
NOTEBOOK_TARGET_S = 60.0
REDRAW_TARGET_MS = 50.0
TEST_TARGET_S = 15 * 60


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    versions = ", ".join(f"{p} {_version(p)}" for p in PACKAGES)
    return [f"- Machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores{mem}, no GPU used",
            f"- Python {platform.python_version()}; {versions}",
            f"- Date: {datetime.date.today().isoformat()}"]


def _version(package: str) -> str:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return "not installed"


def run(cmd: list[str], timeout: int = 1800) -> tuple[str, list[dict]]:
    env = dict(os.environ, CH9_MODEL_SOURCE="bundled", HF_HUB_OFFLINE="1")
    env.pop("MPLBACKEND", None)  # notebook kernels must keep the inline backend
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    results = []
    lines = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            results.append(json.loads(line[len("RESULT "):]))
        else:
            lines.append(line)
    if proc.returncode != 0:
        lines.append(f"[exit code {proc.returncode}]\n{proc.stderr[-2000:]}")
    return "\n".join(lines), results


def classroom_tables(results: list[dict]) -> list[str]:
    """The per-notebook kernel table (bench_kernels) and the hub table (bench_hub)."""
    out = []
    kernels = [r for r in results if "kernel_private_mib" in r]
    if kernels:
        out += ["## Kernels: memory after each notebook, start-up (bench_kernels)", "",
                "| notebook | private (MiB) | PSS (MiB) | RSS (MiB) | new kernel to first picture, median (s) "
                "| kernel CPU s by then | companion kernel |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        out += [f"| {r['kernel_notebook']} | {r['kernel_private_mib']:.0f} | {r['kernel_pss_mib']:.0f} | "
                f"{r['kernel_rss_mib']:.0f} | {r['first_picture_median_s']} | "
                f"{r.get('first_picture_kernel_cpu_s')} | {r.get('companion', False)} |"
                for r in kernels] + [""]
    hubs = [r for r in results if "hub_students" in r]
    if hubs:
        out += ["## A class on one hub: 9.2.2 for N students at once (bench_hub)", "",
                "| N | login to first picture p50 / p95 (s) | to the end p50 / p95 (s) | errors "
                "| PSS per student (MiB) | private per student (MiB) | hub + proxy PSS (MiB) "
                "| CPU s per student | students per GiB | students per core |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        out += [f"| {r['hub_students']} | {r['picture_p50_s']} / {r['picture_p95_s']} | {r['done_p50_s']} / "
                f"{r['done_p95_s']} | {r['errors']} | {r['pss_per_student_mib']} | "
                f"{r['private_per_student_mib']} | {r['hub_proxy_pss_mib']} | {r.get('cpu_s_per_student')} | "
                f"{r.get('students_per_gib')} | {r.get('students_per_core')} |" for r in hubs] + [""]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--test-seconds", type=float, default=None,
                        help="measured wall time of `make test`, to report against its target")
    parser.add_argument("--args", action="append", default=[], metavar="SCRIPT=OPTIONS",
                        help="options for one script (smaller sizes), stated in RESULTS.md")
    parser.add_argument("--note", default="", help="a line about this run for RESULTS.md")
    args = parser.parse_args(argv)
    options = dict(a.split("=", 1) for a in args.args)

    sections: list[str] = []
    results: list[dict] = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} ...", flush=True)
        extra = shlex.split(options.get(script.stem, ""))
        text, res = run([sys.executable, str(script), *extra])
        results += res
        shown = f" (run with `{' '.join(extra)}`)" if extra else ""
        sections += [f"## {script.stem}{shown}", "", "```", text.strip(), "```", ""]

    notebooks: list[dict] = []
    if not args.skip_notebooks:
        for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
            print(f"timing {nb.name} ...", flush=True)
            text, _ = run([sys.executable, str(HERE / "notebook_timing.py"), str(nb)])
            try:
                notebooks.append(json.loads(text.strip().splitlines()[-1]))
            except (json.JSONDecodeError, IndexError):
                notebooks.append({"notebook": nb.name, "error": text[-500:]})

    targets = []
    for r in results:
        if "redraw_worst_median_ms" in r:
            v = r["redraw_worst_median_ms"]
            targets.append((f"{r['explorer']}: slider redraw median", f"{v:.1f} ms",
                            f"<= {REDRAW_TARGET_MS:.0f} ms", v <= REDRAW_TARGET_MS))
        for what, v in r.get("textbook_redraw_ms", {}).items():
            if "new layer" not in what:  # a new layer is a forward + backward pass, not a redraw
                targets.append((f"{what}: redraw median", f"{v:.1f} ms",
                                f"<= {REDRAW_TARGET_MS:.0f} ms", v <= REDRAW_TARGET_MS))
        for row in r.get("textbook_path", []):
            if row["path"] == "torchvision" and row["notebook"] != "09_2_1_cam":  # VGG16-bn
                v = max(row["private_1"], row["private_2"]) / 1024
                targets.append((f"kernel private memory, VGG16-bn, after {row['notebook']}",
                                f"{v:.2f} GB", f"<= {r['private_target_gb']} GB",
                                v <= r["private_target_gb"]))
        if "gradcam_ours_ms" in r:
            ours, peer = r["gradcam_ours_ms"], r["fastest_peer_ms"]
            targets.append((f"Grad-CAM vs fastest peer ({r['fastest_peer']})",
                            f"{ours:.1f} ms vs {peer:.1f} ms ({ours / peer:.2f}x)",
                            "no slower than the fastest peer", ours <= peer))
        if "attribution_method" in r:
            ours, peer = r["ours_ms"], r["peer_ms"]
            targets.append((f"{r['attribution_method']} (batch {r['batch']}) vs {r['peer']}",
                            f"{ours:.1f} ms vs {peer:.1f} ms ({ours / peer:.2f}x)",
                            f"no slower than {r['peer'].split()[0]}", ours <= peer))
        for m in r.get("cam_methods", []):
            ours, peer = m["ours_ms"], m["fastest_peer_ms"]
            targets.append((f"{m['method']}, batch {m['batch']}, vs fastest peer "
                            f"({m['fastest_peer']})",
                            f"{ours:.1f} ms vs {peer:.1f} ms ({ours / peer:.2f}x)",
                            "no slower than the fastest peer", ours <= peer))
        if r.get("private_target_mib"):  # bench_kernels: the 9.2.2 kernel
            v, t = r["kernel_private_mib"], r["private_target_mib"]
            targets.append((f"kernel private memory after {r['kernel_notebook']}", f"{v:.0f} MiB",
                            f"<= {t:.0f} MiB", v <= t))
        if "first_picture_median_s" in r and r["first_picture_median_s"] is not None:
            v, t = r["first_picture_median_s"], r["first_picture_target_s"]
            targets.append((f"{r['kernel_notebook']}: new kernel to first picture, median", f"{v:.1f} s",
                            f"<= {t:.0f} s", v <= t))
    for nb in notebooks:
        if "wall_s" in nb:
            targets.append((f"notebook {nb['notebook']}: wall time", f"{nb['wall_s']:.1f} s",
                            f"about {NOTEBOOK_TARGET_S:.0f} s", nb["wall_s"] <= NOTEBOOK_TARGET_S * 1.25))
    if args.test_seconds is not None:
        targets.append(("`make test` (after install)", f"{args.test_seconds / 60:.1f} min",
                        "< 15 min", args.test_seconds < TEST_TARGET_S))

    out = ["# Benchmark results", "",
           "Written by `make bench` (`benchmarks/run_all.py`); nothing here asserts a time.", ""]
    out += machine() + ([f"- This run: {args.note}"] if args.note else []) + ["", "## Targets", "", "| what | measured | target | met |",
                        "| --- | --- | --- | --- |"]
    out += [f"| {w} | {m} | {t} | {'yes' if ok else '**missed**'} |" for w, m, t, ok in targets]
    missed = [w for w, _, _, ok in targets if not ok]
    out += ["", f"Missed targets: {', '.join(missed) if missed else 'none'}.", ""]
    if notebooks:
        out += ["## Notebooks (fresh kernel, bundled models, CPU)", "",
                "| notebook | wall time (s) | kernel start to first picture (s) | peak memory (MiB) |",
                "| --- | --- | --- | --- |"]
        for nb in notebooks:
            if "wall_s" in nb:
                out.append(f"| {nb['notebook']} | {nb['wall_s']} | {nb['first_picture_s']} | "
                           f"{nb['peak_rss_mib']} |")
            else:
                out.append(f"| {nb['notebook']} | failed: {nb['error'][:80]!r} | | |")
        out.append("")
    out += classroom_tables(results)
    out += sections
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
