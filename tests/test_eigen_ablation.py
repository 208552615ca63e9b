"""Eigen-CAM and Ablation-CAM against pytorch-grad-cam and against their definitions.

Definition differences, named:

- **Eigen-CAM's sign.** pytorch-grad-cam's ``EigenCAM`` projects on ``VT[0]`` from
  ``np.linalg.svd``, whose sign is whatever LAPACK returns, then applies a ReLU; we fix
  the sign so the projection correlates positively with the channel mean. Raw maps agree
  up to that sign; the final maps agree once the peer's sign is applied to ours.
- **Ablation-CAM's ablation value.** pytorch-grad-cam's ``AblationLayer`` sets the channel
  to 0 when the layer's output has minimum 0 (after a ReLU), otherwise to
  ``min(output) - 1e7``; we always set it to 0. The layers compared here are post-ReLU,
  where the two agree. Its batch of ablated copies (``batch_size``) changes nothing.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import cam, load_image
from helpers.explanation import upsampled
from helpers.hooks import count_hooks
from helpers.toy import nets, world

pgc = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection  # noqa: E402


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def run_peer(cls, model, layer, x, classes, **kwargs) -> np.ndarray:
    ext = cls(model=model, target_layers=[layer], **kwargs)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            targets = None if classes is None else [ClassifierOutputTarget(c) for c in classes]
            return ext(input_tensor=x, targets=targets)
    finally:
        ext.activations_and_grads.release()
        model.zero_grad(set_to_none=True)


@pytest.fixture(scope="module")
def toy():
    net = nets.load_net("gap")
    return net, nets.target_layer(net), world.make_batch(3, seed=11).images


@pytest.fixture(scope="module")
def bundled_case():
    from helpers import load_model

    b = load_model("efficientnet_lite0", source="bundled", device="cpu")
    return b.model, b.gradcam_layer, b.to_input(load_image("cat"))


def _acts(model, layer, x):
    from helpers.hooks import capture_activations

    return next(iter(capture_activations(model, x, layer).values()))


# ----------------------------------------------------------- Eigen-CAM ---


def check_eigen(model, layer, x):
    res = cam.eigen_cam(model, layer, x, [0] * len(x))
    peer_maps = run_peer(pgc.EigenCAM, model, layer, x, None)
    peer_raw = torch.from_numpy(get_2d_projection(_acts(model, layer, x).numpy()))
    for i in range(len(x)):
        sign = float(np.sign(corr(res.raws[i], peer_raw[i])))
        assert abs(corr(res.raws[i], peer_raw[i])) >= 0.9999, "same component up to its sign"
        ours = upsampled(F.relu(sign * res.raws[i : i + 1]), tuple(x.shape[-2:]))[0]
        assert corr(ours, peer_maps[i]) >= 0.98, i
        np.testing.assert_allclose(ours, peer_maps[i], atol=1e-3)
    assert res.targets == [None] * len(x)
    assert count_hooks(model) == 0 and all(p.grad is None for p in model.parameters())
    return res


def test_eigen_cam_matches_pytorch_grad_cam_on_a_toy_net(toy):
    check_eigen(*toy)


def test_eigen_cam_matches_pytorch_grad_cam_on_the_bundled_model(bundled_case):
    check_eigen(*bundled_case)


def test_eigen_cam_is_the_first_principal_component_by_hand(tiny_net, tiny_input):
    """Power iteration on the covariance, independent of the SVD; no class enters."""
    a = tiny_net.features(tiny_input.clone())[0].detach().flatten(1).T  # (hw, C)
    xc = a - a.mean(0)
    v = torch.ones(xc.shape[1])
    for _ in range(500):
        v = xc.T @ (xc @ v)
        v = v / v.norm()
    proj = xc @ v
    proj = proj if corr(proj, a.mean(1)) >= 0 else -proj  # our sign rule
    res = [cam.eigen_cam(tiny_net, tiny_net.features[6], tiny_input, c) for c in (0, 3)]
    assert torch.allclose(res[0].raw.flatten(), proj, atol=1e-4 * proj.abs().max())
    np.testing.assert_array_equal(res[0].cam, res[1].cam)  # the class does not matter
    assert res[0].class_idx is None


# -------------------------------------------------------- Ablation-CAM ---


def check_ablation(model, layer, x, classes):
    res = cam.ablation_cam(model, layer, x, classes, batch_size=7)
    assert float(_acts(model, layer, x).min()) == 0.0, "post-ReLU: the peers' ablation agrees"
    peer_maps = run_peer(pgc.AblationCAM, model, layer, x, classes, batch_size=16)
    for i in range(len(x)):
        assert corr(res.maps[i], peer_maps[i]) >= 0.98, i
    np.testing.assert_allclose(res.maps, peer_maps, atol=2e-3)
    assert count_hooks(model) == 0 and all(p.grad is None for p in model.parameters())
    return res


def test_ablation_cam_matches_pytorch_grad_cam_on_a_toy_net(toy):
    net, layer, x = toy
    check_ablation(net, layer, x, [0, 1, 2])


def test_ablation_cam_matches_pytorch_grad_cam_on_the_bundled_model(bundled_case):
    """On the centre 128² of the photo (a 4 x 4 map): the peer runs the whole network once
    per channel (1280 of them), so the full 224² photo costs it over a minute; ours runs
    only the layers after ``bn2`` on the ablated copies (``settings["path"] == "tail"``)."""
    model, layer, x = bundled_case
    x = x[..., 48:176, 48:176]
    res = check_ablation(model, layer, x, [int(model(x).argmax())])
    assert res.settings["path"] == "tail", res.settings


def test_ablation_weights_by_hand(tiny_net, tiny_input):
    """w_k = (y - y_k) / y with channel k of features[6] zeroed by hand (split network)."""
    c = 3
    acts = tiny_net.features(tiny_input.clone()).detach()  # (1, 16, 16, 16)
    head = lambda a: tiny_net.fc(torch.flatten(tiny_net.pool(a), 1))[0, c]  # noqa: E731
    y = head(acts)
    expected = []
    for k in range(acts.shape[1]):
        a = acts.clone()
        a[:, k] = 0
        expected.append((y - head(a)) / y)
    res = cam.ablation_cam(tiny_net, tiny_net.features[6], tiny_input, c, batch_size=5)
    assert torch.allclose(res.weights, torch.stack(expected).detach(), atol=1e-5)
    # a callable target: the difference of two classes, w from that score instead
    diff = lambda logits: logits[:, 3] - logits[:, 1]  # noqa: E731
    res2 = cam.ablation_cam(tiny_net, tiny_net.features[6], tiny_input, diff)
    head2 = lambda a: (lambda o: o[0, 3] - o[0, 1])(  # noqa: E731
        tiny_net.fc(torch.flatten(tiny_net.pool(a), 1)))
    a0 = acts.clone()
    a0[:, 0] = 0
    assert torch.isclose(res2.weights[0], ((head2(acts) - head2(a0)) / head2(acts)).detach(),
                         atol=1e-5)
