"""Checks for the exercises of notebook 9.1's section "这个通道看到了什么" (network dissection).

The self-study check compares the student's function with stored answers on
inputs drawn from a fixed seed; the grader (``grader/``) draws new ones.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .core import cycle, self_check


def _acts_mask(rng: np.random.Generator, planted: bool) -> tuple[torch.Tensor, torch.Tensor, float]:
    n, s = int(rng.integers(2, 6)), int(rng.integers(6, 17))
    mask = torch.from_numpy(rng.random((n, s, s)) < rng.uniform(0.05, 0.3))
    acts = torch.from_numpy(rng.normal(size=(n, s, s)).astype(np.float32))
    if planted:  # a channel that likes the concept, plus noise
        acts = acts + 3.0 * mask.float()
    return acts, mask, float(rng.choice([0.005, 0.05, 0.1, 0.2]))


@self_check(
    "练习 7 一个通道对一个概念的 IoU",
    lambda: cycle(lambda r: _acts_mask(r, True), lambda r: _acts_mask(r, False)),
    trials=6,
    atol=1e-6)
def check_channel_iou(student: Callable | None) -> bool:
    """Check ``channel_iou(acts, mask, top) -> float`` against Bau's rule on random channels.

    Shapes:
        acts: ``(N, S, S)``; mask: ``(N, S, S)`` bool.

    Hint:
        阈值 T 取所有 N×S×S 个激活值从小到大排的第 ceil((1 − top)·M) 个（M 是值的个数）；
        通道的掩码是 acts > T；IoU = 交集像素数 ÷ 并集像素数，在整个图像集上一起数。
    """


CHANNEL_IOU = check_channel_iou.exercise
