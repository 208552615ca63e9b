"""helpers.attribution.lrp against zennit, conservation, BatchNorm folding and refusals.

zennit (the peer, pinned in requirements.txt) runs the same rules through its own
module hooks and canonizers. What is the same and what differs, by name:

* our ``rule="epsilon"`` is zennit's ``Epsilon`` on every convolution and linear
  layer; ``"zplus"`` is ``EpsilonPlus`` (``ZPlus`` on convolutions, ``Epsilon`` on
  linear layers); ``"alphabeta"`` (2, 1) is ``EpsilonAlpha2Beta1``; (1, 0) is a
  layer map with ``AlphaBeta(1, 0)``. Both use ``Pass`` for ReLU / ReLU6, ``Norm``
  for average pooling and residual sums, and the gradient for max pooling;
* no special first-layer rule on either side (zennit's ``EpsilonPlusFlat`` /
  ``EpsilonAlpha2Beta1Flat`` put ``Flat`` on the first layer; we do not);
* stabilizers: zennit adds ``1e-6 * sign(z)`` (``sign(0) = +1``); so do we;
* the toy nets' ``Normalize`` layer gets ``Pass`` on both sides (zennit is told so
  in its layer map; a plain zennit would cross it as a gradient, dividing by STD);
* zennit's BatchNorm merge leaves the BatchNorm computing ``x / sqrt(1 + eps)``
  (it sets the running variance to 1 but keeps ``eps``); with the bundled model's
  ``eps = 1e-3`` over 49 BatchNorms that changes the oracle's forward pass, so the
  oracle's merged BatchNorms get ``eps = 0`` (then they are the identity, as ours);
* zennit has no canonizer for EfficientNet's residual blocks: tests/zennit_oracle.py
  gives it one (an ``AttributeCanonizer`` that routes ``y + x`` through zennit's ``Sum``),
  and names the BatchNorm pairs by hand (``NamedMergeBatchNorm``).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.attribution import lrp
from helpers.attribution.lrp import fold_batchnorms, lrp_model
from helpers.hooks import count_hooks
from helpers.toy import nets, variants
from helpers.toy import world as shapes
from zennit_oracle import RULES, lite0_canonizers, lrp_named, zennit_relevance

from zennit.canonizers import SequentialMergeBatchNorm  # noqa: E402  (zennit_oracle requires it)
from zennit.rules import Pass  # noqa: E402


# ---------------------------------------------------------------- toy nets ---

TOY = {"vgg": lambda: nets.load_net("vgg"), "gap": lambda: nets.load_net("gap"),
       "vgg_nopool": lambda: variants.load_toy_net("vgg_nopool"),
       "marker_hans": lambda: variants.load_toy_net("marker_hans")}


@pytest.mark.parametrize("kind", sorted(TOY))
@pytest.mark.parametrize("name", sorted(RULES))
def test_matches_zennit_on_the_toy_nets(kind, name):
    net = TOY[kind]()
    x = shapes.make_batch(3, seed=4).images  # (3, 3, 64, 64) in [0, 1]
    classes = [0, 2, 5]
    ours = lrp_named(net, x, classes, name)
    theirs = zennit_relevance(net, x, classes, name, extra=[(nets.Normalize, Pass())],
                              canonizers=[SequentialMergeBatchNorm()])
    scale = theirs.abs().max().item()
    print(f"{kind} {name}: max |ours - zennit| = {(ours.raw - theirs).abs().max():.2e} "
          f"of max |R| {scale:.3f}")
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-3, atol=1e-4 * scale)
    assert ours.class_idx == classes and ours.method == "lrp"


def test_zplus_is_alpha1_beta0():
    net = nets.load_net("gap")
    x = shapes.make_batch(2, seed=1).images
    a = lrp(net, x, [1, 3], rule="zplus")
    b = lrp(net, x, [1, 3], rule="alphabeta", alpha=1.0, beta=0.0)
    torch.testing.assert_close(a.raw, b.raw)
    assert a.info["rule"] == "zplus" and b.info["rule"] == "alpha1beta0"


# ----------------------------------------------------------- bundled model ---

@pytest.fixture(scope="module")
def cat(bundle):
    from helpers import load_image

    return bundle.to_input(load_image("cat"))


@pytest.mark.parametrize("name", ["epsilon", "zplus", "alpha2beta1"])
def test_correlates_with_zennit_on_the_bundled_model(bundle, cat, name):
    model = bundle.model
    ours = lrp_named(model, cat, None, name)
    theirs = zennit_relevance(model, cat, [ours.class_idx], name,
                              canonizers=lite0_canonizers(model), zero_bn_eps=True)[0]
    r = np.corrcoef(ours.raw.flatten().numpy(), theirs.flatten().numpy())[0, 1]
    gap = (ours.raw - theirs).abs().max().item() / theirs.abs().max().item()
    print(f"bundled {name}: correlation with zennit {r:.5f}, max difference {gap:.1e} of max |R|; "
          f"relevance sum {ours.info['relevance_sum']:.4f}, logit {ours.info['logit']:.4f}")
    assert r >= 0.98
    assert gap < 1e-2  # measured: 1.5e-3 for epsilon (eps = 1e-6 divides by tiny z), 1e-5 else


# ------------------------------------------------------------------ VGG16 ---

@pytest.fixture(scope="module")
def vgg16_bn():
    from torchvision.models import vgg16_bn

    torch.manual_seed(0)
    net = vgg16_bn(weights=None, num_classes=10)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so folding matters
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return net.eval()


def test_matches_zennit_on_vgg16_bn(vgg16_bn):
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    for name in ("epsilon", "zplus", "alpha2beta1"):
        ours = lrp_named(vgg16_bn, x, [4], name)  # [4]: a list, so the batch axis stays
        theirs = zennit_relevance(vgg16_bn, x, [4], name, canonizers=[SequentialMergeBatchNorm()],
                                  on_copy=False)[0]
        r = np.corrcoef(ours.raws[0].flatten().numpy(), theirs.flatten().numpy())[0, 1]
        print(f"VGG16-bn {name}: correlation with zennit {r:.6f}")
        torch.testing.assert_close(ours.raws[0], theirs, rtol=1e-3,
                                   atol=1e-3 * theirs.abs().max().item())


# ------------------------------------------------------------ conservation ---

class _Block(nn.Module):
    """A bias-free residual block in timm's layout (``has_skip``)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.has_skip = True
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv(x))
        return y + x if self.has_skip else y


def _bias_free_net() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2), _Block(6),
        nn.Conv2d(6, 8, 3, stride=2, groups=2, bias=False), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4, bias=False)).eval()


@pytest.mark.parametrize("rule", ["epsilon", "zplus"])
def test_relevance_is_conserved_on_a_bias_free_net_as_epsilon_goes_to_zero(rule):
    net = _bias_free_net()
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(5)).abs()
    with torch.no_grad():
        top = net(x).max(dim=1)
    assert (top.values > 0).all()  # the explained logits are positive here
    res = lrp(net, x, top.indices.tolist(), rule=rule, epsilon=1e-9)
    sums, logits = np.array(res.info["relevance_sum"]), np.array(res.info["logit"])
    print(f"{rule}: sum of input relevance {np.round(sums, 5)} vs logit {np.round(logits, 5)}")
    np.testing.assert_allclose(sums, top.values.numpy(), rtol=1e-4)
    np.testing.assert_allclose(sums, logits, rtol=1e-4)


def test_a_large_epsilon_absorbs_relevance():
    net = _bias_free_net()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    small = np.array(lrp(net, x, 1, epsilon=1e-9).info["relevance_sum"])
    large = np.array(lrp(net, x, 1, epsilon=10.0).info["relevance_sum"])
    assert (np.abs(large) < np.abs(small)).all()


# ------------------------------------------------------ folding and state ---

def test_folding_works_on_a_copy_and_keeps_the_function(bundle, cat):
    model = bundle.model
    before = {k: (v.clone(), v.data_ptr()) for k, v in model.state_dict().items()}
    twin = lrp_model(model, cat, "zplus")
    with torch.no_grad():
        torch.testing.assert_close(twin(cat), model(cat), rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in twin.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k][0]) and v.data_ptr() == before[k][1], k
    assert count_hooks(model) == 0 and count_hooks(twin) == 0
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 49
    assert all(p.requires_grad for p in model.parameters()) and not model.training


def test_fold_counts_and_pairs_by_data_flow(tiny_net, tiny_input):
    twin = copy.deepcopy(tiny_net)
    with torch.no_grad():
        expected = tiny_net(tiny_input)
        torch.testing.assert_close(fold_batchnorms(twin, tiny_input), expected)
        assert twin.features[1].folded and twin.features[5].folded
        twin.features[1] = twin.features[5] = nn.Identity()
        torch.testing.assert_close(twin(tiny_input), expected, rtol=1e-5, atol=1e-5)
    lrp(tiny_net, tiny_input)  # the swaps happen on the copy's own modules
    assert tiny_net.features[2].inplace and isinstance(tiny_net.features[1], nn.BatchNorm2d)


def test_refuses_a_fold_that_changes_the_logits(tiny_input):
    class Shared(nn.Module):  # the convolution's output feeds its BatchNorm and the head
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
            self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(4, 2)
            self.bn.running_mean.fill_(1.0)

        def forward(self, x):
            z = self.conv(x)
            return self.fc(self.pool(self.bn(z)).flatten(1)) + self.fc(self.pool(z).flatten(1))

    with pytest.raises(RuntimeError, match="other logits"):
        lrp(Shared().eval(), tiny_input)


# ---------------------------------------------------------------- refusals ---

class _FunctionalRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).amax(dim=(2, 3)))


def test_refuses_what_it_cannot_explain(tiny_input):
    with pytest.raises(ValueError, match="plain gradient"):
        lrp(_FunctionalRelu().eval(), tiny_input)
    with pytest.raises(ValueError, match="no rule for layer '1'"):
        lrp(nn.Sequential(nn.Conv2d(3, 2, 3), nn.SiLU(), nn.Flatten(), nn.Linear(1800, 2)).eval(),
            tiny_input)
    with pytest.raises(ValueError, match="cannot fold BatchNorm '0'"):
        lrp(nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten()).eval(), tiny_input)


@pytest.mark.parametrize("kwargs, words", [
    (dict(rule="gamma"), "unknown rule"),
    (dict(rule="alphabeta", alpha=2.0, beta=2.0), "alpha - beta = 1"),
    (dict(epsilon=-1.0), "epsilon must be >= 0"),
    (dict(reduce="mean"), "unknown reduce"),
])
def test_bad_arguments(tiny_net, tiny_input, kwargs, words):
    with pytest.raises(ValueError, match=words):
        lrp(tiny_net, tiny_input, **kwargs)
    assert count_hooks(tiny_net) == 0
