"""Redraw latency of the 9.2 CAM explorer (helpers.widgets.cam_explorer).

Changes each control the way a student would and prints the median time until
the new PNG is in the ``ipywidgets.Image`` (observers run synchronously).
Alpha and colormap only redraw; a class or layer seen before comes from the
cache; a new class or layer costs one forward and one backward pass. Target:
median redraw at most 50 ms for alpha and colormap. Nothing here asserts a time.

Run: ``CH9_MODEL_SOURCE=bundled .venv/bin/python benchmarks/bench_cam_explorer.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")

import torch  # noqa: E402

from helpers import load_model  # noqa: E402
from helpers.widgets import cam_explorer  # noqa: E402
from timing import REPEATS, median_ms, print_result  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)  # as bench_gradcam: steadier on a shared 2-core machine
    bundle = load_model("efficientnet_lite0", device="cpu")
    ex = cam_explorer(bundle, "cat_and_cup")
    top = list(ex.classes.options)
    layers = ex.layer_names[-4:]
    results: dict[str, float] = {}

    def set_alpha(i: int) -> None:
        ex.alpha.value = (0.3, 0.6)[i % 2]

    def set_cmap(i: int) -> None:
        ex.cmap.value = list(ex.cmap.options)[i % 2]

    def set_class_cached(i: int) -> None:
        ex.classes.value = top[i % 2][1] if isinstance(top[0], tuple) else top[i % 2]

    def set_class_new(i: int) -> None:
        ex.cache.clear()
        ex.heat.clear()
        set_class_cached(i)

    def set_layer_new(i: int) -> None:
        ex.cache.clear()
        ex.heat.clear()
        ex.layer.value = layers[i % len(layers)]

    results["alpha"] = median_ms(set_alpha)
    results["colormap"] = median_ms(set_cmap)
    results["class (seen before, cached)"] = median_ms(set_class_cached)
    results["class (new: forward + backward)"] = median_ms(set_class_new, repeats=10)
    results["layer (new: forward + backward)"] = median_ms(set_layer_new, repeats=10)
    if ex.has_cam:
        results["method CAM <-> Grad-CAM"] = median_ms(
            lambda i: setattr(ex.method, "value", list(ex.method.options)[i % 2][1]
                              if isinstance(ex.method.options[0], tuple)
                              else list(ex.method.options)[i % 2]), repeats=10)
    print(f"bundled model: {bundle.name}, image cat_and_cup, shown {ex.width} px wide, "
          f"torch threads {torch.get_num_threads()}, {REPEATS} repeats")
    print(f"{'control':<36s} {'median ms':>10s}")
    for name, ms in results.items():
        print(f"{name:<36s} {ms:10.1f}")
    worst = max(results["alpha"], results["colormap"])
    print(f"redraw-only controls: worst median {worst:.1f} ms (target <= 50 ms)")
    print_result(explorer="9.2 CAM (alpha, colormap)", redraw_worst_median_ms=round(worst, 1))


if __name__ == "__main__":
    main()
