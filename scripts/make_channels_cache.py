"""Compute what notebook 9.1's section "这个通道看到了什么" shows but cannot afford to compute.

* Network dissection of every channel of the four blocks of the three toy nets
  (``vgg``, ``gap``, ``vgg_shuffled``) on 500 held-out one-object images
  (``helpers.channels.concepts.toy_concepts(500, seed=7)``), Bau's top 0.5 %.
* Feature visualizations (Fourier parameterization, decorrelated colour, jitter,
  scale and rotation; Adam) with their scores against the data and against noise:
  on the bundled EfficientNet-Lite0 (128 x 128, 128 steps, lr 0.05) the most active
  channel over the course's photos in a shallow, a middle and the last layer, and
  the cat photo's top class; on the toy nets (64 x 64, 128 steps, lr 0.05) the
  channel of the last block that dissection labels "star" with the highest IoU,
  with the template scores of its visualization and its mean activation on clean
  drawings of each shape (``concepts.shape_drawings``).
* The template check: the shape that ``concepts.template_scores`` prefers in the
  visualization of each planted matched filter (``concepts.template_net``; with and
  without the transformations) and of every shape-labelled channel of the last block
  of ``gap`` and ``vgg``; and the scorer's accuracy on 200 held-out toy images.

Writes data/channels/results.json and data/channels/visualizations.npz.
Run: ``CH9_MODEL_SOURCE=bundled python scripts/make_channels_cache.py`` (a few minutes on 1 CPU;
``--part toy`` or ``--part bundled`` redoes one part).
"""

from __future__ import annotations

import argparse
import time

import torch

from helpers import load_model
from helpers.toy import world as shapes
from helpers.channels import cache, concepts, dissect, fv, patches
from helpers.channels.layers import toy_layers

SEED, N_IMAGES, NOISE, TEMPLATE_CHECK = 7, 500, 16, 200
TOY = dict(size=64, steps=128, lr=0.05, seed=0)
PLANTED = dict(lr=0.2)  # the planted filters' check: a larger step than TOY's
BUNDLED = dict(size=128, steps=128, lr=0.05, seed=0)
BUNDLED_LAYERS = ("blocks.1.1", "blocks.3.2", "bn2")


def scores(model, layers, layer, index, image, data, mean, std, objective="channel") -> dict:
    """The objective on the visualization, the best data image and the best of ``NOISE`` noise images."""
    g = torch.Generator().manual_seed(1)
    noise = torch.rand(NOISE, *image.shape, generator=g)
    if objective == "class":
        def score(x):
            with torch.no_grad():
                return model(patches.normalize(x, mean, std))[:, index]
    else:
        def score(x):
            return fv.channel_scores(model, layers, layer, index, x, mean=mean, std=std)
    ours, best, rand = float(score(image[None])[0]), float(score(data).max()), float(score(noise).max())
    return {"ours": ours, "best_data": best, "best_noise": rand,
            "ratio_data": ours / best if best > 0 else None, "ratio_noise": ours / rand if rand > 0 else None}


def toy_part(results: dict, images: dict) -> None:
    world = concepts.toy_concepts(N_IMAGES, SEED)
    nets = {}
    t0 = time.perf_counter()
    for kind in shapes.KINDS:
        net = shapes.load_net(kind)
        res = dissect.dissect(net, toy_layers(net), range(4), world.images, world.masks, world.names)
        nets[kind] = {name: {"top": d.top.tolist(), "thresholds": d.thresholds.tolist(),
                             "iou": [[round(v, 6) for v in row] for row in d.iou.tolist()]}
                      for name, d in res.items()}
    results["dissection"] = {"seed": SEED, "n": N_IMAGES, "top": dissect.BAU_TOP,
                             "concepts": list(world.names), "nets": nets,
                             "share": world.masks.float().mean(dim=(0, 2, 3)).tolist(),
                             "seconds": round(time.perf_counter() - t0, 1)}
    star = world.names.index("star")
    templates = concepts.shape_templates()
    right = sum(int(concepts.template_scores(world.images[i], templates).argmax()) == int(world.labels[i, 0])
                for i in range(TEMPLATE_CHECK))
    results["template_accuracy"] = {"images": TEMPLATE_CHECK, "right": right}  # the scorer on real images
    results["template_check"] = template_check(nets, templates)
    drawings = concepts.shape_drawings()  # (6, R, 3, 64, 64)
    results["toy_fv"] = {}
    for kind in ("gap", "vgg"):
        net = shapes.load_net(kind)
        layers = toy_layers(net)
        iou = torch.tensor(nets[kind]["features.3"]["iou"])
        is_star = iou.argmax(dim=1) == star
        channel = int(torch.where(is_star, iou[:, star], torch.tensor(-1.0)).argmax())
        v = fv.visualize(net, layers, 3, channel, **TOY)
        image = cache.from_uint8(cache.to_uint8(v.image))  # score what is stored
        images[cache.key(kind, "features.3", channel)] = cache.to_uint8(v.image)
        entry = scores(net, layers, 3, channel, image, world.images, *shapes_norm())
        drawn = [float(fv.channel_scores(net, layers, 3, channel, d).mean()) for d in drawings]  # per shape
        entry.update(channel=channel, star_iou=float(iou[channel, star]),
                     template=concepts.template_scores(image, templates).tolist(), settings=TOY,
                     drawn=drawn, history=v.history)
        results["toy_fv"][kind] = entry
        print(kind, "star channel", channel, {k: v for k, v in entry.items() if k != "history"})


def template_check(nets: dict, templates: torch.Tensor) -> dict:
    """Which shape the template score prefers in feature visualizations of shape channels.

    * ``planted``: the planted matched filter of each shape (:func:`concepts.template_net`),
      centre-cell objective, with the standard transformations and without them;
    * ``toy``: every channel of the last block of ``gap`` and ``vgg`` whose dissection label
      is a shape (IoU > 0.04), with the stored settings (channel objective), seed 0.
    """
    out: dict = {"planted": {}, "toy": {}}
    bare = dict(jitter=0, scales=(1.0,), degrees=0.0)
    for name, extra in (("transforms", {}), ("no transforms", bare)):
        row = {}
        for shape in shapes.CLASSES:
            net = concepts.template_net(shape)
            v = fv.visualize(net, [("match", net)], 0, 0, objective="neuron",
                             **{**TOY, **PLANTED, **extra})
            centre = v.image[:, 16:49, 16:49]  # (3, 33, 33): the centre cell's field
            row[shape] = shapes.CLASSES[int(concepts.template_scores(centre, templates).argmax())]
        out["planted"][name] = row
    out["planted_settings"] = {**TOY, **PLANTED, "objective": "neuron"}
    for kind in ("gap", "vgg"):
        net = shapes.load_net(kind)
        iou = torch.tensor(nets[kind]["features.3"]["iou"])
        for channel in range(iou.shape[0]):
            best = int(iou[channel].argmax())
            if best >= len(shapes.CLASSES) or float(iou[channel, best]) <= dissect.DETECTOR_IOU:
                continue
            v = fv.visualize(net, toy_layers(net), 3, channel, **TOY)
            pref = shapes.CLASSES[int(concepts.template_scores(v.image, templates).argmax())]
            out["toy"][f"{kind}|{channel}"] = {"label": shapes.CLASSES[best], "preferred": pref}
    return out


def shapes_norm():
    return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def bundled_part(results: dict, images: dict) -> None:
    bundle = load_model("efficientnet_lite0", source="bundled", device="cpu")
    model, layers = bundle.model, bundle.feature_layers
    photos, names = patches.photo_batch(bundle)  # (6, 3, 224, 224)
    data = torch.nn.functional.interpolate(photos, size=BUNDLED["size"], mode="bilinear",
                                           antialias=True, align_corners=False)
    entries = []
    for layer in BUNDLED_LAYERS:
        acts = patches.layer_activations(model, layers, layer, photos, bundle.mean, bundle.std)
        channel = int(acts.mean(dim=(2, 3)).amax(dim=0).argmax())  # most active on some photo
        t0 = time.perf_counter()
        v = fv.visualize(model, layers, layer, channel, mean=bundle.mean, std=bundle.std, **BUNDLED)
        seconds = time.perf_counter() - t0
        images[cache.key(bundle.name, layer, channel)] = cache.to_uint8(v.image)
        image = cache.from_uint8(cache.to_uint8(v.image))
        entry = scores(model, layers, layer, channel, image, data, bundle.mean, bundle.std)
        entry.update(layer=layer, channel=channel, objective="channel", seconds=round(seconds, 1))
        entries.append(entry)
        print(layer, channel, entry)
    with torch.no_grad():
        cls = int(model(patches.normalize(photos[:1], bundle.mean, bundle.std)).argmax())  # the cat
    v = fv.visualize(model, None, None, cls, objective="class", mean=bundle.mean, std=bundle.std,
                     **BUNDLED)
    images[cache.key(bundle.name, "logits", cls)] = cache.to_uint8(v.image)
    image = cache.from_uint8(cache.to_uint8(v.image))
    entry = scores(model, layers, None, cls, image, data, bundle.mean, bundle.std, "class")
    entry.update(layer="logits", channel=cls, objective="class", category=bundle.categories[cls])
    entries.append(entry)
    print("class", cls, entry)
    results["bundled_fv"] = {"model": bundle.name, "photos": names, "data_size": BUNDLED["size"],
                             "settings": BUNDLED, "entries": entries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("all", "toy", "bundled"), default="all",
                    help="recompute one part and keep the other from the existing cache")
    part = ap.parse_args().part
    torch.set_num_threads(1)
    results: dict = {"torch": torch.__version__}
    images: dict = {}
    if part != "all":
        old, old_images = cache.load()
        results.update(old)
        images.update({k: cache.to_uint8(v) for k, v in old_images.items()})
    if part in ("all", "toy"):
        toy_part(results, images)
    if part in ("all", "bundled"):
        bundled_part(results, images)
    cache.save(results, images)
    print("wrote", cache.CACHE_DIR)


if __name__ == "__main__":
    main()
