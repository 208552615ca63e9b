"""Time of the channel tools of notebook 9.1 (helpers.channels), on the CPU.

* One feature visualization on the bundled EfficientNet-Lite0: channel objective at
  ``bn2`` (the whole network runs), 128 x 128, 128 steps; target <= 10 s. The peer is
  horama's Fourier optimizer (``horama.fourier``) on the same objective, size, steps and
  two crops per step (it fails with one: it squeezes away the batch), measured in the same run.
* The "what this channel sees" panel of the 9.1 explorer: median redraw when the
  explorer's channel moves and the layer is cached (target: the explorer's 50 ms), for
  channels not drawn before and for the same channels again (the panel keeps each
  channel's PNG).
* Network dissection of every channel of the four blocks of the three toy nets on 500
  held-out images (20 concepts, Bau's top 0.5 %); target <= 20 s. Making the 500 images
  and their masks is timed apart.

Prints medians of ``--repeats`` runs; asserts nothing about time.
Run: ``CH9_MODEL_SOURCE=bundled .venv/bin/python benchmarks/bench_channels.py``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")

import torch  # noqa: E402

from helpers import load_model, widgets  # noqa: E402
from helpers.toy import world as shapes  # noqa: E402
from helpers.channels import concepts, dissect, fv  # noqa: E402
from helpers.channels.layers import normalize, toy_layers  # noqa: E402
from timing import median_ms, print_result  # noqa: E402


def seconds(run, repeats: int) -> float:
    """Median wall seconds of ``run()`` over ``repeats`` calls (no warm-up: each call is long)."""
    return median_ms(lambda i: run(), repeats=repeats, warmup=0) / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--images", type=int, default=500)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bundle = load_model("efficientnet_lite0", device="cpu")
    model, layers = bundle.model, bundle.feature_layers
    channel = 100
    ours = seconds(lambda: fv.visualize(model, layers, "bn2", channel, size=128, steps=args.steps,
                                        lr=0.05, mean=bundle.mean, std=bundle.std), args.repeats)
    import horama

    def objective(x: torch.Tensor) -> torch.Tensor:
        return model.forward_features(normalize(x, bundle.mean, bundle.std))[:, channel].mean()

    theirs = seconds(lambda: horama.fourier(objective, total_steps=args.steps, image_size=128,
                                            model_input_size=128, values_range=(0.0, 1.0),
                                            crops_per_iteration=2, device="cpu"), args.repeats)
    explorer = widgets.feature_map_explorer(bundle, "cat")
    explorer.widget.children[-1].selected_index = 0  # open the panel: computes the layer once

    def move_channel(i: int) -> None:
        explorer.channel.value = (7 * i + 1) % (explorer.channel.max + 1)

    move_channel(0), move_channel(1)  # warm-up
    redraw = median_ms(lambda i: move_channel(i + 2), repeats=20, warmup=0)  # 20 channels not drawn before
    revisit = median_ms(lambda i: move_channel(i + 2), repeats=20, warmup=0)  # the same 20: cached PNGs
    t0 = time.perf_counter()
    world = concepts.toy_concepts(args.images, 7)
    make = time.perf_counter() - t0
    nets = [shapes.load_net(k) for k in shapes.KINDS]
    n_channels = sum(sum(b[0].out_channels for b in net.features) for net in nets)

    def dissect_all() -> None:
        for net in nets:
            dissect.dissect(net, toy_layers(net), range(4), world.images, world.masks, world.names)

    dis = seconds(dissect_all, args.repeats)
    print(f"torch threads {torch.get_num_threads()}, {args.repeats} repeats, "
          f"load average {' / '.join(f'{v:.1f}' for v in os.getloadavg())} (1/5/15 min) on "
          f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))})")
    print(f"{'step':<58s} {'median s':>9s}")
    print(f"{'feature visualization, lite0 bn2, 128², %d steps (ours)' % args.steps:<58s} {ours:9.2f}")
    print(f"{'same with horama.fourier (2 crops per step: 1 breaks it)':<58s} {theirs:9.2f}")
    print(f"{'channel panel redraw, cached layer, new channel (20 moves)':<58s} {redraw / 1000:9.3f}")
    print(f"{'channel panel redraw, channel drawn before (20 moves)':<58s} {revisit / 1000:9.3f}")
    print(f"{'toy concepts: %d images + 20 masks' % args.images:<58s} {make:9.2f}")
    print(f"{'dissection: %d channels of 3 toy nets, %d images' % (n_channels, args.images):<58s} {dis:9.2f}")
    print(f"feature visualization {ours:.1f} s (target <= 10 s), horama / ours = {theirs / ours:.2f}; "
          f"dissection {dis:.1f} s (target <= 20 s); panel redraw {redraw:.0f} ms (target <= 50 ms)")
    print_result(channels="9.1 what a channel sees", fv_lite0_128_s=round(ours, 2),
                 fv_horama_s=round(theirs, 2), fv_steps=args.steps, panel_redraw_ms=round(redraw, 1),
                 panel_revisit_ms=round(revisit, 1), load_1min=round(os.getloadavg()[0], 1),
                 dissection_toy_s=round(dis, 2), dissection_images=args.images)


if __name__ == "__main__":
    main()
