"""Check of notebook 9.1's dissection exercise: a right answer (written with numpy and the
dissection module's own pieces) passes; stubs, a constant and typical mistakes fail (the reference lives in grader/)."""

from __future__ import annotations

import numpy as np
import torch

from check_helpers import assert_rejects, run
from helpers.channels import dissect
from helpers.exercises import channels


def iou_with_dissection(acts, mask, top):  # the helper's threshold rule, independent of the check
    t = dissect.thresholds(acts[:, None], torch.tensor([top], dtype=torch.float64))[0]
    on = (acts > t).numpy()
    m = mask.numpy()
    return float(np.logical_and(on, m).sum() / max(np.logical_or(on, m).sum(), 1))


def iou_ge(acts, mask, top):  # >= T keeps ties and the threshold itself
    values = np.sort(acts.numpy().ravel())
    t = values[int(np.ceil((1 - top) * values.size)) - 1]
    on = acts.numpy() >= t
    return float((on & mask.numpy()).sum() / (on | mask.numpy()).sum())


def iou_per_image(acts, mask, top):  # averages per-image IoUs instead of counting over the set
    out = []
    for a, m in zip(acts, mask):
        t = torch.quantile(a.flatten(), 1 - top)
        on = a > t
        out.append(float((on & m).sum() / max(int((on | m).sum()), 1)))
    return float(np.mean(out))


def iou_bottom(acts, mask, top):  # the lowest activations instead of the highest
    return iou_with_dissection(-acts, mask, top)


def test_right_answer_passes(capsys):
    ok, out = run(channels.check_channel_iou, iou_with_dissection, capsys)
    assert ok and "✓" in out


def test_wrong_answers_fail(capsys):
    assert_rejects(channels.check_channel_iou,
                   [iou_ge, iou_per_image, iou_bottom, lambda a, m, t: 0.5],
                   capsys)
