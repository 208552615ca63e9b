"""helpers.models.lite0: the plain-PyTorch EfficientNet-Lite0 against timm's tf_efficientnet_lite0.

timm (the peer library) builds the reference network; both get the same bundled
weights, and must agree on names, logits, intermediate maps and gradients.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import load_image
from helpers.attribution import guided
from helpers.models import lite0, sources
from helpers.hooks import capture_activations
from peers import require

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-5


@pytest.fixture(scope="module")
def pair() -> tuple[nn.Module, nn.Module]:
    """(ours, timm's), both with the bundled weights, in eval mode."""
    timm = require("timm")
    state = sources.bundled_state_dict()
    ours = sources.build_with_weights(lite0.efficientnet_lite0, state).eval()
    theirs = sources.build_with_weights(
        lambda: timm.create_model("tf_efficientnet_lite0", pretrained=False), state).eval()
    return ours, theirs


def test_same_module_names_and_classes(pair):
    ours, theirs = pair
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    classes = [[type(m).__name__ for m in net.modules()] for net in (ours, theirs)]
    assert classes[0] == classes[1]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)  # notebook 9.1 prints these class names


def test_loads_bundled_weights_strictly_without_copying():
    state = sources.bundled_state_dict()
    model = sources.build_with_weights(lite0.efficientnet_lite0, state)
    assert model.classifier.weight.data_ptr() == state["classifier.weight"].data_ptr()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 49 and all(m.eps == 1e-3 for m in bns)


@pytest.mark.parametrize("seed, shape", [(0, (2, 3, 224, 224)), (1, (1, 3, 225, 231)),
                                         (2, (1, 3, 97, 64))])
def test_logits_equal_timm_on_random_inputs(pair, seed, shape):
    ours, theirs = pair
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert a.shape == b.shape == (shape[0], 1000)
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0, msg=lambda m: f"seed {seed}: {m}")


def test_photo_logits_top1_and_maps_equal_timm(pair, bundle):
    ours, theirs = pair
    x = bundle.to_input(load_image("cat"))
    layers = ("bn2", "blocks.3.0", "conv_stem")
    a = capture_activations(ours, x, [(n, ours.get_submodule(n)) for n in layers])
    b = capture_activations(theirs, x, [(n, theirs.get_submodule(n)) for n in layers])
    for name in layers:
        torch.testing.assert_close(a[name], b[name], atol=ATOL, rtol=0, msg=name)
    assert a["bn2"].shape == (1, 1280, 7, 7) and a["bn2"].min() >= 0 and a["bn2"].max() <= 6
    assert a["blocks.3.0"].shape == (1, 80, 14, 14)
    with torch.no_grad():
        la, lb = ours(x), theirs(x)
    torch.testing.assert_close(la, lb, atol=ATOL, rtol=0)
    assert int(la.argmax()) == int(lb.argmax())
    assert bundle.categories[int(la.argmax())] == "tiger cat"


def test_input_gradient_equals_timm(pair):
    ours, theirs = pair
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    grads = []
    for model in (ours, theirs):
        xi = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(model(xi)[0, 281], xi)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_same_padding_is_tensorflows():
    # Hand-computed: 224 -> 112 with a 3x3 stride-2 kernel needs one pixel, at the end.
    assert lite0.same_padding(224, 3, 2) == (0, 1)
    assert lite0.same_padding(225, 5, 2) == (2, 2)  # out 113: 112 * 2 + 5 - 225 = 4
    assert lite0.same_padding(14, 5, 1) == (2, 2)
    assert lite0.same_padding(7, 1, 2) == (0, 0)
    conv = lite0.Conv2dSame(1, 1, 3, 2)
    assert conv(torch.zeros(1, 1, 224, 223)).shape == (1, 1, 112, 112)


def test_skips_only_where_stride_one_and_channels_kept():
    model = lite0.efficientnet_lite0()
    skips = [b.has_skip for stage in model.blocks for b in stage]
    # Per stage the first block changes size or channels; stage 0 (32 -> 16) has none.
    assert skips == [False, False, True, False, True, False, True, True,
                     False, True, True, False, True, True, True, False]


def test_guided_backprop_finds_every_relu6():
    model = lite0.efficientnet_lite0().eval()
    assert sum(isinstance(m, nn.ReLU6) for m in model.modules()) == 33
    with guided.guided_relus(model) as swapped:
        assert swapped == 33
        assert guided.unguided_relus(model(torch.randn(1, 3, 32, 32))) == []
    assert sum(isinstance(m, nn.ReLU6) for m in model.modules()) == 33


def test_loading_the_bundled_model_does_not_import_timm():
    code = ("import sys, helpers\n"
            "helpers.load_model('efficientnet_lite0', source='bundled', device='cpu')\n"
            "assert 'timm' not in sys.modules, sorted(m for m in sys.modules if 'timm' in m)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CH9_MODEL_SOURCE": "bundled"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
