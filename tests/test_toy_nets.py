"""The shipped toy nets of known reasoning and the ``vgg`` head variants (data/models/)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from helpers import cam
from helpers.toy import nets as shapenets, world as shapes
from helpers.toy import markers, variants
from helpers.trust import reliance

HELDOUT_SEED = 2  # never used by the training scripts (training seed 0, their held-out seed 1)


@pytest.fixture(scope="module")
def linear_net() -> torch.nn.Module:
    return variants.load_toy_net("vgg_linear")


def test_shipped_files_are_the_recorded_ones():
    for kind, digest in variants.WEIGHT_SHA256.items():
        data = (shapenets.MODEL_DIR / f"{kind}.pt").read_bytes()
        assert hashlib.sha256(data).hexdigest().startswith(digest), kind


def test_flat_variant_with_pool_and_hidden_is_vgg_layer_for_layer():
    vgg, flat = shapenets.ShapesVGG(), variants.ShapesFlat(pool=True, hidden=128)
    assert [type(m) for m in vgg.modules()][1:] == [type(m) for m in flat.modules()][1:]
    assert {k: v.shape for k, v in vgg.state_dict().items()} == \
        {k: v.shape for k, v in flat.state_dict().items()}
    assert isinstance(variants.build_toy_net("marker_hans"), shapenets.ShapesGAP)
    with pytest.raises(ValueError, match="unknown toy network"):
        variants.build_toy_net("vgg")


def test_hires_cam_decomposes_the_logit_of_the_one_linear_head(linear_net):
    """sum of HiRes-CAM's map before ReLU + bias = logit, every class of 20 images."""
    x = shapes.make_batch(20, HELDOUT_SEED).images
    with torch.no_grad():
        logits = linear_net(x)  # (20, 6), from the forward pass alone
    bias = linear_net.classifier[-1].bias.detach()
    for y in range(6):
        res = cam.hires_cam(linear_net, shapes.target_layer(linear_net), x, [y] * 20)
        total = torch.as_tensor(res.raw).sum(dim=(1, 2)) + bias[y]  # (20,)
        torch.testing.assert_close(total, logits[:, y], atol=1e-4, rtol=0)


def test_grad_cam_weights_of_the_one_linear_head_are_the_mean_weights(linear_net):
    x = shapes.make_batch(3, HELDOUT_SEED).images
    w = linear_net.classifier[-1].weight.detach().view(6, 32, 8, 8)
    for y in (0, 5):
        res = cam.grad_cam(linear_net, shapes.target_layer(linear_net), x, [y] * 3)
        torch.testing.assert_close(torch.as_tensor(res.weights),
                                   w[y].mean(dim=(1, 2)).expand(3, 32), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", list(variants.HEADS))
def test_head_variants_classify_held_out_shapes(kind):
    b = shapes.make_batch(300, HELDOUT_SEED)
    pred = shapenets.predict_classes(variants.load_toy_net(kind), b.images)[:, 0]
    assert float((pred == b.labels[:, 0]).float().mean()) >= 0.98


@pytest.fixture(scope="module")
def tables() -> dict:
    w = markers.make_marker_batch(200, HELDOUT_SEED, agree=True)
    return {k: reliance.reliance_table(variants.load_toy_net(k), w.images, w.shape_labels,
                                       w.shape_masks, w.marker_masks) for k in variants.MARKER_NETS}


def test_clever_hans_net_needs_the_marker_and_not_the_shape(tables):
    t = tables["marker_hans"]
    assert t["original"]["accuracy"] >= 0.98 and t["control"]["accuracy"] >= 0.98
    assert t["no shape"]["accuracy"] >= 0.98
    assert t["no marker"]["accuracy"] <= 0.35
    assert reliance.used_regions(t) == ["marker"]


def test_shape_net_needs_the_shape_and_not_the_marker(tables):
    t = tables["marker_shape"]
    assert t["original"]["accuracy"] >= 0.98 and t["control"]["accuracy"] >= 0.95
    assert t["no marker"]["accuracy"] >= 0.95
    assert t["no shape"]["accuracy"] <= 0.35
    assert reliance.used_regions(t) == ["shape"]


@pytest.mark.parametrize("kind,label", [("marker_shape", "shape"), ("marker_hans", "marker")])
def test_marker_nets_learn_their_own_task(kind, label):
    b = markers.make_marker_batch(300, HELDOUT_SEED, agree=False)
    y = b.marker_labels if label == "marker" else b.shape_labels
    pred = shapenets.predict_classes(variants.load_toy_net(kind), b.images)[:, 0]
    assert float((pred == y).float().mean()) >= 0.98
