"""Metrics on one signature, batched over N images, against curves computed by hand.

The model is ``LinearProb`` of tests/test_faithfulness.py: ``p(class 0)`` is a known
weighted sum of the pixels, so every point of a deletion or insertion curve is known.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.trust import metric
from test_faithfulness import HAND, WEIGHTS, LinearProb


@pytest.mark.parametrize("batch_size", [1, 3, 32])
@pytest.mark.parametrize("kind", ["deletion", "insertion"])
def test_n_images_in_one_call_give_each_its_hand_computed_curve(kind, batch_size):
    """Images 0 and 2 ranked perfectly, image 1 reversed: rows of the batch stay apart."""
    model, x = LinearProb(WEIGHTS), torch.ones(3, 3, 2, 2)
    maps = torch.stack([WEIGHTS, -WEIGHTS, WEIGHTS])  # (3, 2, 2)
    score = metric.METRICS[kind](model, x, maps, [0, 0, 0], steps=4, substrate="zeros",
                                 batch_size=batch_size)
    rows = [HAND[kind, order] for order in ("perfect", "reversed", "perfect")]
    np.testing.assert_allclose(score.details["curves"], [r[0] for r in rows], atol=1e-6)
    np.testing.assert_allclose(score.values, [r[1] for r in rows], atol=1e-6)
    assert score.summary == pytest.approx(np.mean([r[1] for r in rows]))
    assert score.higher_is_better == (kind == "insertion")


def test_a_callable_target_follows_its_own_score():
    """``1 - p0`` (the probability of class 1) mirrors the deletion curve of class 0."""
    model, x = LinearProb(WEIGHTS), torch.ones(1, 3, 2, 2)
    s = metric.deletion(model, x, WEIGHTS[None], lambda p: p[:, 1], steps=4)
    np.testing.assert_allclose(s.details["curves"][0], 1 - np.array(HAND["deletion",
                                                                         "perfect"][0]), atol=1e-6)
    assert s.details["targets"] == [None]


def test_average_drop_per_image_by_hand():
    """Y = 1 for the all-ones image; O = sum w * map: map = 1 keeps it, map = w/2 on pixels."""
    model, x = LinearProb(WEIGHTS), torch.ones(2, 3, 2, 2)
    maps = torch.stack([torch.ones(2, 2), torch.full((2, 2), 0.25)])
    s = metric.average_drop(model, x, maps, 0)
    np.testing.assert_allclose(s.values, [0.0, 0.75], atol=1e-6)  # (1 - .25) / 1
    np.testing.assert_array_equal(s.details["increase"], [0.0, 0.0])


def test_maps_must_be_one_per_image():
    model, x = LinearProb(WEIGHTS), torch.ones(2, 3, 2, 2)
    with pytest.raises(ValueError, match="not match the image"):
        metric.deletion(model, x, WEIGHTS[None])
