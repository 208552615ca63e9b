"""Checks for the exercises (练习) of notebooks/09_1_layer_outputs.

Each check calls the student's function on a few random inputs drawn from a
fixed seed and compares with the stored answers (the grader draws new ones);
on the model's own layer shapes it checks the property the exercise asks for.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .. import hooks
from ..models import ModelBundle
from .core import cycle, exercise, run_check, self_check

Shape = tuple[int, ...]


# ------------------------------------------------- 1. showImg's numbers ---


def _channel(rng: np.random.Generator, shift: float) -> tuple[np.ndarray]:
    h, w = (int(v) for v in rng.integers(3, 15, size=2))
    return (rng.normal(shift, 1.0, size=(h, w)).astype(np.float32),)


@self_check(
    "练习 1 showImg 的归一化",
    lambda: cycle(lambda r: _channel(r, 0.0), lambda r: _channel(r, -10.0),  # all < 0: flat after ReLU
                  lambda r: _channel(r, 3.0)),
    trials=6, atol=1e-5)
def check_showimg_normalize(student: Callable[[np.ndarray], np.ndarray] | None) -> bool:
    """Check ``showimg_normalize(channel) -> (h, w)``: ReLU, min-max to [0, 1], square.

    Shapes:
        channel: ``(h, w)`` float array; returns ``(h, w)``.

    Hint:
        先 ReLU（np.maximum(a, 0)），再减最小值、除以（最大值 − 最小值），最后平方；
        ReLU 后全为 0 的通道（max == min）要返回全 0，不能除以 0。
    """


SHOWIMG_NORMALIZE = check_showimg_normalize.exercise


# ------------------------------------------------- 2. first 14x14 layer ---


def _random_shapes(
    rng: np.random.Generator, present: bool, decoy: bool = False
) -> tuple[list[tuple[str, Shape]], int]:
    """A random VGG-like list of layer shapes and a size to look for.

    Each spatial size lasts two to four layers (so "first" differs from "last");
    with ``decoy``, two layers with only one side equal to the size come first.
    """
    sides = [int(rng.choice([224, 112, 96]))]
    while sides[-1] > 7 and len(sides) < 6:
        sides.append(sides[-1] // 2)
    shapes: list[tuple[str, Shape]] = []
    for side in sides:
        channels = int(rng.choice([16, 32, 64, 128]))
        for _ in range(int(rng.integers(2, 5))):
            shapes.append((f"layer{len(shapes)}.{rng.integers(100)}", (1, channels, side, side)))
    size = int(rng.choice(sides[1:])) if present else int(rng.choice([5, 9, 300]))
    if present and decoy:
        first = next(i for i, (_, s) in enumerate(shapes) if s[2] == size)
        for odd in rng.permutation([(size, 2 * size), (2 * size, size)]):
            shapes.insert(first, (f"decoy{len(shapes)}", (1, 8, int(odd[0]), int(odd[1]))))
    return shapes, size


def layer_shapes(bundle: ModelBundle) -> list[tuple[str, Shape]]:
    """``(name, output shape)`` of every feature layer for one ``(1, 3, 224, 224)`` input."""
    x = torch.zeros(1, 3, 224, 224, device=bundle.device)
    acts = hooks.capture_activations(bundle.model, x, bundle.feature_layers)
    return [(name, tuple(acts[name].shape)) for name, _ in bundle.feature_layers]


FIRST_LAYER_OF_SIZE = exercise(
    "layers.check_first_layer_of_size", "练习 2 第一个输出 14×14 的层",
    lambda: cycle(lambda r: _random_shapes(r, True, decoy=True), lambda r: _random_shapes(r, False),
                  lambda r: _random_shapes(r, True)),
    "按顺序检查每一层的形状 (N, C, h, w)，返回第一个 h == w == size 的层名；一个都没有就返回 None。",
)


def _is_first_of_size(shapes: Sequence[tuple[str, Shape]], size: int, name: object) -> bool:
    """Property of an answer: ``name``'s output is size x size and no earlier layer's is."""
    names = [n for n, _ in shapes]
    if name not in names:
        return False
    square = [tuple(s[-2:]) == (size, size) for _, s in shapes]
    k = names.index(name)
    return square[k] and not any(square[:k])


def check_first_layer_of_size(
    student: Callable[[Sequence[tuple[str, Shape]], int], str | None] | None,
    bundle: ModelBundle | None = None,
) -> bool:
    """Check ``first_layer_of_size(shapes, size) -> name or None``.

    With ``bundle`` a last trial uses the model's real layer shapes and size 14; the
    answer is checked by the property it must have, so nothing about the model is stored.

    Shapes:
        shapes: list of ``(name, (N, C, h, w))``.
    """
    extra = []
    if bundle is not None:
        real = layer_shapes(bundle)
        extra.append(((real, 14), lambda got: (_is_first_of_size(real, 14, got), None)))
    return run_check(FIRST_LAYER_OF_SIZE, student, extra)


# ------------------------------------------------------- 3. dead channels ---


def _one_image(rng: np.random.Generator, kinds: np.ndarray, h: int, w: int) -> np.ndarray:
    """One image's (C, h, w) activations; kinds: 0 alive, 1 all negative, 2 all zero, 3 one live pixel."""
    a = rng.normal(0.0, 1.0, size=(len(kinds), h, w)) + 1.0
    for k in np.flatnonzero(kinds):
        a[k] = -np.abs(a[k]) - 1.0 if kinds[k] != 2 else 0.0
        if kinds[k] == 3:  # negative mean, yet alive: one pixel > 0
            a[k, rng.integers(h), rng.integers(w)] = 0.5
    return a


def _random_acts(rng: np.random.Generator) -> tuple[torch.Tensor]:
    """(N, C, h, w) for N = 2..4 images, or one image (C, h, w) or (1, C, h, w). In a batch some
    channels are dead on the first image only, some on all but one image, some on every image."""
    c, h, w = int(rng.integers(6, 40)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
    n = int(rng.choice([0, 1, 2, 3, 4], p=[0.15, 0.15, 0.25, 0.25, 0.2]))  # 0: no batch axis
    kinds = rng.integers(0, 4, size=(max(n, 1), c))
    order = rng.permutation(c)
    kinds[:, order[:3]] = [1, 2, 3]  # every kind at least once, in every image
    if n >= 2:
        kinds[0, order[3:5]] = 2  # dead on the first image only ...
        kinds[1:, order[3:5]] = 0  # ... alive on the others
        kinds[:-1, order[5]] = 1  # dead on all but the last image
        kinds[-1, order[5]] = 3
    a = np.stack([_one_image(rng, kinds[i], h, w) for i in range(max(n, 1))])  # (N, C, h, w)
    return (torch.tensor(a if n else a[0], dtype=torch.float32),)


@self_check("练习 3 数“死”通道", lambda: _random_acts, trials=4)
def check_count_dead_channels(student: Callable[[torch.Tensor], int] | None) -> bool:
    """Check ``count_dead_channels(acts) -> int``: channels all zero after ReLU on every image.

    Shapes:
        acts: ``(N, C, h, w)`` or one image ``(C, h, w)``.

    Hint:
        要数的是在**每一张**图上 ReLU 之后都全为 0 的通道：这个通道在所有图、所有位置上的最大值 <= 0。
        只要在某一张图的某一个像素上 > 0，它就还活着；不要用平均值判断。输入也可能只有一张图 (C, h, w)。
    """


COUNT_DEAD_CHANNELS = check_count_dead_channels.exercise


# ------------------------------------------------- 4. most active channels ---


def _random_top(rng: np.random.Generator) -> tuple[torch.Tensor, int]:
    c, h, w = int(rng.integers(8, 30)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    a = rng.normal(0.0, 1.0, size=(c, h, w)) * rng.uniform(0.2, 3.0, size=(c, 1, 1))
    a[:, 0, 0] = rng.uniform(0.5, 5.0, size=c)  # every channel alive: no ties at mean 0
    return torch.tensor(a, dtype=torch.float32), int(rng.integers(3, min(c, 10)))


def _same_list(got: Any, expected: list[int]) -> bool:
    try:
        values = got.tolist() if hasattr(got, "tolist") else list(got)
        return [int(v) for v in values] == expected and all(float(v) == int(v) for v in values)
    except (TypeError, ValueError):
        return False


@self_check("练习 4 最活跃的通道", lambda: _random_top, compare=_same_list)
def check_top_channels(student: Callable[[torch.Tensor, int], Sequence[int]] | None) -> bool:
    """Check ``top_channels(acts, k) -> k channel indices``, most active (mean after ReLU) first.

    Shapes:
        acts: ``(C, h, w)``; returns ``k`` indices.

    Hint:
        先 ReLU，再对每个通道的 h×w 求平均，得到 C 个数；从大到小排序，取前 k 个通道的编号
        （torch.argsort(..., descending=True) 或 topk）。
    """


TOP_CHANNELS = check_top_channels.exercise
