"""Redraw latency of the 9.1 feature-map explorer (helpers.widgets.feature_map_explorer).

Moves each control the way a student would and prints the median time from the
widget's value change to the new PNG being in the ``ipywidgets.Image`` (the
observer runs synchronously, so this is the whole redraw). For comparison it
also times the same overlay drawn the usual way, with a matplotlib figure saved
as PNG. Target: median redraw at most 50 ms. Nothing here asserts a time.

Run: ``CH9_MODEL_SOURCE=bundled .venv/bin/python benchmarks/bench_feature_explorer.py``
"""

from __future__ import annotations

import io
import os

os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from helpers import load_model  # noqa: E402
from helpers.draw import viz  # noqa: E402
from helpers.images import crop_box, load_image  # noqa: E402
from helpers.widgets import feature_map_explorer  # noqa: E402
from timing import REPEATS, median_ms, print_result  # noqa: E402


def main() -> None:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    bundle = load_model("efficientnet_lite0", device="cpu")
    explorer = feature_map_explorer(bundle, "cat")
    n_layers = len(explorer.names)
    results: dict[str, float] = {}

    def set_alpha(i: int) -> None:
        explorer.alpha.value = (i % 20) / 20 + 0.025

    def set_channel(i: int) -> None:
        explorer.channel.value = (7 * i + 1) % (explorer.channel.max + 1)

    def set_layer(i: int) -> None:
        explorer.layer.value = (5 * i + 1) % n_layers

    def set_mode(i: int) -> None:
        explorer.mode.value = ("grid16", "grid64", "overlay")[i % 3]

    def set_order(i: int) -> None:
        explorer.order.value = ("index", "active")[i % 2]

    explorer.mode.value = "overlay"
    results["alpha (overlay)"] = median_ms(set_alpha)
    results["channel (overlay)"] = median_ms(set_channel)
    results["layer (overlay)"] = median_ms(set_layer)
    results["image mode (overlay/grid16/grid64)"] = median_ms(set_mode)
    explorer.mode.value = "overlay"
    results["channel order (index/active)"] = median_ms(set_order)
    explorer.mode.value = "grid64"
    results["layer (grid of 64)"] = median_ms(set_layer)
    explorer.mode.value = "overlay"
    samples = ["coffee", "astronaut", "rocket", "cat"]
    images = {name: load_image(name) for name in samples}
    results["new image (forward pass + redraw)"] = median_ms(
        lambda i: explorer._on_image(images[samples[i % 4]], samples[i % 4]), repeats=8)

    # Baseline: the same overlay through matplotlib (figure -> PNG bytes).
    image = load_image("cat")
    crop = image.crop(crop_box(image.size)).resize((explorer.size, explorer.size))
    m = explorer.acts[explorer.layer_name][0, explorer.current_channel()]

    def matplotlib_redraw(i: int) -> None:
        fig, ax = plt.subplots(figsize=(explorer.width / 100, explorer.width / 100), dpi=100)
        ax.imshow(viz.overlay(crop, m, alpha=0.7))
        ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)

    baseline = median_ms(matplotlib_redraw, repeats=10)
    print(f"bundled model: {bundle.name}, {n_layers} layers, overlay {explorer.size} px "
          f"shown {explorer.width} px wide, "
          f"torch threads {torch.get_num_threads()}, {REPEATS} repeats")
    print(f"{'control':<38s} {'median ms':>10s}")
    for name, ms in results.items():
        print(f"{name:<38s} {ms:10.1f}")
    print(f"{'matplotlib overlay redraw (baseline)':<38s} {baseline:10.1f}")
    slider = [v for k, v in results.items() if not k.startswith("new image")]
    print(f"slider redraws: worst median {max(slider):.1f} ms (target <= 50 ms); "
          f"matplotlib / explorer overlay = {baseline / results['alpha (overlay)']:.1f}x")
    # One machine-readable line for benchmarks/run_all.py.
    print_result(explorer="9.1 feature maps", redraw_worst_median_ms=round(max(slider), 1))


if __name__ == "__main__":
    main()
