"""Memory and start-up of a student's kernel: private memory and PSS after each notebook's steps,
new kernel to first picture, and which imports the memory comes from.

A companion kernel stays alive through every measurement, as the other students'
kernels do on a class server: it has imported what every notebook imports and run
one Grad-CAM, so the pages of shared libraries are mapped by two processes (alone,
a kernel would count libtorch's pages as its own private memory; ``--alone``
measures that way). For every notebook a fresh kernel runs all code cells (bundled
models, CPU), then ``/proc/<kernel>/smaps_rollup`` gives its private memory (what
the kernel alone holds: what one more student costs) and PSS (shared pages split
between the processes that map them); RSS is printed for comparison only. The
time from asking for a new kernel to the first image output is measured
``--repeats`` times (median), with the CPU seconds the kernel had used by then
(on a busy machine the wall time grows, the CPU time hardly). A second part
imports the course's libraries one at a time in a fresh interpreter and prints
the private dirty memory each adds (``Private_Dirty`` does not depend on other
processes). Nothing is asserted.

Usage: python benchmarks/bench_kernels.py [--repeats 3] [--notebooks 09_2_2_grad_cam ...] [--alone]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import print_result  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_TARGET_MIB = 400.0  # after the 9.2.2 steps, beside a companion kernel
FIRST_PICTURE_TARGET_S = 3.0  # median, new kernel to first picture

IMPORTS = [  # cumulative, in the order a notebook's first cell meets them
    ("python + numpy", "import numpy"),
    ("torch", "import torch"),
    # helpers.models imports torchvision without torch._dynamo (helpers.models.tv)
    ("helpers (models + torchvision, cam, attribution, hooks, images)", "import helpers"),
    ("matplotlib.pyplot", "import matplotlib.pyplot"),
    ("PIL", "import PIL.Image"),
    ("ipywidgets + helpers.widgets", "from helpers import widgets"),
    ("helpers.exercises", "from helpers import exercises"),
    # below: not imported by 9.2.2 when helpers comes first (9.1 and 9.2.1 import torchvision first)
    ("torch._dynamo (a plain `import torchvision` pulls it in)", "import torch._dynamo"),
    ("timm", "import timm"),
    ("transformers", "import transformers"),
    ("helpers.text, helpers.text.models", "from helpers.text import models"),
]


# What the companion kernel runs: every notebook's imports, the bundled model, one Grad-CAM.
COMPANION = """
import matplotlib.pyplot, numpy, torch, torchvision, transformers
import helpers
from helpers import cam, exercises, text, textmodels, viz, widgets
helpers.setup()
b = helpers.load_model("efficientnet_lite0", source="bundled", device="cpu")
helpers.cam.grad_cam(b.model, b.cam_layer, b.to_input(helpers.load_image("cat")))
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid``, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    """Rss, Pss and private (clean + dirty) memory of ``pid`` in MiB, from smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def run_notebook(path: Path) -> dict:
    """A new kernel runs every code cell; returns first-picture time and memory at the end."""
    cells = [c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    picture: list[float] = []
    picture_cpu: list[float] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] in ("display_data", "execute_result") and not picture and \
                any(k.startswith("image/") for k in msg["content"].get("data", {})):
            picture.append(time.perf_counter())
            picture_cpu.append(cpu_seconds(km.provisioner.pid))

    t0 = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
    try:
        errors = []
        for source in cells:
            reply = kc.execute_interactive(source, output_hook=hook, timeout=900, allow_stdin=False)
            if reply["content"]["status"] != "ok":
                errors.append(reply["content"].get("ename", "error"))
        mem = memory(km.provisioner.pid)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return {"first_picture_s": picture[0] - t0 if picture else None,
            "first_picture_cpu_s": picture_cpu[0] if picture_cpu else None, "errors": errors, **mem}


def start_companion():
    """A kernel that has run :data:`COMPANION` and stays idle: another student on the server."""
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"))
    reply = kc.execute_interactive(COMPANION, timeout=900, allow_stdin=False,
                                   output_hook=lambda msg: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the companion kernel failed: {reply['content'].get('evalue')}")
    return km, kc


def import_ladder() -> list[tuple[str, float, float]]:
    """``(step, added private dirty MiB, seconds)`` for IMPORTS, in one fresh interpreter."""
    code = (
        "import json, time, sys\n"
        "from pathlib import Path\n"
        "def private():\n"
        "    f = dict(l.split(':', 1) for l in Path('/proc/self/smaps_rollup').read_text().splitlines()[1:])\n"
        "    return int(f['Private_Dirty'].split()[0]) / 1024\n"
        f"steps = {json.dumps(IMPORTS)}\n"
        "out = []\n"
        "for name, stmt in steps:\n"
        "    before, t0 = private(), time.perf_counter()\n"
        "    exec(stmt)\n"
        "    out.append((name, private() - before, time.perf_counter() - t0))\n"
        "print(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(path: Path, repeats: int, companion: bool) -> None:
    """Run ``path`` ``repeats`` times in fresh kernels; print and ``RESULT`` the figures."""
    runs = [run_notebook(path) for _ in range(repeats)]
    firsts = [r["first_picture_s"] for r in runs if r["first_picture_s"] is not None]
    cpus = [r["first_picture_cpu_s"] for r in runs if r["first_picture_cpu_s"] is not None]
    last = runs[-1]
    median = statistics.median(firsts) if firsts else None
    cpu = statistics.median(cpus) if cpus else None
    shown = f"{median:.2f} ({cpu:.2f})" if median is not None else "no picture"
    print(f"{path.stem:<24} {last['private']:8.0f} {last['pss']:8.0f} {last['rss']:8.0f}   "
          f"{shown} {[round(f, 2) for f in firsts]}" + (f"  errors {last['errors']}" if last["errors"] else ""))
    print_result(kernel_notebook=path.stem, kernel_private_mib=round(last["private"], 1),
                 kernel_pss_mib=round(last["pss"], 1), kernel_rss_mib=round(last["rss"], 1),
                 first_picture_median_s=None if median is None else round(median, 2),
                 first_picture_kernel_cpu_s=None if cpu is None else round(cpu, 2),
                 companion=companion,
                 private_target_mib=PRIVATE_TARGET_MIB if path.stem == "09_2_2_grad_cam" else None,
                 first_picture_target_s=FIRST_PICTURE_TARGET_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--notebooks", nargs="*", default=None)
    parser.add_argument("--alone", action="store_true",
                        help="no companion kernel (shared libraries then count as private)")
    args = parser.parse_args(argv)
    os.environ.pop("MPLBACKEND", None)  # the kernels keep the inline backend
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.stem in args.notebooks]

    companion = None if args.alone else start_companion()
    try:
        print(f"fresh kernel per run, {args.repeats} runs per notebook, "
              f"{'alone' if args.alone else 'beside a companion kernel'}; memory after the last cell (MiB)")
        print(f"{'notebook':<24} {'private':>8} {'PSS':>8} {'RSS':>8}   first picture median: "
              f"wall s (kernel CPU s) [wall of each run]")
        for path in paths:
            measure(path, args.repeats, companion is not None)
    finally:
        if companion is not None:
            companion[1].stop_channels()
            companion[0].shutdown_kernel(now=True)

    print("\nwhat each import adds to a fresh interpreter (cumulative, in this order)")
    print(f"{'import':<44} {'dirty MiB':>12} {'seconds':>8}")
    for name, mib, seconds in import_ladder():
        print(f"{name:<44} {mib:12.0f} {seconds:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
