"""The textbook's path (VGG16-bn, ResNet18) against the bundled one: memory per kernel, redraws, wall time.

Stand-in weight files (seeded random weights under torchvision's file names, in a
temporary TORCH_HOME: scripts/standin_weights.py) take the place of the real
ones; memory and timing do not depend on the weights' values.

1. Two kernels side by side on each path: both run the same section notebook
   and stay alive; then private memory and PSS of each (``/proc/PID/smaps_rollup``).
   With the weights memory-mapped, the second kernel's weight pages are shared
   page cache, counted in PSS but not in private memory.
2. Explorer redraws on the textbook's models: the 9.1 explorer on VGG16-bn and
   the CAM explorer on ResNet18 (median, ms). Target: at most 50 ms.
3. Each section notebook's wall time on the torchvision path.

Nothing is asserted. Usage:
``python benchmarks/bench_textbook_path.py [--notebooks 09_2_2_grad_cam ...] [--skip-memory]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_kernels import memory  # noqa: E402
from timing import median_ms, print_result  # noqa: E402

SECTIONS = ("09_1_layer_outputs", "09_2_1_cam", "09_2_2_grad_cam")
PRIVATE_TARGET_GB = 0.6  # per kernel holding VGG16-bn


def _standin(torch_home: Path) -> None:
    spec = importlib.util.spec_from_file_location("standin", ROOT / "scripts/standin_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_standin_weights(torch_home)


def _run_cells(kc, path: Path) -> list[str]:
    errors = []
    for cell in nbformat.read(path, 4).cells:
        if cell.cell_type == "code":
            reply = kc.execute_interactive(cell.source, timeout=900, allow_stdin=False,
                                           output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                errors.append(reply["content"].get("ename", "error"))
    return errors


def two_kernels(path: Path) -> tuple[list[dict], float]:
    """Run ``path`` in two kernels kept alive together; memory of both, and the first's wall time."""
    kernels, mems, wall = [], [], 0.0
    try:
        for i in range(2):
            t0 = time.perf_counter()
            km, kc = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
            kernels.append((km, kc))
            errors = _run_cells(kc, path)
            if i == 0:
                wall = time.perf_counter() - t0
            if errors:
                print(f"  {path.stem}: errors {errors}")
        mems = [memory(km.provisioner.pid) for km, _ in kernels]
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return mems, wall


def redraws() -> dict[str, float]:
    """Median redraw of the explorers on the textbook's models (this process, torchvision path)."""
    import torch

    from helpers import load_model, widgets

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    out = {}
    vgg = load_model("vgg16_bn", source="torchvision", device="cpu")
    fm = widgets.feature_map_explorer(vgg, "cat")
    fm.mode.value = "overlay"
    out["9.1 explorer, VGG16-bn: alpha"] = median_ms(
        lambda i: setattr(fm.alpha, "value", (i % 20) / 20 + 0.025))
    out["9.1 explorer, VGG16-bn: channel"] = median_ms(
        lambda i: setattr(fm.channel, "value", (7 * i + 1) % (fm.channel.max + 1)))
    out["9.1 explorer, VGG16-bn: layer"] = median_ms(
        lambda i: setattr(fm.layer, "value", (5 * i + 1) % len(fm.names)))
    del fm, vgg
    res = load_model("resnet18", source="torchvision", device="cpu")
    ce = widgets.cam_explorer(res, "cat_and_cup")
    out["CAM explorer, ResNet18: alpha"] = median_ms(
        lambda i: setattr(ce.alpha, "value", (i % 20) / 20 + 0.025))
    classes = [v for _, v in ce.classes.options][:4]
    for k in classes:  # fill the cache: afterwards a class change only redraws
        ce.classes.value = k
    out["CAM explorer, ResNet18: class (cached)"] = median_ms(
        lambda i: setattr(ce.classes, "value", classes[i % len(classes)]))
    fresh = ce.layer_names[-5:-1]  # four layers not seen yet: each costs a forward + backward
    out["CAM explorer, ResNet18: new layer (forward + backward)"] = median_ms(
        lambda i: setattr(ce.layer, "value", fresh[i]), repeats=len(fresh), warmup=0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=list(SECTIONS))
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    os.environ.pop("MPLBACKEND", None)  # the kernels keep the inline backend
    with tempfile.TemporaryDirectory() as home:
        _standin(Path(home))
        os.environ["TORCH_HOME"] = home
        rows = []
        if not args.skip_memory:
            print("two kernels side by side, each after the whole notebook (MiB)")
            print(f"{'path':<12} {'notebook':<22} {'private 1':>10} {'private 2':>10} "
                  f"{'PSS 1':>8} {'PSS 2':>8} {'wall (s)':>9}")
            for source in ("bundled", "torchvision"):
                os.environ["CH9_MODEL_SOURCE"] = source
                for name in args.notebooks:
                    mems, wall = two_kernels(ROOT / "notebooks" / f"{name}.ipynb")
                    rows.append({"path": source, "notebook": name, "wall_s": round(wall, 1),
                                 **{f"{k}_{i + 1}": round(m[k], 1)
                                    for i, m in enumerate(mems) for k in ("private", "pss")}})
                    r = rows[-1]
                    print(f"{source:<12} {name:<22} {r['private_1']:10.0f} {r['private_2']:10.0f} "
                          f"{r['pss_1']:8.0f} {r['pss_2']:8.0f} {wall:9.1f}")
        os.environ["CH9_MODEL_SOURCE"] = "torchvision"
        sys.path.insert(0, str(ROOT))
        times = redraws()
    print("\nexplorer redraws on the textbook's models (median, ms; target <= 50)")
    for what, ms in times.items():
        print(f"  {what:<56} {ms:8.1f}")
    print_result(textbook_path=rows, textbook_redraw_ms={k: round(v, 1) for k, v in times.items()},
                 private_target_gb=PRIVATE_TARGET_GB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
