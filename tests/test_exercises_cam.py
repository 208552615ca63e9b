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


def test_region_drop(capsys):
    def by_pooling(a, w, mask, c):  # run the head twice: GAP + the class row, with and without the region
        keep = a * ~mask  # (1, C, h, w)
        return float(w[c] @ a.mean(dim=(2, 3))[0] - w[c] @ keep.mean(dim=(2, 3))[0])

    assert run(ex.check_region_drop, by_pooling, capsys)[0]

    def cam_of(a, w, c):
        return sum(w[c, k] * a[0, k] for k in range(a.shape[1]))  # (h, w)

    assert_rejects(ex.check_region_drop, [
        lambda a, w, m, c: float(cam_of(a, w, c)[m].sum()),  # no 1/(hw)
        lambda a, w, m, c: float(cam_of(a, w, c)[m].mean()),  # over the masked cells only
        lambda a, w, m, c: float(torch.relu(cam_of(a, w, c))[m].sum() / m.numel()),  # a ReLU'd map
        lambda a, w, m, c: float(cam_of(a, w, c)[~m].sum() / m.numel()),  # what is kept, not what is lost
        lambda a, w, m, c: 0.0,
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


def test_contrast_gradient(capsys):
    def by_two_passes(model, layer, x, a, b):  # autograd.grad of each class on its own, subtracted
        out = []
        for c in (a, b):
            with Capture(layer, leaf=True) as cap:
                score = model(x)[0, c]
            out.append(torch.autograd.grad(score, cap.leaves["output"])[0])
        return out[0] - out[1]

    def one_class(model, layer, x, a, b):
        return _single(model, layer, x, a)

    def _single(model, layer, x, c):
        with Capture(layer, leaf=True) as cap:
            score = model(x)[0, c]
        return torch.autograd.grad(score, cap.leaves["output"])[0]

    def leaks(model, layer, x, a, b):
        store = {}
        layer.register_forward_hook(lambda m, i, o: store.__setitem__("A", o))  # never removed
        logits = model(x)
        return torch.autograd.grad(logits[0, a] - logits[0, b], store["A"])[0]

    assert run(ex.check_contrast_gradient, by_two_passes, capsys)[0]
    assert_rejects(ex.check_contrast_gradient, [
        one_class,  # only s_a
        lambda m, l, x, a, b: by_two_passes(m, l, x, b, a),  # b - a
        lambda m, l, x, a, b: _single(m, l, x, a) + _single(m, l, x, b),  # the sum
        lambda m, l, x, a, b: by_two_passes(m, l, x, a, b).abs(),
    ], capsys)
    ok, out = run(ex.check_contrast_gradient, leaks, capsys)
    assert not ok and "钩子" in out
