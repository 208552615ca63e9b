"""helpers.hooks against a manual forward pass and hand-written autograd.grad."""

from __future__ import annotations

import pytest
import torch

from helpers.hooks import Capture, capture_activations, count_hooks


def test_captured_activations_equal_manual_forward(tiny_net, tiny_input):
    layers = [(f"features.{i}", m) for i, m in enumerate(tiny_net.features)]
    acts = capture_activations(tiny_net, tiny_input, layers)
    x = tiny_input
    with torch.no_grad():
        for i, m in enumerate(tiny_net.features):
            x = m(x.clone())  # clone: the manual pass must not be fooled by in-place ReLU
            assert torch.allclose(acts[f"features.{i}"], x), i
    # The BN output is captured before the in-place ReLU overwrote it: it has negatives.
    assert (acts["features.1"] < 0).any()
    assert count_hooks(tiny_net) == 0


def test_gradient_capture_equals_autograd_grad(tiny_net, tiny_input):
    layer = tiny_net.features[4]
    with Capture({"conv": layer}, grads=True) as cap:
        logits = tiny_net(tiny_input)
        score = logits[0, 2]
        (expected,) = torch.autograd.grad(score, cap.outputs["conv"], retain_graph=True)
        score.backward()
    assert torch.allclose(cap.grads["conv"], expected)
    assert cap.grads["conv"].shape == cap.acts["conv"].shape == (1, 16, 16, 16)
    assert count_hooks(tiny_net) == 0


def test_hooks_removed_after_exception_and_exception_propagates(tiny_net, tiny_input):
    with pytest.raises(RuntimeError, match="boom"):
        with Capture(tiny_net.features, grads=True):
            tiny_net(tiny_input)
            assert count_hooks(tiny_net) == 1
            raise RuntimeError("boom")
    assert count_hooks(tiny_net) == 0


def test_hooks_removed_when_forward_raises(tiny_net):
    with pytest.raises(RuntimeError):
        capture_activations(tiny_net, torch.randn(1, 4, 8, 8), {"f": tiny_net.features[0]})
    assert count_hooks(tiny_net) == 0


def test_bad_layer_spec_rejected(tiny_net):
    with pytest.raises(TypeError, match="name, module"):
        Capture([tiny_net.features[0]])
    with pytest.raises(ValueError, match="unique"):
        Capture([("a", tiny_net.fc), ("a", tiny_net.pool)])


def test_count_hooks_sees_leftovers(tiny_net):
    handle = tiny_net.fc.register_forward_hook(lambda *a: None)
    assert count_hooks(tiny_net) == 1
    handle.remove()
    assert count_hooks(tiny_net) == 0
