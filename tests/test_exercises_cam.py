"""Exercise checks of 9.2.1 / 9.2.2: right answers pass; stubs, constants, copies and bugs fail."""

from __future__ import annotations

import torch
from torch import nn

from check_helpers import assert_rejects, run
from helpers.exercises import cam as ex
from helpers.hooks import Capture


def test_cam_from_weights(capsys):
    right = lambda a, w, c: (w[c][:, None, None] * a[0]).sum(0)  # noqa: E731
    ok, out = run(ex.check_cam_from_weights, right, capsys)
    assert ok and "✓" in out
    assert_rejects(ex.check_cam_from_weights, [
        lambda a, w, c: a[0].sum(0),  # no weights
        lambda a, w, c: torch.zeros(a.shape[-2:]),  # a constant
        lambda a, w, c: a,  # a copy of the input
        lambda a, w, c: right(a, w, (c + 1) % w.shape[0]),  # another class
    ], capsys)


def test_second_class_cam(capsys):
    def by_hand(a, w, c):  # sum_k W[c, k] A^k, written out without the reference
        return sum(w[c, k] * a[0, k] for k in range(a.shape[1]))

    right = lambda a, w, l: by_hand(a, w, int(l[0].argsort()[-2]))  # noqa: E731
    assert run(ex.check_second_class_cam, right, capsys)[0]
    assert_rejects(ex.check_second_class_cam, [
        lambda a, w, l: by_hand(a, w, int(l[0].argmax())),  # the top-1 class
        lambda a, w, l: by_hand(a, w, int(l[0].argmin())),
        lambda a, w, l: a[0, 0],
    ], capsys)


def find_layer(model, x, candidates):
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad(), Capture(candidates) as cap:
        logits = model(x)
    for name, _ in candidates:
        a = cap.acts[name]
        if a.shape[1] == fc.in_features and torch.allclose(fc(a.mean((2, 3))), logits, atol=1e-4):
            return name
    return None


def test_find_cam_layer_on_toys_and_the_bundled_model(capsys, bundle):
    ok, out = run(ex.check_find_cam_layer, find_layer, capsys, bundle)
    assert ok and out.count("✓") == 2 and bundle.name in out
    assert_rejects(ex.check_find_cam_layer, [
        lambda m, x, c: "block",  # a stored answer
        lambda m, x, c: "head",
        lambda m, x, c: c[-1][0],  # the last candidate
        lambda m, x, c: c[0][0],
        lambda m, x, c: [n for n, _ in m.named_modules() if n in dict(c)][-1],  # by module order
    ], capsys)


def test_find_cam_layer_answer_is_computed():
    rng = __import__("numpy").random.default_rng(0)
    answers = {find_layer(*ex._toy_inputs(head, place, rng)) for head, place in ex.TOY_TRIALS}
    assert answers == {"block", "head"}


def test_gradcam_weights(capsys):
    assert run(ex.check_gradcam_weights, lambda g: g.mean(dim=(0, 2, 3)), capsys)[0]
    assert_rejects(ex.check_gradcam_weights, [
        lambda g: g.sum(dim=(0, 2, 3)),  # sum, not mean
        lambda g: g[0].mean(dim=0).flatten(),  # wrong axis
        lambda g: g,  # a copy
        lambda g: torch.zeros(g.shape[1]),
    ], capsys)


def test_contribution_map(capsys):
    def right(a, g):
        return sum(g[0, k] * a[0, k] for k in range(a.shape[1]))  # channel by channel

    assert run(ex.check_contribution_map, right, capsys)[0]
    assert_rejects(ex.check_contribution_map, [
        lambda a, g: (g[0].mean(dim=(1, 2))[:, None, None] * a[0]).sum(0),  # the classmate's: averaged
        lambda a, g: torch.relu((g[0] * a[0]).sum(0)),  # a ReLU the exercise does not ask for
        lambda a, g: (g[0] * a[0]).mean(0),  # mean over channels, not sum
        lambda a, g: (g[0].abs() * a[0]).sum(0),
        lambda a, g: torch.zeros(a.shape[-2:]),
        lambda a, g: a[0, 0],
    ], capsys)


def test_layer_gradient(capsys):
    def right(model, layer, x, c):
        store = {}

        def hook(module, inputs, output):
            output.register_hook(lambda g: store.__setitem__("g", g))

        handle = layer.register_forward_hook(hook)
        try:
            model(x)[0, c].backward()
        finally:
            handle.remove()
        return store["g"]

    def leaks(model, layer, x, c):
        store = {}

        def hook(module, inputs, output):
            output.register_hook(lambda g: store.__setitem__("g", g))

        layer.register_forward_hook(hook)  # never removed
        model(x)[0, c].backward()
        return store["g"]

    def other_class(model, layer, x, c):
        return right(model, layer, x, (c + 1) % 5)

    def activations(model, layer, x, c):
        with torch.no_grad(), Capture(layer) as cap:
            model(x)
        return cap.acts["output"]

    assert run(ex.check_layer_gradient, right, capsys)[0]
    assert_rejects(ex.check_layer_gradient, [other_class, activations], capsys)
    ok, out = run(ex.check_layer_gradient, leaks, capsys)
    assert not ok and "钩子" in out
