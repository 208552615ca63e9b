"""helpers.cam.METHODS against pytorch-grad-cam, hand-written computations, and the hook rules.

pytorch-grad-cam (``pytorch_grad_cam``) is the peer: each of our methods is run
next to its class of the same name on tiny seeded nets (a GAP + linear net and a
VGG-like flatten + FC net) and on the bundled EfficientNet-Lite0. Where the two
definitions are the same, the raw map (before ReLU), the channel weights and the
final map agree to float32 rounding; pytorch-grad-cam upsamples with OpenCV and
adds ``1e-7`` to the min-max range, hence ``atol`` on the maps. Where they differ
(only Score-CAM's mask upsampling and our channel cap), the test says so and
compares what is comparable.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import attribution, cam, registry
from helpers.hooks import count_hooks
from peers import require

pgc = require("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

PEERS = {"grad_cam": pgc.GradCAM, "grad_cam_pp": pgc.GradCAMPlusPlus, "xgrad_cam": pgc.XGradCAM,
         "hires_cam": pgc.HiResCAM, "layer_cam": pgc.LayerCAM, "score_cam": pgc.ScoreCAM}
CHANNEL_METHODS = ("grad_cam", "grad_cam_pp", "xgrad_cam", "score_cam")  # weights (N, C)
CLASSES = [1, 3, 4]


def peer(name, model, layer, x, classes, reshape=None):
    """pytorch-grad-cam's maps ``(N, H, W)``, and its raw map and weights as it computed them."""
    ext = PEERS[name](model=model, target_layers=[layer], reshape_transform=reshape)
    seen: dict[str, np.ndarray] = {}
    get_weights, get_image = ext.get_cam_weights, ext.get_cam_image
    ext.get_cam_weights = lambda *a: seen.setdefault("weights", get_weights(*a))
    ext.get_cam_image = lambda *a: seen.setdefault("raw", get_image(*a))
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            maps = ext(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])
    finally:
        ext.activations_and_grads.release()
        model.zero_grad(set_to_none=True)  # it calls backward(): parameter grads pile up
    assert count_hooks(model) == 0
    return maps, {k: torch.from_numpy(np.asarray(v)).float() for k, v in seen.items()}


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def same_upsampling(monkeypatch):
    """Make pytorch-grad-cam's Score-CAM upsample its masks as the Score-CAM authors' code and
    ours do (bilinear, ``align_corners=False``) instead of ``UpsamplingBilinear2d``
    (``align_corners=True``): then only its ``1e-8`` in the mask min-max differs."""

    class Upsample(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.size = size

        def forward(self, t):
            return F.interpolate(t, size=self.size, mode="bilinear", align_corners=False)

    monkeypatch.setattr(pgc.score_cam.torch.nn, "UpsamplingBilinear2d", Upsample)


def check_against_peer(name, model, layer, x, classes, reshape=None, **options):
    res = cam.METHODS[name](model, layer, x, classes, reshape=reshape, **options)
    maps, seen = peer(name, model, layer, x, classes, reshape)
    scale = res.raw.abs().max()
    assert torch.allclose(res.raw, seen["raw"], rtol=1e-4, atol=1e-5 * scale), name
    if name in CHANNEL_METHODS:
        w = seen["weights"]
        assert torch.allclose(res.weights, w, rtol=1e-4, atol=1e-5 * w.abs().max()), name
    assert res.cam.shape == maps.shape
    np.testing.assert_allclose(res.cam, maps, atol=2e-4, err_msg=name)
    assert min(corr(a, b) for a, b in zip(res.cam, maps)) >= 0.99
    return res


# ------------------------------------------------------------- peer library ---


@pytest.mark.parametrize("name", list(PEERS))
@pytest.mark.parametrize("net, layer", [("tiny_net", "features.6"), ("tiny_net", "features.4"),
                                        ("tiny_vgg", "features.4")])
def test_every_method_matches_pytorch_grad_cam_on_tiny_nets(name, net, layer, batch, request,
                                                            same_upsampling):
    model = request.getfixturevalue(net)
    check_against_peer(name, model, model.get_submodule(layer), batch, CLASSES)


def test_score_cam_mask_upsampling_is_the_only_difference(tiny_vgg, batch):
    """Unpatched, pytorch-grad-cam's align_corners=True masks move the weights a little."""
    res = cam.score_cam(tiny_vgg, tiny_vgg.features[4], batch, CLASSES)
    maps, seen = peer("score_cam", tiny_vgg, tiny_vgg.features[4], batch, CLASSES)
    assert min(corr(a, b) for a, b in zip(res.cam, maps)) >= 0.99
    assert torch.allclose(res.weights, seen["weights"], atol=0.05 * seen["weights"].max())


def test_methods_match_pytorch_grad_cam_on_the_bundled_model(bundle, same_upsampling):
    from helpers import load_image

    x = bundle.to_input(load_image("cat"))  # (1, 3, 224, 224)
    model, layer = bundle.model, bundle.gradcam_layer
    c = int(model(x).argmax())
    for name in PEERS:
        if name == "score_cam":
            continue
        check_against_peer(name, model, layer, x, [c])
    # Score-CAM with a cap of 6 channels (of 1280, to keep this test short): pytorch-grad-cam
    # has no cap, so it gets the same 6 maps through its reshape_transform (and our mask
    # upsampling, see same_upsampling).
    res = cam.score_cam(model, layer, x, [c], max_channels=6)
    keep = res.weights[0].nonzero()[:, 0]
    assert len(keep) == 6
    maps, seen = peer("score_cam", model, layer, x, [c], reshape=lambda a: a[:, keep])
    assert torch.allclose(res.weights[:, keep], seen["weights"], rtol=1e-3, atol=1e-6)
    assert corr(res.cam, maps) >= 0.99
    assert count_hooks(model) == 0 and all(p.grad is None for p in model.parameters())


# ------------------------------------------------------- hand computations ---


def test_single_image_grad_cam_is_bit_for_bit_the_hand_written_one(tiny_net, tiny_input):
    """The (1, 3, H, W) path gives today's numbers exactly: split the net, autograd.grad."""
    for k in (4, 6):
        a = tiny_net.features[: k + 1](tiny_input)  # (1, C, h, w)
        leaf = a.detach().requires_grad_(True)
        rest = tiny_net.features[k + 1:](leaf.clone())
        logits = tiny_net.fc(torch.flatten(tiny_net.pool(rest), 1))
        (g,) = torch.autograd.grad(logits[0, 2], leaf)
        alpha = g[0].mean(dim=(1, 2))  # (C,)
        raw = torch.einsum("k,khw->hw", alpha, leaf[0].detach())  # (h, w)
        up = F.interpolate(F.relu(raw)[None, None], size=(32, 32), mode="bilinear",
                           align_corners=False)[0, 0]
        expected = ((up - up.min()) / (up.max() - up.min())).clamp(0, 1).detach().numpy()
        res = cam.grad_cam(tiny_net, tiny_net.features[k], tiny_input, 2)
        assert isinstance(res.class_idx, int) and res.cam.shape == (32, 32)
        assert torch.equal(res.weights, alpha) and torch.equal(res.raw, raw.detach())
        np.testing.assert_array_equal(res.cam, expected)
        assert torch.equal(res.probs, logits[0].detach().softmax(0))


def test_score_cam_equals_hand_written_loop(tiny_net, batch):
    layer = tiny_net.features[6]
    with torch.no_grad():
        acts = tiny_net.features(batch.clone())  # (N, 16, 16, 16)
        for max_channels in (None, 5):
            res = cam.score_cam(tiny_net, layer, batch, CLASSES, max_channels=max_channels)
            for i, c in enumerate(CLASSES):
                keep = range(16) if max_channels is None else \
                    acts[i].flatten(1).var(dim=1).topk(max_channels).indices.tolist()
                scores = []
                for k in keep:
                    up = F.interpolate(acts[i, k][None, None], size=(32, 32), mode="bilinear",
                                       align_corners=False)
                    span = up.max() - up.min()
                    mask = (up - up.min()) / span if span > 0 else torch.zeros_like(up)
                    scores.append(tiny_net(batch[i:i + 1] * mask)[0, c])
                w = torch.zeros(16)
                w[list(keep)] = torch.stack(scores).softmax(0)
                assert torch.allclose(res.weights[i], w, atol=1e-6), (max_channels, i)


def test_grad_cam_is_cam_up_to_a_positive_constant_on_gap_linear(tiny_net, batch):
    layer = tiny_net.features[6]  # the map that the pooling reads, (N, 16, 16, 16)
    g = cam.grad_cam(tiny_net, layer, batch, CLASSES)
    w = cam.class_weight_cam(tiny_net, layer, tiny_net.fc.weight, batch, CLASSES)
    assert torch.allclose(w.raw, g.raw * 16 * 16, atol=1e-5)  # the constant is h*w
    np.testing.assert_allclose(w.cam, g.cam, atol=1e-4)


def test_layer_cam_and_hires_cam_weights_are_per_activation(tiny_vgg, tiny_input):
    layer = tiny_vgg.features[4]
    h = cam.hires_cam(tiny_vgg, layer, tiny_input, 0)
    lc = cam.layer_cam(tiny_vgg, layer, tiny_input, 0)
    g = cam.grad_cam(tiny_vgg, layer, tiny_input, 0)
    assert h.weights.shape == lc.weights.shape == (12, 16, 16)
    assert torch.equal(lc.weights, h.weights.clamp(min=0))  # ReLU of the gradient
    assert torch.allclose(h.weights.mean(dim=(1, 2)), g.weights, atol=1e-7)  # Grad-CAM's alpha


def test_a_new_method_is_one_registered_weight_function(tiny_vgg, batch):
    def mean_activation(p):  # "weight each map by its own mean", gradients not needed
        assert p.grads is None
        return p.acts.mean(dim=(2, 3))  # (N, C)

    try:
        method = cam.register("mean_act_test", mean_activation, gradients=False)
        assert cam.METHODS["mean_act_test"] is method
        res = method(tiny_vgg, tiny_vgg.features[4], batch, CLASSES)
        with pytest.raises(ValueError, match="already registered"):
            cam.register("grad_cam", mean_activation)
    finally:
        cam.METHODS.pop("mean_act_test", None)
    with torch.no_grad():
        acts = tiny_vgg.features[:5](batch.clone())  # (N, 12, 16, 16)
    expected = (acts.mean(dim=(2, 3))[:, :, None, None] * acts).sum(dim=1)  # (N, h, w)
    assert torch.allclose(res.raw, expected, atol=1e-5)
    assert count_hooks(tiny_vgg) == 0


# --------------------------------------------------------------- batches ---


@pytest.mark.parametrize("name", list(cam.METHODS))
def test_batch_gives_each_image_its_own_map(name, tiny_vgg, batch):
    layer = tiny_vgg.features[4]
    uses_class = registry.get(name).uses_class  # Eigen-CAM: targets None, the same map
    want = (lambda cs: list(cs)) if uses_class else (lambda cs: [None] * len(cs))
    res = cam.METHODS[name](tiny_vgg, layer, batch, CLASSES)
    assert res.cam.shape == (3, 32, 32) and res.raw.shape == (3, 16, 16)
    assert res.class_idx == want(CLASSES) and res.probs.shape == (3, 5)
    for i, one in enumerate(res.per_image()):
        single = cam.METHODS[name](tiny_vgg, layer, batch[i:i + 1], CLASSES[i])
        assert single.class_idx == one.class_idx == want(CLASSES)[i]
        assert one.maps.shape == single.maps.shape == (1, 32, 32)  # [i] keeps the batch axis
        np.testing.assert_allclose(one.cam, single.cam, atol=1e-5)
        if "weights" in one.extras:
            assert torch.allclose(one.weights, single.weights, rtol=1e-4, atol=1e-6)
    top = cam.METHODS[name](tiny_vgg, layer, batch)  # None: each image's top-1 class
    assert top.class_idx == want(tiny_vgg(batch).argmax(1).tolist())
    same = cam.METHODS[name](tiny_vgg, layer, batch, 2)  # one int: for every image
    assert same.class_idx == want([2, 2, 2])
    one = cam.METHODS[name](tiny_vgg, layer, batch[:1], [2])  # a list keeps the batch axis
    assert one.cam.shape == (1, 32, 32) and one.class_idx == want([2])


class TinyTokenNet(nn.Module):
    """Transformer-like: 4x4 patches as 64 tokens plus a class token, a token-wise block."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)  # (N, 8, 8, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.block = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8), nn.GELU())
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x).flatten(2).transpose(1, 2)  # (N, 64, 8)
        t = self.block(torch.cat([self.cls.expand(len(t), -1, -1), t], dim=1))  # (N, 65, 8)
        return self.head(t[:, 1:].mean(dim=1) + t[:, 0])


def tokens_to_maps(t: torch.Tensor) -> torch.Tensor:
    return t[:, 1:].reshape(len(t), 8, 8, -1).permute(0, 3, 1, 2)  # (N, 8, 8, 8)


def test_non_spatial_layer_needs_reshape(batch):
    torch.manual_seed(0)
    net = TinyTokenNet().eval()
    with pytest.raises(ValueError, match=r"\(3, 65, 8\).*reshape="):
        cam.grad_cam(net, net.block, batch)
    with pytest.raises(ValueError, match="reshape turned"):
        cam.grad_cam(net, net.block, batch, reshape=lambda t: t)
    assert count_hooks(net) == 0
    for name in ("grad_cam", "layer_cam"):
        res = check_against_peer(name, net, net.block, batch, CLASSES, reshape=tokens_to_maps)
        assert res.raw.shape == (3, 8, 8)


# --------------------------------------------------------- errors, hygiene ---


def test_bad_requests_get_clear_errors(tiny_net, batch):
    with pytest.raises(KeyError, match="unknown CAM method 'gradcam'.*grad_cam, grad_cam_pp"):
        cam.METHODS["gradcam"]
    with pytest.raises(KeyError, match="known: grad_cam"):
        cam.METHODS["saliency"]  # registered, but an attribution
    with pytest.raises(registry.UnknownMethodError, match="unknown method 'gradcam'.*saliency"):
        registry.get("gradcam")  # one error type for both families, a ValueError too
    with pytest.raises(ValueError, match="unknown attribution method 'grad_cam'"):
        attribution.ATTRIBUTIONS["grad_cam"]
    with pytest.raises(ValueError, match="2 entries but x holds 3 images"):
        cam.grad_cam_pp(tiny_net, tiny_net.features[6], batch, [1, 2])
    with pytest.raises(TypeError, match="integer"):
        cam.xgrad_cam(tiny_net, tiny_net.features[6], batch, [1, 2.0, 3])
    with pytest.raises(ValueError, match="max_channels"):
        cam.score_cam(tiny_net, tiny_net.features[6], batch, max_channels=0)
    assert count_hooks(tiny_net) == 0


# The hook and parameter battery of every registered method: tests/test_registry.py.
