"""The shapes toy world: generator determinism, ground truth, errors, and the shipped networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import cam
from helpers.toy import nets as shapenets
from helpers.toy import world as shapes

HELDOUT_SEED = 2  # never used by scripts/train_shapes.py (training seed 0, its held-out seed 1)


def _convex_hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Counter-clockwise convex hull of 2-D points (Andrew's monotone chain)."""
    pts = sorted(set(points))

    def half(seq):
        chain: list[tuple[int, int]] = []
        for p in seq:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return half(pts) + half(pts[::-1])


def _describe(mask: np.ndarray) -> tuple[float, float, bool]:
    """(fill, convexity, hole) of a mask, from its pixels only.

    fill = pixels / (pi R^2), R the largest centroid-to-pixel-corner distance;
    convexity = pixels / pixels of the digital convex hull (the pixels whose
    centres lie in the convex hull of the mask's pixel centres);
    hole = the centroid's pixel is not in the mask.
    """
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)])
    radius = np.hypot(corners[:, 0] - cx, corners[:, 1] - cy).max()
    hull = np.array(_convex_hull(list(zip(xs.tolist(), ys.tolist()))), dtype=float)  # (K, 2)
    gy, gx = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    edge = np.roll(hull, -1, axis=0) - hull  # (K, 2)
    cross = (edge[:, 0, None, None] * (gy - hull[:, 1, None, None])
             - edge[:, 1, None, None] * (gx - hull[:, 0, None, None]))  # (K, S, S)
    in_hull = (cross >= -1e-9).all(axis=0)
    area = float(mask.sum())
    return area / (np.pi * radius**2), area / float(in_hull.sum()), not mask[int(cy), int(cx)]


def _classify(mask: np.ndarray) -> str:
    """Name a mask's shape from its descriptors, with thresholds midway between ideal shapes.

    Ideal values, by hand: fill = 1 (circle), 2/pi = 0.64 (square), 1.92/pi = 0.61 (cross),
    1.32/pi = 0.42 (star), 3 sqrt(3)/(4 pi) = 0.41 (triangle); convexity = 1 for the convex
    shapes, 0.69 (cross) and 0.56 (star) otherwise; only the ring has a hole.
    """
    fill, convexity, hole = _describe(mask)
    if hole:
        return "ring"
    if convexity >= 0.85:  # midway between 1 and the cross's 0.69
        return "circle" if fill > 0.82 else "square" if fill > 0.52 else "triangle"
    return "cross" if fill > 0.52 else "star"


def test_classes_match_the_networks():
    assert len(shapes.CLASSES) == len(shapes.CLASS_NAMES_ZH) == shapenets.NUM_CLASSES == 6
    assert len(set(shapes.CLASSES)) == 6


@pytest.mark.parametrize("objects", [1, 2])
def test_batch_types_shapes_and_ranges(objects):
    b = shapes.make_batch(5, 3, objects=objects, size=48)
    assert b.images.dtype == torch.float32 and b.images.shape == (5, 3, 48, 48)
    assert b.labels.dtype == torch.int64 and b.labels.shape == (5, objects)
    assert b.masks.dtype == torch.bool and b.masks.shape == (5, objects, 48, 48)
    assert len(b) == 5
    assert 0.0 <= float(b.images.min()) and float(b.images.max()) <= 1.0
    assert ((0 <= b.labels) & (b.labels < 6)).all()


def test_same_seed_same_images_other_seed_other_images():
    a, b = shapes.make_batch(6, 7, objects=2), shapes.make_batch(6, 7, objects=2)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.equal(a.masks, b.masks)
    prefix = shapes.make_batch(3, 7, objects=2)  # image i depends on (seed, objects, size, i) only
    assert torch.equal(prefix.images, a.images[:3]) and torch.equal(prefix.masks, a.masks[:3])
    other = shapes.make_batch(6, 8, objects=2)
    assert not torch.equal(other.images, a.images)
    assert (other.images - a.images).abs().amax(dim=(1, 2, 3)).min() > 0.1  # every image differs


def test_masked_pixels_have_one_colour_that_stands_out():
    seed = 11
    b = shapes.make_batch(40, seed, objects=2)
    for i in range(len(b)):
        img = b.images[i].permute(1, 2, 0).numpy()  # (S, S, 3)
        for k in range(2):
            m = b.masks[i, k].numpy()
            assert m.sum() > 30, f"seed {seed} image {i}: object {k} has only {m.sum()} pixels"
            colours = img[m]  # (pixels, 3)
            assert np.ptp(colours, axis=0).max() == 0, f"seed {seed} image {i}: object {k}"
            # every pixel outside both masks (the background) is far from the shape's colour
            bg = img[~b.masks[i].any(0).numpy()]
            dist = np.linalg.norm(bg - colours[0], axis=1).min()
            assert dist >= 0.3, f"seed {seed} image {i}: background {dist:.3f} from object {k}"


def test_two_objects_are_distinct_classes_apart():
    seed = 12
    b = shapes.make_batch(60, seed, objects=2)
    assert (b.labels[:, 0] != b.labels[:, 1]).all()
    m0, m1 = b.masks[:, 0], b.masks[:, 1]
    assert not (m0 & m1).any()  # IoU 0
    # not even touching: grow object 0 by one pixel (8-neighbourhood)
    grown = torch.nn.functional.max_pool2d(m0[:, None].float(), 3, 1, 1)[:, 0] > 0
    touching = (grown & m1).flatten(1).any(1)
    assert not touching.any(), f"seed {seed}: images {torch.nonzero(touching).flatten().tolist()}"


@pytest.mark.parametrize("objects", [1, 2])
def test_each_mask_has_the_geometry_of_its_label(objects):
    """Classify each mask by hand-computed shape descriptors; they must agree with the labels."""
    seed = 13
    b = shapes.make_batch(60, seed, objects=objects)
    wrong = [(i, k, shapes.CLASSES[b.labels[i, k]], _classify(b.masks[i, k].numpy()))
             for i in range(len(b)) for k in range(objects)
             if _classify(b.masks[i, k].numpy()) != shapes.CLASSES[b.labels[i, k]]]
    assert not wrong, f"seed {seed}: (image, object, label, geometry) {wrong}"


def test_every_class_appears():
    labels = shapes.make_batch(120, 5).labels.flatten()
    assert torch.bincount(labels, minlength=6).min() >= 10


@pytest.mark.parametrize("kwargs, error, text", [
    ({"n": 0, "seed": 0}, ValueError, "n must be at least 1"),
    ({"n": -3, "seed": 0}, ValueError, "n must be at least 1"),
    ({"n": 2.5, "seed": 0}, TypeError, "n must be an integer"),
    ({"n": 2, "seed": -1}, ValueError, "seed must be at least 0"),
    ({"n": 2, "seed": 0, "objects": 3}, ValueError, "objects must be 1 or 2"),
    ({"n": 2, "seed": 0, "objects": 0}, ValueError, "objects must be 1 or 2"),
    ({"n": 2, "seed": 0, "size": 16}, ValueError, "size must be at least 32"),
])
def test_bad_arguments_are_refused(kwargs, error, text):
    with pytest.raises(error, match=text):
        shapes.make_batch(**kwargs)


def test_bad_kind_missing_file_and_wrong_net(tmp_path):
    with pytest.raises(ValueError, match="unknown shapes network 'resnet'"):
        shapes.load_net("resnet")
    with pytest.raises(FileNotFoundError, match="scripts/train_shapes.py"):
        shapes.load_net("gap", directory=tmp_path)
    with pytest.raises(TypeError, match="CAM does not apply — use Grad-CAM"):
        shapes.class_weights(shapenets.ShapesVGG())
    with pytest.raises(TypeError, match="expected a shapes network"):
        shapes.target_layer(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("kind", shapenets.KINDS)
def test_shipped_weights_load_safely(kind):
    state = torch.load(shapenets.MODEL_DIR / f"shapes_{kind}.pt", weights_only=True)
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())
    net = shapes.load_net(kind)
    assert not net.training
    assert all(p.device.type == "cpu" for p in net.parameters())


@pytest.fixture(scope="module")
def heldout():
    return shapes.make_batch(300, HELDOUT_SEED)


@pytest.mark.parametrize("kind", ["vgg", "gap"])
def test_shipped_networks_reach_98_percent_on_fresh_images(kind, heldout):
    with torch.no_grad():
        pred = shapes.load_net(kind)(heldout.images).argmax(dim=1)  # (N,)
    acc = float((pred == heldout.labels[:, 0]).float().mean())
    assert acc >= 0.98, f"{kind}: held-out accuracy {acc:.3f} on seed {HELDOUT_SEED}"


def test_shuffled_label_network_is_near_chance(heldout):
    with torch.no_grad():
        pred = shapes.load_net("vgg_shuffled")(heldout.images).argmax(dim=1)
    acc = float((pred == heldout.labels[:, 0]).float().mean())
    assert acc < 0.35, f"vgg_shuffled: held-out accuracy {acc:.3f} (chance 0.167)"


def test_target_layer_is_what_global_average_pooling_reads():
    net = shapes.load_net("gap")
    x = shapes.make_batch(4, HELDOUT_SEED).images
    acts = {}
    handle = shapes.target_layer(net).register_forward_hook(lambda m, i, o: acts.update(a=o))
    try:
        with torch.no_grad():
            logits = net(x)
    finally:
        handle.remove()
    assert acts["a"].shape == (4, 32, 8, 8)
    by_hand = acts["a"].mean(dim=(2, 3)) @ shapes.class_weights(net).T + net.fc.bias
    torch.testing.assert_close(logits, by_hand, rtol=1e-5, atol=1e-5)


def test_gap_net_cam_equals_grad_cam_up_to_a_positive_constant():
    """On a GAP + linear head, Grad-CAM's alpha_k = W[c, k] / (h w): the maps agree."""
    net = shapes.load_net("gap")
    b = shapes.make_batch(3, HELDOUT_SEED, objects=2)
    layer, weights = shapes.target_layer(net), shapes.class_weights(net)
    for i in range(3):
        for c in b.labels[i].tolist():
            x = b.images[i:i + 1]
            by_weights = cam.class_weight_cam(net, layer, weights, x, class_idx=c)
            by_grads = cam.grad_cam(net, layer, x, class_idx=c)
            assert by_weights.raw.abs().max() > 0.1  # not a trivially flat map
            # the constant is h * w = 8 * 8 = 64 (positive: the maps agree after ReLU + min-max)
            torch.testing.assert_close(by_grads.raw * 64, by_weights.raw, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(by_grads.cam, by_weights.cam, atol=1e-5)
    assert not net._forward_hooks and not layer._forward_hooks
