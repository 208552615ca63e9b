"""Checks of notebook 9.1's exercises: right answers pass; stubs, constants, copies and
typical mistakes fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.draw import viz
from helpers.exercises import layers
from helpers.widgets.feature_maps import rank_channels


def _stub(*args):
    raise NotImplementedError


# ---- right answers, written differently from the references -----------------


def showimg_normalize(channel):
    a = torch.relu(torch.as_tensor(channel))
    return viz.normalize(a) ** 2


def first_layer_of_size(shapes, size):
    return next((name for name, s in shapes if tuple(s[-2:]) == (size, size)), None)


def count_dead_channels(acts):  # channel by channel, image by image
    a = np.asarray(acts).reshape(-1, *acts.shape[-3:])  # (N, C, h, w)
    return sum(1 for k in range(a.shape[1]) if all((image[k] <= 0).all() for image in a))


def top_channels(acts, k):
    return rank_channels(acts)[:k]


def test_right_answers_pass(capsys, tiny_net):
    assert layers.check_showimg_normalize(showimg_normalize)
    assert layers.check_first_layer_of_size(first_layer_of_size)
    assert layers.check_count_dead_channels(count_dead_channels)
    assert layers.check_top_channels(top_channels)
    out = capsys.readouterr().out
    assert out.count("✓") == 4 and "✗" not in out


def test_first_layer_check_uses_the_model(bundle, capsys):
    assert layers.check_first_layer_of_size(first_layer_of_size, bundle)

    def knows_only_random_lists(shapes, size):  # wrong only on the real model
        return None if shapes[0][0] == "conv_stem" else first_layer_of_size(shapes, size)

    assert not layers.check_first_layer_of_size(knows_only_random_lists, bundle)
    assert "第 4 组" in capsys.readouterr().out  # failed on the model's own shapes


@pytest.mark.parametrize("check", [
    layers.check_showimg_normalize, layers.check_first_layer_of_size,
    layers.check_count_dead_channels, layers.check_top_channels,
])
def test_stubs_are_not_done(check, capsys):
    assert not check(None)
    assert not check(_stub)
    out = capsys.readouterr().out
    assert out.count("○") == 2 and "Traceback" not in out


@pytest.mark.parametrize("check, wrong", [
    # constants and copies of the input
    (layers.check_showimg_normalize, lambda c: np.zeros_like(c)),
    (layers.check_showimg_normalize, lambda c: c),
    (layers.check_first_layer_of_size, lambda shapes, size: None),
    (layers.check_first_layer_of_size, lambda shapes, size: shapes[0][0]),
    (layers.check_first_layer_of_size, lambda shapes, size: shapes),
    (layers.check_count_dead_channels, lambda a: 0),
    (layers.check_count_dead_channels, lambda a: 1),
    (layers.check_count_dead_channels, lambda a: a),
    (layers.check_top_channels, lambda a, k: list(range(k))),
    (layers.check_top_channels, lambda a, k: a),
    (layers.check_top_channels, lambda a, k: 0),
    # typical mistakes
    (layers.check_showimg_normalize, lambda c: viz.normalize(np.maximum(c, 0))),  # no square
    (layers.check_showimg_normalize, lambda c: viz.normalize(c) ** 2),  # no ReLU
    (layers.check_showimg_normalize,  # no guard for a flat channel: NaN
     lambda c: ((np.maximum(c, 0) - np.maximum(c, 0).min())
                / (np.maximum(c, 0).max() - np.maximum(c, 0).min())) ** 2),
    (layers.check_first_layer_of_size,  # last instead of first
     lambda shapes, size: next((n for n, s in reversed(shapes) if s[2:] == (size, size)), None)),
    (layers.check_first_layer_of_size,  # only looks at the height
     lambda shapes, size: next((n for n, s in shapes if s[2] == size), None)),
    (layers.check_count_dead_channels, lambda a: int((a.mean(dim=(-2, -1)) <= 0).sum())),  # mean
    (layers.check_count_dead_channels, lambda a: int((a.amax(dim=(-2, -1)) < 0).sum())),  # < not <=
    (layers.check_count_dead_channels,  # dead on the first image only
     lambda a: int((a.reshape(-1, *a.shape[-3:])[0].amax(dim=(-2, -1)) <= 0).sum())),
    (layers.check_count_dead_channels,  # dead on any image
     lambda a: int((a.reshape(-1, *a.shape[-3:]).amax(dim=(-2, -1)) <= 0).any(dim=0).sum())),
    (layers.check_count_dead_channels,  # per image, added up
     lambda a: int((a.reshape(-1, *a.shape[-3:]).amax(dim=(-2, -1)) <= 0).sum())),
    (layers.check_top_channels,  # smallest first
     lambda a, k: torch.argsort(a.clamp(min=0).mean(dim=(1, 2)))[:k]),
    (layers.check_top_channels,  # forgot the ReLU
     lambda a, k: torch.argsort(a.mean(dim=(1, 2)), descending=True)[:k]),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_wrong_answers_fail(check, wrong, capsys):
    assert not check(wrong)
    out = capsys.readouterr().out
    assert "✗" in out and "提示" in out


def test_flat_channel_is_always_tried():
    seen = []

    def spy(c):
        seen.append(np.maximum(c, 0).max() == 0)
        a = np.maximum(c, 0)
        span = a.max() - a.min()
        return np.zeros_like(a) if span == 0 else ((a - a.min()) / span) ** 2

    assert layers.check_showimg_normalize(spy)
    assert any(seen) and not all(seen)
