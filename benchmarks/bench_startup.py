"""Start-up cost of the bundled model: memory and wall time of a fresh process.

Each run is a new Python process that does what notebook 9.2.2 does first:
``import helpers``, load the bundled EfficientNet-Lite0, one Grad-CAM on the cat
photo. It then reads its own private memory (``Private_Clean + Private_Dirty``
in ``/proc/self/smaps_rollup``: what the process does not share with others,
so what each extra kernel on a server costs) and its PSS. The wall time is the
whole process, interpreter start-up included, timed from outside.

A page of a shared library (libtorch alone is hundreds of MiB) counts as
``Private_Clean`` while no other process maps it, so a lone process looks
hundreds of MiB bigger than one kernel among many; a library page that no other
process has touched counts too. So a companion process that has done the same
steps stays alive during the runs, as the other students' kernels do on a class
server (``--alone`` measures without it, and then depends on whatever else runs);
``Private_Dirty`` (the process's own writes) is printed too, as it does not
depend on other processes.

Variants, run interleaved so that a busy machine slows them alike:

* ``lite0``: this checkout as it is (the model from :mod:`helpers.models.lite0`, no timm);
* ``timm``: the same, but built by ``timm.create_model("tf_efficientnet_lite0")``
  after ``import timm``, as the course did before ``helpers.models.lite0``;
* ``torch``: ``import torch`` alone, the floor;
* ``--compare-root PATH``: another checkout (for example the main branch) run as it is.

Nothing is asserted; medians and ratios are printed, then one ``RESULT`` line.

Usage:
    .venv/bin/python benchmarks/bench_startup.py [--runs 3] [--compare-root /work/main]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import print_result  # noqa: E402

MIB = 1024.0

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
VARIANT = sys.argv[1]


def private_kib():
    kib = {}
    for line in open("/proc/self/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            kib[parts[0][:-1]] = int(parts[1])
    return kib["Private_Clean"] + kib["Private_Dirty"], kib


import torch
torch.set_num_threads(1)
if VARIANT != "torch":
    if VARIANT == "timm":
        import timm
    import helpers
    if VARIANT == "timm":
        helpers.models.lite0.efficientnet_lite0 = lambda: timm.create_model(
            "tf_efficientnet_lite0", pretrained=False)
    t1 = time.perf_counter()
    after_import = private_kib()[0]
    b = helpers.load_model("efficientnet_lite0", source="bundled", device="cpu")
    t2 = time.perf_counter()
    helpers.cam.grad_cam(b.model, b.cam_layer, b.to_input(helpers.load_image("cat")))
    t3 = time.perf_counter()
else:
    t1 = t2 = t3 = time.perf_counter()
    after_import = private_kib()[0]
private, kib = private_kib()
print("CHILD " + json.dumps({
    "private_kib": private, "import_private_kib": after_import, "pss_kib": kib["Pss"],
    "rss_kib": kib["Rss"], "dirty_kib": kib["Private_Dirty"], "import_s": t1 - t0,
    "load_s": t2 - t1, "gradcam_s": t3 - t2,
    "timm": "timm" in sys.modules}))
"""


COMPANION = CHILD + "print('ready', flush=True)\nsys.stdin.read()\n"


def start_companion() -> subprocess.Popen:
    """Another student: the same steps (timm's build, so timm is mapped too), then it waits."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), CH9_MODEL_SOURCE="bundled", MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", COMPANION, "timm"], cwd=ROOT, env=env,
                            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc
    proc.wait()
    raise RuntimeError("the companion process did not start")


def run_once(variant: str, root: Path) -> dict:
    """One fresh process; returns its measurements plus ``wall_s`` timed from outside."""
    env = dict(os.environ, PYTHONPATH=str(root), CH9_MODEL_SOURCE="bundled", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, variant], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} in {root} failed:\n{proc.stderr[-2000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD "))
    return {**json.loads(line[len("CHILD "):]), "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alone", action="store_true",
                        help="no companion process (shared libraries then count as private)")
    parser.add_argument("--compare-root", type=Path, default=None,
                        help="another checkout to run as it is (e.g. the main branch)")
    args = parser.parse_args(argv)

    variants: list[tuple[str, str, Path]] = [("lite0", "lite0", ROOT), ("timm", "timm", ROOT),
                                             ("torch", "torch", ROOT)]
    if args.compare_root is not None:
        variants.append((f"as is: {args.compare_root}", "lite0", args.compare_root.resolve()))
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in variants}
    companion = None if args.alone else start_companion()
    try:
        for _ in range(args.runs):
            for label, variant, root in variants:
                runs[label].append(run_once(variant, root))
    finally:
        if companion is not None:
            companion.stdin.close()
            companion.wait(timeout=60)

    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[label])

    print(f"fresh python process: import helpers, load the bundled EfficientNet-Lite0, one "
          f"Grad-CAM (cat); median of {args.runs} runs, 1 thread, "
          f"{'alone' if args.alone else 'beside a companion process that did the same steps'}")
    print(f"{'variant':<28}{'imported':>9}{'private MiB':>12}{'dirty':>7}{'PSS MiB':>9}"
          f"{'RSS MiB':>9}{'wall s':>8}"
          f"{'import s':>10}{'load s':>8}{'cam s':>7}  timm imported")
    print("(imported: private MiB right after the imports; the others at the end; "
          "dirty: Private_Dirty alone)")
    for label, _, _ in variants:
        print(f"{label:<28}{med(label, 'import_private_kib') / MIB:>9.1f}"
              f"{med(label, 'private_kib') / MIB:>12.1f}{med(label, 'dirty_kib') / MIB:>7.1f}"
              f"{med(label, 'pss_kib') / MIB:>9.1f}{med(label, 'rss_kib') / MIB:>9.1f}"
              f"{med(label, 'wall_s'):>8.2f}"
              f"{med(label, 'import_s'):>10.2f}{med(label, 'load_s'):>8.2f}"
              f"{med(label, 'gradcam_s'):>7.2f}  {runs[label][0]['timm']}")
    ours_mib, timm_mib = med("lite0", "private_kib") / MIB, med("timm", "private_kib") / MIB
    ours_s, timm_s = med("lite0", "wall_s"), med("timm", "wall_s")
    print(f"lite0 / timm: private memory {ours_mib / timm_mib:.2f}x "
          f"({timm_mib - ours_mib:+.1f} MiB saved), wall time {ours_s / timm_s:.2f}x "
          f"({timm_s - ours_s:+.2f} s saved)")
    print_result(startup="bundled model + one Grad-CAM, fresh python process", runs=args.runs,
                 companion=not args.alone,
                 private_mib_lite0=round(ours_mib, 1), private_mib_timm=round(timm_mib, 1),
                 private_mib_torch=round(med("torch", "private_kib") / MIB, 1),
                 wall_s_lite0=round(ours_s, 2), wall_s_timm=round(timm_s, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
