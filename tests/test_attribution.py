"""Pixel attributions against captum, hand-computed cases, batches, and the no-trace rules."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import attribution as attr
from helpers import load_image
from helpers.attribution.guided import guided_relus
from helpers.hooks import count_hooks
from peers import require

captum_attr = require("captum.attr")

LAYER = "features.6"  # TinyGapNet's last ReLU, (N, 16, 16, 16)


def seeded(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def not_inplace(model: nn.Module) -> nn.Module:
    """A copy whose ReLUs are out of place: captum's module backward hooks need it."""
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            m.inplace = False
    return twin


def state_of(model: nn.Module) -> list:
    """Parameter values, requires_grad, .grad and module types: all must survive a call."""
    return ([p.detach().clone() for p in model.parameters()],
            [p.requires_grad for p in model.parameters()],
            [p.grad for p in model.parameters()],
            [type(m) for m in model.modules()])


def assert_same_state(model: nn.Module, before: list) -> None:
    after = state_of(model)
    assert all(torch.equal(a, b) for a, b in zip(before[0], after[0]))
    assert before[1:] == after[1:] and all(g is None for g in after[2])
    assert count_hooks(model) == 0


@pytest.fixture
def batch() -> torch.Tensor:
    return seeded(2, 3, 3, 32, 32)  # three images


# ------------------------------------------------------- against captum ---


def test_saliency_matches_captum(tiny_net, batch):
    classes = [0, 3, 1]
    ours = attr.saliency(tiny_net, batch, classes)
    ref = captum_attr.Saliency(tiny_net).attribute(batch, target=classes, abs=False)
    torch.testing.assert_close(ours.raw, ref, atol=1e-6, rtol=1e-5)
    ref_abs = captum_attr.Saliency(tiny_net).attribute(batch, target=classes)  # |grad|
    m = ref_abs.amax(dim=1)  # captum's own abs, max over colours, min-max per image
    lo, hi = m.amin(dim=(1, 2), keepdim=True), m.amax(dim=(1, 2), keepdim=True)
    np.testing.assert_allclose(ours.map, ((m - lo) / (hi - lo)).numpy(), atol=1e-5)
    assert ours.class_idx == classes and ours.reduction == "max_abs"
    assert repr(ours) == ("Explanation(method='saliency', targets=[0, 3, 1], maps (3, 32, 32), "
                          "raws (3, 3, 32, 32), extras [], settings {'reduction': 'max_abs'})")


@pytest.mark.parametrize("seed", [0, 7])
def test_smoothgrad_matches_captum_noise_tunnel_with_the_same_seed(tiny_net, seed):
    x = seeded(5, 2, 3, 32, 32).clamp(-2, 2)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = -2.0, 2.0  # both images span [-2, 2]: one sigma for both
    ours = attr.smoothgrad(tiny_net, x, [1, 4], samples=6, noise_level=0.2, seed=seed,
                           batch_size=4)  # chunks that cut across images
    torch.manual_seed(seed)
    nt = captum_attr.NoiseTunnel(captum_attr.Saliency(tiny_net))
    ref = nt.attribute(x, nt_type="smoothgrad", nt_samples=6, stdevs=0.2 * 4.0, target=[1, 4],
                       abs=False)
    torch.testing.assert_close(ours.raw, ref, atol=1e-5, rtol=1e-4, msg=f"seed {seed}")
    assert ours.info["sigma"] == pytest.approx([0.8, 0.8])
    plain = attr.saliency(tiny_net, x, [1, 4]).raw
    assert (ours.raw - plain).abs().max() > 0.1 * plain.abs().max()  # the noise did something


def test_guided_backprop_matches_captum(tiny_net, batch):
    before = state_of(tiny_net)
    ours = attr.guided_backprop(tiny_net, batch, 2)  # in-place ReLUs: no problem here
    assert_same_state(tiny_net, before)
    ref = captum_attr.GuidedBackprop(not_inplace(tiny_net)).attribute(batch, target=2)
    torch.testing.assert_close(ours.raw, ref, atol=1e-6, rtol=1e-5)
    plain = attr.saliency(tiny_net, batch, 2).raw
    assert (ours.raw - plain).abs().max() > 0.1 * plain.abs().max()  # guiding changed it


def test_guided_grad_cam_matches_captum_up_to_the_min_max(tiny_net, batch):
    """captum multiplies by the upsampled ReLU(Grad-CAM) ``U``; ours by ``minmax(U)``
    (helpers.cam.grad_cam's map), so ``ours * (max U - min U) + GB * min U == captum``."""
    twin = not_inplace(tiny_net)
    layer = twin.get_submodule(LAYER)
    classes = [4, 0, 2]
    ours = attr.guided_grad_cam(tiny_net, batch, classes, layer=LAYER)
    ref = captum_attr.GuidedGradCam(twin, layer).attribute(batch, target=classes,
                                                           interpolate_mode="bilinear")
    gb = captum_attr.GuidedBackprop(twin).attribute(batch, target=classes)
    low = captum_attr.LayerGradCam(twin, layer).attribute(batch, target=classes,
                                                          relu_attributions=True)
    up = captum_attr.LayerAttribution.interpolate(low, (32, 32), "bilinear")  # (N, 1, H, W)
    lo, hi = up.amin(dim=(1, 2, 3), keepdim=True), up.amax(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(ours.raw * (hi - lo) + gb * lo, ref, atol=1e-6, rtol=1e-4)
    np.testing.assert_allclose(ours.info["cam"], ((up - lo) / (hi - lo))[:, 0].detach().numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_left", "riemann_middle",
                                    "riemann_right", "riemann_trapezoid"])
def test_integrated_gradients_matches_captum(tiny_net, batch, method):
    base = seeded(9, 1, 3, 32, 32) * 0.1  # one baseline for all images
    ours = attr.integrated_gradients(tiny_net, batch, [1, 2, 3], steps=7, baseline=base,
                                     method=method, batch_size=5)
    ref, delta = captum_attr.IntegratedGradients(tiny_net).attribute(
        batch, baselines=base.expand_as(batch), target=[1, 2, 3], n_steps=7, method=method,
        return_convergence_delta=True)
    # captum's trapezoid weights are 1/n with halved ends (sum (n-1)/n); ours sum to 1
    scale = 6 / 7 if method == "riemann_trapezoid" else 1.0
    torch.testing.assert_close(ours.raw * scale, ref, atol=1e-6, rtol=1e-4)
    if method != "riemann_trapezoid":
        np.testing.assert_allclose(ours.info["delta"], delta.numpy(), atol=1e-5)


@pytest.mark.parametrize(("window", "stride", "baseline"), [
    (8, 4, 0.0),  # windows tile the image exactly
    ((10, 6), (4, 3), 0.5),  # the last windows are cut at the border
])
def test_occlusion_matches_captum(tiny_net, batch, window, stride, baseline):
    ours = attr.occlusion(tiny_net, batch, [0, 1, 2], window=window, stride=stride,
                          baseline=baseline, batch_size=13)
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ref = captum_attr.Occlusion(tiny_net).attribute(
        batch, sliding_window_shapes=(3, wh, ww), strides=(3, sh, sw), baselines=baseline,
        target=[0, 1, 2], perturbations_per_eval=16)
    torch.testing.assert_close(ours.raw, ref, atol=1e-5, rtol=1e-4)
    assert ours.reduction == "positive"


# ------------------------------------------------------ hand-computed ---


class LinearNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


@pytest.fixture
def linear() -> LinearNet:
    torch.manual_seed(3)
    return LinearNet().eval()


def test_linear_model_saliency_and_smoothgrad_are_the_weights(linear):
    x = seeded(4, 2, 3, 8, 8)
    w = linear.fc.weight.detach().view(4, 3, 8, 8)
    for res in (attr.saliency(linear, x, [2, 3]),
                attr.smoothgrad(linear, x, [2, 3], samples=3)):  # constant gradient
        torch.testing.assert_close(res.raw, w[[2, 3]])
        pattern = w[[2, 3]].abs().amax(dim=1)  # |W_c|, max over colours
        lo, hi = pattern.amin(dim=(1, 2), keepdim=True), pattern.amax(dim=(1, 2), keepdim=True)
        np.testing.assert_allclose(res.map, ((pattern - lo) / (hi - lo)).numpy(), atol=1e-6)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_left"])
def test_linear_model_integrated_gradients_is_exact(linear, method):
    x, base = seeded(4, 2, 3, 8, 8), seeded(5, 2, 3, 8, 8)
    res = attr.integrated_gradients(linear, x, 1, steps=3, baseline=base, method=method)
    w = linear.fc.weight.detach()[1].view(3, 8, 8)
    torch.testing.assert_close(res.raw, (x - base) * w, atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        gap = linear(x)[:, 1] - linear(base)[:, 1]
    np.testing.assert_allclose(res.raw.sum(dim=(1, 2, 3)).numpy(), gap.numpy(), atol=1e-5)
    np.testing.assert_allclose(res.info["delta"], [0.0, 0.0], atol=1e-5)  # completeness


def test_linear_model_occlusion_is_the_window_sums(linear):
    x = seeded(6, 1, 3, 8, 8)
    res = attr.occlusion(linear, x, 0, window=4, stride=4, baseline=0.0)  # 4 disjoint windows
    contrib = (linear.fc.weight.detach()[0].view(3, 8, 8) * x[0]).sum(dim=0)  # (8, 8)
    expected = contrib.view(2, 4, 2, 4).sum(dim=(1, 3)).repeat_interleave(4, 0) \
        .repeat_interleave(4, 1)  # each pixel gets the sum over its window
    torch.testing.assert_close(res.raw, expected.expand(3, 8, 8), atol=1e-5, rtol=1e-5)
    assert res.info["patches"] == 4


def test_guided_backprop_by_hand_on_a_two_layer_relu_net():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    x = seeded(8, 1, 3, 2, 2)
    w1, w2 = net[1].weight.detach(), net[3].weight.detach()
    h = net[1](x.flatten(1))[0].detach()  # (6,)
    expected = (w2[2].clamp(min=0) * (h > 0)) @ w1  # positive gradients through active units
    res = attr.guided_backprop(net, x, 2)
    torch.testing.assert_close(res.raw, expected.view(3, 2, 2))
    plain = (w2[2] * (h > 0)) @ w1
    assert not torch.allclose(expected, plain)  # the weights have negative entries


def test_guided_relu6_by_hand():
    net = nn.Sequential(nn.Flatten(), nn.ReLU6(inplace=True), nn.Linear(4, 1)).eval()
    with torch.no_grad():
        net[2].weight.copy_(torch.tensor([[1.0, -1.0, 2.0, 3.0]]))
    x = torch.tensor([-1.0, 2.0, 7.0, 3.0]).view(1, 4, 1, 1)  # not an image: swap directly
    with guided_relus(net) as swapped:
        leaf = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(leaf)[0, 0], leaf)
    assert swapped == 1 and type(net[1]) is nn.ReLU6
    # x = -1: off; 2: on, weight -1 < 0 blocked; 7: above 6, off; 3: on, weight 3 passes
    assert g.flatten().tolist() == [0.0, 0.0, 0.0, 3.0]


# ------------------------------------------------------------- batches ---


@pytest.mark.parametrize("name", sorted(attr.ATTRIBUTIONS))
def test_batch_equals_one_image_at_a_time(tiny_net, batch, name):
    opts = {"guided_grad_cam": {"layer": LAYER}, "occlusion": {"window": 8, "stride": 8},
            "integrated_gradients": {"steps": 4}, "smoothgrad": {"samples": 2},
            "rise": {"count": 16}}.get(name, {})
    res = attr.ATTRIBUTIONS[name](tiny_net, batch, [1, 0, 4], **opts)
    assert res.map.shape == (3, 32, 32) and res.raw.shape == (3, 3, 32, 32)
    assert res.class_idx == [1, 0, 4] and res.map.dtype == np.float32
    assert res.map.min() >= 0 and res.map.max() <= 1
    for i, c in enumerate([1, 0, 4]):
        one = attr.ATTRIBUTIONS[name](tiny_net, batch[i:i + 1], c, **opts)
        assert one.map.shape == (32, 32) and one.raw.shape == (3, 32, 32) and one.class_idx == c
        if name != "smoothgrad":  # its noise is drawn for the whole batch at once
            torch.testing.assert_close(res.raw[i], one.raw, atol=1e-5, rtol=1e-4,
                                       msg=f"{name}, image {i}")
            np.testing.assert_allclose(res.map[i], one.map, atol=1e-4)


def test_top1_class_per_image(linear):
    x = seeded(12, 4, 3, 8, 8)
    with torch.no_grad():
        top1 = linear(x).argmax(dim=1).tolist()
    assert len(set(top1)) > 1  # the images disagree, so the per-image choice matters
    for name in ("saliency", "smoothgrad", "integrated_gradients", "occlusion"):
        res = attr.ATTRIBUTIONS[name](linear, x)  # occlusion: window 2, stride 1 on 8 x 8
        assert res.class_idx == top1
        if name == "saliency":
            torch.testing.assert_close(res.raw, linear.fc.weight.detach()[top1].view(4, 3, 8, 8))
        if name == "occlusion":
            assert res.info["window"] == (2, 2) and res.info["stride"] == (1, 1)
            assert res.info["patches"] == 49


# ---------------------------------------------------- state and errors ---


# The hook, parameter, module-type and requires_grad battery of every method, also after an
# exception inside the forward pass: tests/test_registry.py (it iterates the one registry).


def test_guided_backprop_refuses_functional_relu_and_no_relu():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.act, self.fc = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(F.relu(self.act(self.conv(x))).mean(dim=(2, 3)))

    net = Functional().eval()
    before = state_of(net)
    with pytest.raises(RuntimeError, match="as a function call"):
        attr.guided_backprop(net, seeded(0, 1, 3, 8, 8))
    assert_same_state(net, before)
    with pytest.raises(ValueError, match="no nn.ReLU"):
        attr.guided_backprop(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), seeded(0, 1, 3, 2, 2))


def test_bad_input_gives_clear_errors(tiny_net, tiny_input, batch):
    cases = [
        (attr.saliency, dict(x=tiny_input[0]), ValueError, r"\(N, 3, H, W\)"),
        (attr.saliency, dict(x=tiny_input[:, :1]), ValueError, r"\(N, 3, H, W\)"),
        (attr.saliency, dict(x=tiny_input.long()), TypeError, "float"),
        (attr.saliency, dict(x=batch, class_idx=[0, 1]), ValueError, "2 entries.*3 images"),
        (attr.saliency, dict(class_idx=1.5), TypeError, "int"),
        (attr.saliency, dict(x=batch, class_idx=[0, 1, 9]), IndexError, "9 is out of range"),
        (attr.saliency, dict(reduce="mean"), ValueError, "unknown reduce"),
        (attr.smoothgrad, dict(samples=0), ValueError, "samples must be an integer >= 1"),
        (attr.smoothgrad, dict(noise_level=-0.1), ValueError, "noise_level"),
        (attr.smoothgrad, dict(batch_size=0), ValueError, "batch_size"),
        (attr.integrated_gradients, dict(steps=0), ValueError, "steps must be an integer >= 1"),
        (attr.integrated_gradients, dict(steps=1, method="riemann_trapezoid"), ValueError,
         "steps must be an integer >= 2"),
        (attr.integrated_gradients, dict(method="simpson"), ValueError, "unknown method"),
        (attr.integrated_gradients, dict(baseline=torch.zeros(3, 5, 5)), ValueError,
         "does not broadcast"),
        (attr.occlusion, dict(window=40), ValueError, "window <= image size"),
        (attr.occlusion, dict(window=4, stride=8), ValueError, "stride <= window"),
        (attr.occlusion, dict(window=(4, 4, 4)), ValueError, r"\(height, width\)"),
    ]
    for fn, kwargs, err, match in cases:
        kwargs = {"x": tiny_input, **kwargs}
        with pytest.raises(err, match=match):
            fn(tiny_net, **kwargs)
        assert count_hooks(tiny_net) == 0 and all(p.requires_grad for p in tiny_net.parameters())
    with pytest.raises(TypeError, match="layer"):
        attr.guided_grad_cam(tiny_net, tiny_input)
    with pytest.raises(ValueError, match="no submodule"):
        attr.guided_grad_cam(tiny_net, tiny_input, layer="features.99")


def test_training_mode_warns(tiny_net, tiny_input):
    tiny_net.train()
    with pytest.warns(UserWarning, match="training mode"):
        attr.saliency(tiny_net, tiny_input)


# ------------------------------------------- torchvision and the bundled model ---


def test_guided_relus_swap_and_restore_torchvision_resnet18():
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    with guided_relus(net) as swapped:
        assert swapped == 9 and not any(isinstance(m, nn.ReLU) for m in net.modules())
    assert [m for m in net.modules() if isinstance(m, nn.ReLU)] == relus  # the same objects
    x = seeded(3, 1, 3, 64, 64)
    ours = attr.guided_backprop(net, x, 7)
    # each BasicBlock calls its one ReLU twice; captum's hooks handle that on an
    # out-of-place copy
    ref = captum_attr.GuidedBackprop(not_inplace(net)).attribute(x, target=7)
    torch.testing.assert_close(ours.raw, ref[0], atol=1e-6, rtol=1e-4)
    assert count_hooks(net) == 0


class ReLU6AsReLU(nn.ReLU):
    """ReLU6 written as an nn.ReLU (which captum's GuidedBackprop guides) then ``min(., 6)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).clamp(max=6.0)


@pytest.fixture(scope="module")
def cat(bundle):
    return bundle.to_input(load_image("cat"))  # (1, 3, 224, 224)


def test_bundled_model_against_captum(bundle, cat):
    """EfficientNet-Lite0 uses nn.ReLU6, which captum's GuidedBackprop leaves alone: on a
    copy whose ReLU6s are ReLU-then-clamp, captum's guided gradient is the guided ReLU6's."""
    model = bundle.model
    before = state_of(model)
    sal = attr.saliency(model, cat)
    gb = attr.guided_backprop(model, cat, sal.class_idx)
    assert_same_state(model, before)
    ref = captum_attr.Saliency(model).attribute(cat, target=sal.class_idx, abs=False)
    torch.testing.assert_close(sal.raw, ref[0], atol=1e-6, rtol=1e-4)
    twin = copy.deepcopy(model)
    for parent in list(twin.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.ReLU6):
                parent._modules[name] = ReLU6AsReLU()
    ref_gb = captum_attr.GuidedBackprop(twin).attribute(cat, target=sal.class_idx)
    torch.testing.assert_close(gb.raw, ref_gb[0], atol=1e-6, rtol=1e-4)
    assert (gb.raw - sal.raw).abs().max() > 0.1 * sal.raw.abs().max()
    model.zero_grad(set_to_none=True)
    assert count_hooks(model) == 0
