"""Checks for the exercises (练习) of notebooks/09_ext_trust.

The deletion AUC and the pointing game are checked on random inputs drawn from
a fixed seed (small random networks, random maps, masks and peaks at set
distances) against stored answers; the grader (``grader/``) draws new ones. The
sanity-check prediction is checked against the curves the notebook has just
measured: the right answer is whatever came out, never a stored one.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .core import FAILED, call_student, self_check

# ------------------------------------------------------------ deletion AUC ---


def _auc_inputs(rng: np.random.Generator) -> tuple:
    torch.manual_seed(int(rng.integers(2**31)))
    c, k = int(rng.integers(3, 7)), int(rng.integers(3, 6))
    model = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(), nn.Linear(4 * c, k)).eval()
    with torch.no_grad():
        model[-1].weight.mul_(4.0)  # confident enough that the curve moves
    h, w = (int(v) for v in rng.integers(4, 9, size=2))
    divisors = [d for d in range(2, h * w + 1) if (h * w) % d == 0 and d <= 16]
    steps = int(rng.choice(divisors))
    x = torch.from_numpy(rng.normal(size=(1, 3, h, w)).astype(np.float32))
    saliency = torch.from_numpy(rng.permutation(h * w).reshape(h, w).astype(np.float32))  # no ties
    return model, x, saliency, int(rng.integers(k)), steps


@self_check("删除曲线的 AUC", lambda: _auc_inputs, atol=1e-5)
def check_deletion_auc(student: Callable | None) -> bool:
    """练习：写出删除曲线的 AUC（删除的像素置 0，概率用 softmax，梯形公式求面积）。

    Shapes:
        x: (1, 3, H, W); saliency: (H, W) without ties; ``steps`` divides ``H * W``.

    Hint:
        按 saliency 从大到小给像素排序；第 k 步（k = 0..steps）把前 k·H·W/steps 个像素
        （三个通道一起）置 0，记下 softmax(model(x_k))[0, class_idx]；横坐标是删除比例 k/steps，
        用梯形公式（np.trapezoid）求面积。
    """


DELETION_AUC = check_deletion_auc.exercise


# ------------------------------------------------------------ pointing game ---


def _pointing_inputs() -> Callable[[np.random.Generator], tuple]:
    # A peak just inside, just outside and diagonally off the tolerance disk, in turn:
    # a square instead of a disk, or the wrong comparison, fails one of them.
    cases = iter([(2, 0, 2), (3, 0, 2), (2, 2, 2), (0, 0, 0), (2, 1, 2), (1, 0, 0)])

    def make(rng: np.random.Generator) -> tuple:
        dr, dc, tol = next(cases, (int(rng.integers(0, 4)), int(rng.integers(0, 4)), 2))
        h, w = int(rng.integers(16, 24)), int(rng.integers(16, 24))
        top, left = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        size = int(rng.integers(4, 8))
        mask = np.zeros((h, w), dtype=bool)
        mask[top:top + size, left:left + size] = True
        cam = rng.random((h, w)) * 0.9
        cam[top + size - 1 + dr, left + size - 1 + dc] = 1.0  # off the bottom-right corner
        return cam, mask, tol

    return make


@self_check("指向游戏", _pointing_inputs, trials=6)
def check_pointing_hit(student: Callable | None) -> bool:
    """练习：指向游戏（pointing game）——热力图的最大值是否落在物体的掩码上（允许 tolerance 像素的误差）。

    Shapes:
        cam: (H, W) without ties at the maximum; mask: (H, W) bool.

    Hint:
        用 np.unravel_index(cam.argmax(), cam.shape) 找到最大值的位置 (i, j)；
        命中 = 掩码里有一个像素到 (i, j) 的欧氏距离 ≤ tolerance。
    """


POINTING_HIT = check_pointing_hit.exercise


# ------------------------------------------------------------ sanity-check prediction ---

CHANGES, STAYS = "变", "不变"


def measured_verdict(curve: Sequence[float], step: int = 0, threshold: float = 0.9) -> str:
    """``"不变"`` when the Spearman value after ``step`` is still at least ``threshold``."""
    value = float(np.asarray(curve, dtype=np.float64)[step])
    return STAYS if np.isfinite(value) and value >= threshold else CHANGES


def check_sanity_prediction(student: Callable | None, curves: Mapping[str, Sequence[float]],
                            step: int = 0, threshold: float = 0.9) -> bool:
    """练习：预测健全性检查——随机化到第 ``step`` 步（默认第 0 步：只随机化分类层）时，
    每种方法的图“变”还是“不变”？

    ``student(method)`` returns ``"变"`` or ``"不变"``; it is compared with the measured
    curves (Spearman against the original map, one value per randomization step):
    ``"不变"`` means the value after ``step`` is still at least ``threshold``.
    """
    title = "预测健全性检查"
    if student is None:
        print(f"○ {title}：还没有完成。写好函数后重新运行本单元格。")
        return False
    wrong = []
    for method, curve in curves.items():
        guess = call_student(title, student, method)
        if guess is FAILED:
            return False
        if guess not in (CHANGES, STAYS):
            print(f"✗ {title}：{method} 的答案应为 \"{CHANGES}\" 或 \"{STAYS}\"，得到 {guess!r}")
            return False
        if guess != measured_verdict(curve, step, threshold):
            wrong.append(method)
    if wrong:
        print(f"✗ {title}：{len(wrong)} / {len(curves)} 种方法预测得与实测不符：{', '.join(wrong)}。\n"
              f"  提示：Spearman 仍 ≥ {threshold} 的算“{STAYS}”。想一想：这种方法的反向传播"
              f"经过分类层的权重吗？经过时，权重换掉后图还能保持原样吗？")
        return False
    print(f"✓ {title}：{len(curves)} 种方法的预测都与实测一致！")
    return True
