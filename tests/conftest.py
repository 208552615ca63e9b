"""Shared fixtures: tiny seeded models (like torchcam's toy models) and the bundled model."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch
from torch import nn

os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Agg in this process only (not MPLBACKEND): the kernels that nbval starts in the same
# pytest session keep their inline backend and store the same outputs as in JupyterLab.
matplotlib.use("Agg")
# Tiny models run fastest on one thread; on a busy 2-core machine a second
# intra-op thread mostly spins (10x slower Grad-CAM on the tiny net).
torch.set_num_threads(1)


class TinyGapNet(nn.Module):
    """conv-bn-relu x2 (with in-place ReLU, as torchvision uses) + GAP + one linear layer."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


@pytest.fixture
def tiny_net() -> TinyGapNet:
    torch.manual_seed(0)
    net = TinyGapNet()
    # Non-trivial BN statistics, so eval mode differs from identity.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.fixture
def tiny_input() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(1, 3, 32, 32, generator=g)


@pytest.fixture(scope="session")
def bundle():
    from helpers import load_model

    return load_model("efficientnet_lite0", source="bundled", device="cpu")


class TinyVggNet(nn.Module):
    """VGG-like: conv-relu-pool x2 (in-place ReLU) + flatten + two linear layers, no pooling head.

    No class weights sit on a feature map here, so CAM does not apply and Grad-CAM is needed.
    """

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 12, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(12 * 8 * 8, 32), nn.ReLU(inplace=True), nn.Linear(32, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@pytest.fixture
def tiny_vgg() -> TinyVggNet:
    torch.manual_seed(2)
    return TinyVggNet().eval()


TINY_BERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                   "the", "cat", "sat", "on", "mat", ".", "<", ">", "script"]


@pytest.fixture
def tiny_bert(tmp_path):
    """A 2-layer, 4-head BERT with seeded random weights and a 14-word vocabulary (like bertviz's)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(TINY_BERT_WORDS), encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(TINY_BERT_WORDS), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=32, max_position_embeddings=16,
                        attn_implementation="eager")
    return BertModel(config, add_pooling_layer=False).eval(), BertTokenizer(str(vocab_file))

