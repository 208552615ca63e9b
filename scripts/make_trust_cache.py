"""Compute the heavy part of notebook 09_ext_trust (拓展：热力图可信吗？) once, for the notebook to read.

* Every real photo the course ships (``helpers.list_images(extra=True)`` minus the composite
  ``cat_and_cup``: ten photos), the bundled EfficientNet-Lite0, its top-1 class:
  every registered method's map (``cam.METHODS`` and ``attribution.ATTRIBUTIONS``, with the
  options below) plus the random, centre and Sobel baselines, and the seconds each map took;
  deletion (grey substrate) and insertion (blur) AUCs of every map; for the core methods
  and the baselines also deletion with the image's mean colour, the blur and ROAD's noisy
  linear imputation, the curves, and the deletion curve of the logit;
  cascading randomization of Grad-CAM, saliency and Guided Backprop (Spearman with the
  trained map and with the image's Sobel map at a few steps).
* 200 held-out toy images (``shapes.make_batch(200, seed=3)``), the ``vgg`` toy net: the
  core methods, XGrad-CAM and HiRes-CAM and the baselines, per-image deletion AUCs
  (mean colour, blur, ROAD) and insertion AUCs (blur).

Writes data/trust/faithfulness.json (settings and numbers, no pictures).
Run: ``CH9_MODEL_SOURCE=bundled python scripts/make_trust_cache.py`` (about half an hour on a
busy 2-core CPU; ``--part photos`` or ``--part toy`` redoes one part). The notebook recomputes
a stated subset live and asserts that it matches.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import time
from pathlib import Path

import numpy as np
import torch

from helpers import attribution, cam, list_images, load_image, load_model, registry
from helpers.toy import world as shapes
from helpers.trust import baselines, faithfulness, imputation, sanity

OUT = Path(__file__).resolve().parent.parent / "data" / "trust" / "faithfulness.json"
SETTINGS = {
    "steps": 10,
    "core": ["grad_cam", "layer_cam", "saliency", "integrated_gradients", "occlusion"],
    "baselines": ["random", "centre", "sobel"],
    "photo_options": {"score_cam": {"max_channels": 16}, "smoothgrad": {"samples": 8},
                      "integrated_gradients": {"steps": 16},
                      "occlusion": {"window": 32, "stride": 32}},
    "toy_options": {"score_cam": {"max_channels": 32}, "smoothgrad": {"samples": 8},
                    "integrated_gradients": {"steps": 16}, "occlusion": {"window": 8, "stride": 8}},
    "toy": {"n": 200, "seed": 3, "net": "vgg", "extra": ["xgrad_cam", "hires_cam"]},
    "road_noise": 0.01,
    "cascade_steps": ["classifier", "conv_head", "blocks.5", "blocks.2", "conv_stem"],
    "cascade_methods": ["grad_cam", "saliency", "guided_backprop"],
}
PHOTOS = [n for n in list_images(extra=True) if n != "cat_and_cup"]


def one_map(name: str, model, layer, x, cls, options: dict) -> np.ndarray:
    """The map of one registered method (CAM family or pixel attribution). Shapes: -> (N, H, W)."""
    return np.asarray(registry.explain(name, model, x, cls, layer=layer, **options.get(name, {})).maps,
                      dtype=np.float32)  # one signature for both families: helpers.registry



def baseline_maps(x) -> dict[str, np.ndarray]:
    """random, centre and Sobel maps of each image. Shapes: x (N, 3, H, W) -> (N, H, W) each."""
    n, hw = x.shape[0], tuple(x.shape[-2:])
    return {"random": np.stack([baselines.random_map(hw, seed=i) for i in range(n)]),
            "centre": np.stack([baselines.centre_map(hw)] * n),
            "sobel": np.stack([baselines.sobel_map(x[i:i + 1]) for i in range(n)])}


def photo_part(photos: list[str]) -> None:
    """Compute each photo and merge it into the file at once (several processes may share the list)."""
    torch.set_num_threads(1)
    bundle = load_model("efficientnet_lite0", source="bundled")
    model, layer = bundle.model, bundle.gradcam_layer
    steps, core = SETTINGS["steps"], SETTINGS["core"] + SETTINGS["baselines"]
    names = list(cam.METHODS) + list(attribution.ATTRIBUTIONS)
    for photo in photos:
        t0 = time.perf_counter()
        x = bundle.to_input(load_image(photo))  # (1, 3, 224, 224)
        with torch.no_grad():
            p = model(x).softmax(dim=1)[0]
        c = int(p.argmax())
        maps, seconds = {}, {}
        for name in names:
            t = time.perf_counter()
            maps[name] = one_map(name, model, layer, x, c, SETTINGS["photo_options"])[0]
            seconds[name] = time.perf_counter() - t
        maps |= {k: v[0] for k, v in baseline_maps(x).items()}
        rec = {"class": c, "label": bundle.categories[c], "prob": float(p[c]), "seconds": seconds,
               "auc": {}, "substrate": {}, "curves": {}}
        for name, m in maps.items():
            d = faithfulness.deletion_curve(model, x, m, c, steps=steps)
            i = faithfulness.insertion_curve(model, x, m, c, steps=steps)
            rec["auc"][name] = {"deletion": d.auc, "insertion": i.auc}
            if name in core:
                dm = faithfulness.deletion_curve(model, x, m, c, steps=steps, substrate="mean")
                db = faithfulness.deletion_curve(model, x, m, c, steps=steps, substrate="blur")
                dr = imputation.imputed_deletion_curve(model, x, m, c, steps=steps,
                                                       noise=SETTINGS["road_noise"])
                dz = faithfulness.deletion_curve(model, x, m, c, steps=steps, score="logit")
                rec["substrate"][name] = {"grey": d.auc, "mean": dm.auc, "blur": db.auc,
                                          "road": dr.auc}
                rec["curves"][name] = {"deletion": d.probs.tolist(), "insertion": i.probs.tolist(),
                                       "deletion_logit": dz.probs.tolist()}
        rec["cascade"] = cascade(model, bundle, x, c, maps)
        save("photos", {photo: rec})
        print(f"{photo}: {bundle.categories[c]} ({float(p[c]):.3f}), "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


def cascade(model, bundle, x, c, maps) -> dict:
    """Spearman of each method's map after each listed step with the trained map, Sobel and centre."""
    sobel, centre = maps["sobel"], maps["centre"]
    res = {k: {"trained_sobel": sanity.spearman(maps[k], sobel),
               "trained_centre": sanity.spearman(maps[k], centre),
               "rho": [], "rho_sobel": [], "rho_centre": []}
           for k in SETTINGS["cascade_methods"]}
    wanted = set(SETTINGS["cascade_steps"])
    for block, rnd in sanity.cascading_randomization(model, seed=0):
        if block not in wanted:
            continue
        rl = rnd.get_submodule(bundle.gradcam_layer_name)
        for k in SETTINGS["cascade_methods"]:
            m = one_map(k, rnd, rl, x, c, SETTINGS["photo_options"])[0]
            res[k]["rho"].append(sanity.spearman(maps[k], m))
            res[k]["rho_sobel"].append(sanity.spearman(m, sobel))
            res[k]["rho_centre"].append(sanity.spearman(m, centre))
    return res


def cascade_part(photos: list[str]) -> None:
    """Redo only the cascading randomization of each photo, keeping its other numbers."""
    torch.set_num_threads(1)
    bundle = load_model("efficientnet_lite0", source="bundled")
    model, layer = bundle.model, bundle.gradcam_layer
    for photo in photos:
        rec = json.loads(OUT.read_text())["photos"][photo]
        x = bundle.to_input(load_image(photo))
        maps = {k: one_map(k, model, layer, x, rec["class"], SETTINGS["photo_options"])[0]
                for k in SETTINGS["cascade_methods"]}
        maps |= {k: v[0] for k, v in baseline_maps(x).items()}
        rec["cascade"] = cascade(model, bundle, x, rec["class"], maps)
        save("photos", {photo: rec})
        print(f"{photo}: cascade redone", flush=True)


def toy_part() -> dict:
    torch.set_num_threads(1)
    cfg, steps = SETTINGS["toy"], SETTINGS["steps"]
    net = shapes.load_net(cfg["net"])
    layer = shapes.target_layer(net)
    batch = shapes.make_batch(cfg["n"], seed=cfg["seed"], objects=1)
    x, y = batch.images, batch.labels[:, 0].tolist()
    maps = {k: one_map(k, net, layer, x, y, SETTINGS["toy_options"])
            for k in SETTINGS["core"] + cfg["extra"]}
    maps |= baseline_maps(x)
    out = {"auc": {}}
    for name, m in maps.items():
        rows = {"deletion_mean": [], "deletion_blur": [], "deletion_road": [], "insertion": []}
        for i in range(len(y)):
            xi = x[i:i + 1]
            rows["deletion_mean"].append(faithfulness.deletion_curve(
                net, xi, m[i], y[i], steps=steps, substrate="mean").auc)
            rows["deletion_blur"].append(faithfulness.deletion_curve(
                net, xi, m[i], y[i], steps=steps, substrate="blur").auc)
            rows["deletion_road"].append(imputation.imputed_deletion_curve(
                net, xi, m[i], y[i], steps=steps, noise=SETTINGS["road_noise"]).auc)
            rows["insertion"].append(faithfulness.insertion_curve(net, xi, m[i], y[i],
                                                                  steps=steps).auc)
        out["auc"][name] = rows
        print(f"toy {name} done", flush=True)
    return out


def rounded(obj):
    """Floats to 6 decimals, recursively (the file stays small; the notebook compares at 1e-4)."""
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return obj


def save(key: str, value: dict) -> None:
    """Merge ``value`` into the file's ``key`` under a lock (the parts may run in parallel)."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(OUT.read_text()) if OUT.exists() else {}
        data["settings"], data["photos_order"] = SETTINGS, PHOTOS
        data[key] = data.get(key, {}) | rounded(value)
        OUT.write_text(json.dumps(data, indent=0, ensure_ascii=False))
    print("wrote", key, "to", OUT, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("all", "photos", "toy", "settings", "cascade"),
                    default="all", help="settings: only rewrite the settings and the photo list; "
                    "cascade: only redo the photos' cascading randomization")
    ap.add_argument("--photos", nargs="*", default=PHOTOS, help="a subset of the photos")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.part in ("all", "toy"):
        save("toy", toy_part())
    if args.part in ("all", "photos"):
        photo_part(args.photos)
    if args.part == "cascade":
        cascade_part(args.photos)
    if args.part == "settings":
        save("photos", {})


if __name__ == "__main__":
    main()
