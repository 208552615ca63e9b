"""Checks for the exercises (练习) of notebooks 09_2_1_cam and 09_2_2_grad_cam.

Each check runs the student's function on a few random inputs drawn from a
fixed seed (random feature maps, random small networks) and compares with the
stored answers; the grader (``grader/``) draws new ones. On the notebook's own
model, the layer that feeds the pooling is checked by the GAP identity
``fc(mean(A)) == logits``, which needs no stored answer.

Introduced in notebooks/09_2_1_cam and notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from ..hooks import Capture, count_hooks
from .core import cycle, exercise, judge, run_check, self_check


def _acts_weight(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    c, h, w, k = (int(v) for v in rng.integers((3, 2, 2, 4), (17, 8, 8, 12)))
    acts = torch.from_numpy(rng.random((1, c, h, w), dtype=np.float32))  # (1, C, h, w) >= 0
    weight = torch.from_numpy(rng.normal(size=(k, c)).astype(np.float32))  # (classes, C)
    return acts, weight, int(rng.integers(k))


@self_check("CAM 的加权求和", lambda: _acts_weight)
def check_cam_from_weights(student: Callable | None) -> bool:
    """练习：用全连接层的权重给通道加权求和，得到 CAM（M = Σ_k W[c, k] A^k，不做 ReLU）。

    Shapes:
        acts: (1, C, h, w), fc_weight: (classes, C) -> (h, w).

    Hint:
        取出 fc_weight[class_idx]（长度 C），与 acts[0] 的每个通道相乘后按通道求和，结果形状 (h, w)。
    """


CAM_FROM_WEIGHTS = check_cam_from_weights.exercise


def _region_inputs(rng: np.random.Generator):
    acts, weight, class_idx = _acts_weight(rng)
    h, w = acts.shape[-2:]
    mask = torch.from_numpy(rng.random((h, w)) < rng.uniform(0.2, 0.6))  # (h, w) bool
    mask[int(rng.integers(h)), int(rng.integers(w))] = True  # never empty
    mask[int(rng.integers(h)), int(rng.integers(w))] = False  # never full
    return acts, weight, mask, class_idx


@self_check("遮住一块区域，分数降多少", lambda: _region_inputs)
def check_region_drop(student: Callable | None) -> bool:
    """练习：把特征图上 mask 处的激活清零（在全局平均池化之前），类别 class_idx 的分数下降多少。

    Shapes:
        acts: (1, C, h, w), fc_weight: (classes, C), mask: (h, w) bool -> float.

    Hint:
        类别分数 = 全局平均池化后的特征与类别权重的点积 + 偏置，也就是 CAM 在所有 h×w 个位置上的平均值加偏置。
        把 mask 里的位置清零，少掉的是哪一部分？除以的是 mask 里的格子数，还是全部格子数？
    """


REGION_DROP = check_region_drop.exercise


class _Block(nn.Module):
    """A ResNet-style block: conv-bn-relu-conv-bn, add the input, ReLU."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


class _ToyNet(nn.Module):
    """stem, a residual block, an optional head after it, global average pooling, fc."""

    def __init__(self, c: int, head: str, classes: int = 6) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU())
        self.block = _Block(c)
        self.head = {"none": nn.Identity(), "bn": nn.BatchNorm2d(c),
                     "conv": nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU())}[head]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.head(self.block(self.stem(x)))), 1))


def feeds_pooling(model: nn.Module, x: torch.Tensor, layer: nn.Module) -> bool:
    """The GAP identity: ``fc(mean over (h, w) of layer's output) == logits``.

    A property of a proposed answer, not a way to find it: it checks one layer.

    Shapes:
        x: (1, 3, H, W); the layer's output (1, C, h, w).
    """
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad(), Capture({"A": layer}) as cap:
        logits = model(x)  # (1, classes)
    a = cap.acts["A"]  # (1, C, h, w)
    return a.ndim == 4 and a.shape[1] == fc.in_features and \
        torch.allclose(fc(a.mean(dim=(2, 3))), logits, atol=1e-4, rtol=1e-4)


def _toy_inputs(head: str, place: int, rng: np.random.Generator) -> tuple:
    """A random toy network whose pooled layer is ``head``'s, placed at ``place`` in the list."""
    torch.manual_seed(int(rng.integers(2**31)))
    model = _ToyNet(int(rng.integers(4, 9)), head).eval()
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    named = dict(model.named_modules())
    names = ["stem", "block.conv2", "block.bn2", "block"]
    names += {"none": [], "bn": ["head"], "conv": ["head.0", "head.1", "head"]}[head]
    answer = "block" if head == "none" else "head"
    others = [names[i] for i in rng.permutation(len(names)) if names[i] != answer]
    others.insert(place % len(names), answer)
    x = torch.from_numpy(rng.normal(size=(1, 3, 12, 12)).astype(np.float32))
    return model, x, [(n, named[n]) for n in others]


# The right answer's name and its place in the list change between trials,
# so neither a stored name nor "the first/last candidate" can pass.
TOY_TRIALS = (("none", 0), ("conv", -1), ("bn", 1))


FIND_CAM_LAYER = exercise(
    "cam.check_find_cam_layer", "CAM 应该挂钩子的层（随机小网络）",
    lambda: cycle(*(partial(_toy_inputs, *t) for t in TOY_TRIALS)), trials=len(TOY_TRIALS),
    hint="用 hooks.Capture 记录每个候选层的输出 A，再看哪一层满足 "
         "fc(A.mean(dim=(2, 3))) 与模型的 logits 相等（最后一个 nn.Linear 就是 fc）。")


def check_find_cam_layer(student: Callable | None, bundle=None) -> bool:
    """练习：找出教材“本该”挂钩子的层——其输出经全局平均池化后正好是全连接层的输入。

    先在随机生成的小网络上检查（公开的固定输入），再在 ``bundle`` 的模型上用
    GAP 恒等式 fc(mean(A)) == logits 检验学生选出的那一层。
    """
    ok = run_check(FIND_CAM_LAYER, student)
    if ok and bundle is not None:
        rng = np.random.default_rng(FIND_CAM_LAYER.public_seed)
        x = torch.from_numpy(rng.normal(size=(1, 3, 224, 224)).astype(np.float32)).to(bundle.device)
        candidates = list(bundle.feature_layers[-4:])

        def holds(name: object) -> tuple[bool, None]:
            modules = dict(candidates)
            return (isinstance(name, str) and name in modules
                    and feeds_pooling(bundle.model, x, modules[name])), None

        ok = judge(f"CAM 应该挂钩子的层（{bundle.name}）", student,
                   [((bundle.model, x, candidates), holds)], FIND_CAM_LAYER.hint)
    return ok


# ------------------------------------------------------------ Grad-CAM ---


def _grads(rng: np.random.Generator) -> tuple[torch.Tensor]:
    c, h, w = (int(v) for v in rng.integers((2, 2, 3), (17, 8, 9)))
    return (torch.from_numpy(rng.normal(size=(1, c, h, w)).astype(np.float32)),)


@self_check("Grad-CAM 的通道权重", lambda: _grads)
def check_gradcam_weights(student: Callable | None) -> bool:
    """练习：由梯度计算 Grad-CAM 的通道权重 alpha_k（对梯度做全局平均池化）。

    Shapes:
        grads: (1, C, h, w) -> (C,).

    Hint:
        对 grads[0] 在空间维 (h, w) 上求平均，结果是长度为 C 的向量。
    """


GRADCAM_WEIGHTS = check_gradcam_weights.exercise


def _acts_grads(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    (grads,) = _grads(rng)
    acts = torch.from_numpy(rng.normal(size=grads.shape).astype(np.float32))  # signs vary
    return acts, grads


@self_check("贡献图", lambda: _acts_grads)
def check_contribution_map(student: Callable | None) -> bool:
    """练习：每个位置对类别分数的贡献 Σ_k (∂s/∂A^k_ij) A^k_ij（不求平均、不做 ReLU）。

    Shapes:
        acts, grads: (1, C, h, w) -> (h, w).

    Hint:
        位置 (i, j) 上通道 k 的贡献用的是它自己那一格的导数，不是整个通道导数的平均；
        整张图的总和应当等于所有通道、所有位置上“导数 × 激活值”之和。不做 ReLU。
    """


CONTRIBUTION_MAP = check_contribution_map.exercise


def _grad_inputs(rng: np.random.Generator):
    torch.manual_seed(int(rng.integers(2**31)))
    c = int(rng.integers(3, 8))
    model = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * c, 5))
    layer = model[int(rng.choice([0, 1, 2, 3]))]
    x = torch.from_numpy(rng.normal(size=(1, 3, 8, 8)).astype(np.float32))
    a, b = (int(v) for v in rng.choice(5, size=2, replace=False))
    return model, layer, x, a, b


def _no_hooks_left(student: Callable) -> Callable:
    def wrapped(model, layer, x, *classes):
        out = student(model, layer, x, *classes)
        if count_hooks(model):
            raise RuntimeError("函数结束后模型上还留着钩子：记得 handle.remove()（或用 with hooks.Capture）")
        return out

    return wrapped


@self_check("“为什么是 a 而不是 b”的梯度", lambda: _grad_inputs, wrap=_no_hooks_left)
def check_contrast_gradient(student: Callable | None) -> bool:
    """练习：两类分数之差 s_a - s_b 对某层输出的梯度（“为什么是 a 而不是 b”），不留钩子。

    Shapes:
        x: (1, 3, 8, 8) -> the layer's output shape (1, C, h, w).

    Hint:
        要解释的不是某一个类别的分数，而是两类分数之差 logits[0, a] - logits[0, b]：它也是一个标量，
        可以直接对它求导。函数结束时不能留下钩子。
    """


CONTRAST_GRADIENT = check_contrast_gradient.exercise
