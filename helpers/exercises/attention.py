"""Checks for the exercises (练习) of notebooks/09_3_attention.

Each check runs the student's function on random inputs drawn from a fixed
seed (scores with padding, attention tensors with planted heads, random
attention of several layers) and compares with the stored answers; the grader
(``grader/``) draws new ones, where the answer a planted structure implies
changes from trial to trial.

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from .core import cycle, self_check


# ------------------------------------------------------------ masked softmax ---


def _scores_mask(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    n, t = (int(v) for v in rng.integers((2, 4), (6, 12)))
    scores = torch.from_numpy((rng.normal(size=(n, t)) * 3).astype(np.float32))  # (N, T)
    lengths = rng.integers(1, t + 1, size=n)
    lengths[0] = max(1, t - 2)  # at least one row with padding
    mask = torch.from_numpy(np.arange(t)[None, :] < lengths[:, None])  # (N, T), True = word
    scores[~mask] = torch.from_numpy(rng.normal(size=int((~mask).sum())).astype(np.float32)) + 5
    return scores, mask  # padding scores are large, so forgetting the mask shows


@self_check("带掩码的 softmax", lambda: _scores_mask)
def check_masked_softmax(student: Callable | None) -> bool:
    """练习：把原始打分变成注意力权重（softmax），填充位置（mask 为 False）的权重必须为 0。

    Shapes:
        scores: (N, T) float, mask: (N, T) bool -> weights: (N, T), rows sum to 1.

    Hint:
        填充位置要在 softmax 之前处理：softmax 之后再把它们乘 0，每行之和就不再是 1。
        想一想，打分是多少时 exp 之后正好为 0？softmax 沿哪一维做？
    """


MASKED_SOFTMAX = check_masked_softmax.exercise


# ------------------------------------------------------------ next-token head ---


def _planted_heads() -> Callable[[np.random.Generator], tuple[torch.Tensor, int]]:
    """Attention with a next-token head, a previous-token head and a self head in the asked
    layer, and a different next-token head in the other layers. The asked layer is the last,
    then the first, then a random one; the answer is a different head in every trial."""
    used: list[int] = []

    def make(which: str, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
        n_layers, n_heads = int(rng.integers(3, 6)), int(rng.integers(5, 9))
        t = int(rng.integers(6, 14))
        attn = torch.from_numpy(rng.normal(size=(n_layers, n_heads, t, t)).astype(np.float32))
        attn = attn.softmax(-1)  # (L, H, T, T)
        layer = {"last": n_layers - 1, "first": 0, "random": int(rng.integers(n_layers))}[which]
        nxt = int(rng.choice([h for h in range(n_heads) if h not in used]))
        used.append(nxt)
        others = [h for h in range(n_heads) if h != nxt]
        prev, same, decoy = (int(h) for h in rng.permutation(others)[:3])
        to_next = torch.diag(torch.ones(t - 1), 1)  # (T, T): token i -> i+1
        to_next[-1, -1] = 1.0
        to_prev = torch.diag(torch.ones(t - 1), -1)  # token i -> i-1
        to_prev[0, 0] = 1.0
        for i in range(n_layers):
            head = nxt if i == layer else decoy
            attn[i, head] = 0.2 * attn[i, head] + 0.8 * to_next
        attn[layer, prev] = 0.2 * attn[layer, prev] + 0.8 * to_prev
        attn[layer, same] = 0.2 * attn[layer, same] + 0.8 * torch.eye(t)
        return attn, layer

    return cycle(*(partial(make, which) for which in ("last", "first", "random")))


@self_check("最关注下一个词元的头", _planted_heads)
def check_next_token_head(student: Callable | None) -> bool:
    """练习：在给定的层里，找出“最关注下一个词元”的注意力头（平均 a[i, i+1] 最大的头）。

    Shapes:
        attn: (layers, heads, T, T) -> a head index.

    Hint:
        取 attn[layer]（形状 (heads, T, T)），每个头取第 i 行第 i+1 列的权重
        （attn[layer].diagonal(offset=1, dim1=-2, dim2=-1)），按头求平均后取最大者的下标。
    """


NEXT_TOKEN_HEAD = check_next_token_head.exercise


# ------------------------------------------------------------ attention rollout ---


def _layered_attention(rng: np.random.Generator) -> tuple[torch.Tensor]:
    """Random attention of 2-4 layers whose heads differ, so the order of the product matters."""
    n_layers, n_heads, t = int(rng.integers(2, 5)), int(rng.integers(2, 5)), int(rng.integers(3, 9))
    scores = torch.from_numpy((rng.normal(size=(n_layers, n_heads, t, t)) * 2).astype(np.float32))
    return (scores.softmax(-1),)  # (L, H, T, T), rows sum to 1


@self_check("注意力 rollout", lambda: _layered_attention)
def check_rollout(student: Callable | None) -> bool:
    """练习：把各层的注意力连同残差连接一起相乘（attention rollout，Abnar & Zuidema 2020）。

    Shapes:
        attn: (layers, heads, T, T) -> (T, T), rows sum to 1.

    Hint:
        每层先对头求平均，再把残差连接当作“关注自己”：加上单位矩阵后按行归一化；
        第 1 层在最右边，第 2 层的矩阵乘在它的左边，依此类推。结果的每行之和为 1。
    """


ROLLOUT = check_rollout.exercise


# ------------------------------------------------------------ scaled dot-product ---


def _qk(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    n_heads, d_head = int(rng.choice([2, 3, 4])), int(rng.choice([4, 8]))
    t = int(rng.integers(3, 9))
    q = torch.from_numpy((rng.normal(size=(t, n_heads * d_head)) * 1.5).astype(np.float32))
    k = torch.from_numpy((rng.normal(size=(t, n_heads * d_head)) * 1.5).astype(np.float32))
    return q, k, n_heads


@self_check("多头注意力权重", lambda: _qk)
def check_attention_probs(student: Callable | None) -> bool:
    """练习：由 Q、K 算出多头自注意力的权重 softmax(Q_h K_h^T / sqrt(d_head))。

    Shapes:
        q, k: (T, D) with D = n_heads * d_head -> (n_heads, T, T).

    Hint:
        d_head = D // n_heads；把 q、k 变成 (n_heads, T, d_head)（view 再 transpose），
        再算 q @ k^T / sqrt(d_head)，最后在最后一维做 softmax。
    """


ATTENTION_PROBS = check_attention_probs.exercise
