"""helpers.models: the bundled EfficientNet-Lite0 and the torchvision source, offline."""

from __future__ import annotations

import pytest
import torch
from torchvision import models as tvm

from helpers import load_image, load_model, models
from helpers.models import sources
from helpers.hooks import capture_activations, count_hooks


def test_key_map_is_by_meaning_and_complete():
    state = torch.load(sources.bundled_weight_path(), map_location="cpu", weights_only=True)
    mapping = sources.lite0_key_map(list(state))
    assert len(set(mapping.values())) == len(state) == 296
    assert mapping["_blocks.0._depthwise_conv.weight"] == "blocks.0.0.conv_dw.weight"
    assert mapping["_blocks.1._expand_conv.weight"] == "blocks.1.0.conv_pw.weight"
    assert mapping["_blocks.15._project_conv.weight"] == "blocks.6.0.conv_pwl.weight"
    assert mapping["_bn1.running_var"] == "bn2.running_var"
    # Every tensor landed with its shape intact in the timm model.
    import timm

    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    for old, new in mapping.items():
        assert target[new].shape == state[old].shape, (old, new)


def test_bundle_weights_equal_file(bundle):
    state = torch.load(sources.bundled_weight_path(), map_location="cpu", weights_only=True)
    sd = bundle.model.state_dict()
    assert torch.equal(sd["classifier.weight"], state["_fc.weight"])
    assert torch.equal(sd["blocks.3.2.conv_dw.weight"], state["_blocks.7._depthwise_conv.weight"])


@pytest.mark.parametrize("image, allowed", [
    ("cat", {"tiger cat", "tabby", "Egyptian cat"}),
    ("coffee", {"espresso", "cup", "coffee mug"}),
])
def test_bundled_top1_offline(bundle, image, allowed):
    with torch.no_grad():
        logits = bundle.model(bundle.to_input(load_image(image)))
    assert bundle.categories[int(logits.argmax())] in allowed


def test_bundle_description(bundle):
    assert bundle.source == "bundled" and len(bundle.categories) == 1000
    assert bundle.categories[281] == "tabby"
    assert bundle.preprocess(load_image("cat")).shape == (3, 224, 224)
    assert bundle.model.training is False


def test_feature_layers_compose_to_forward_and_head_is_gap_linear(bundle):
    x = bundle.to_input(load_image("coffee"))
    with torch.no_grad():
        h = x
        for _, layer in bundle.feature_layers:
            h = layer(h)
        logits = bundle.model(x)
    acts = capture_activations(bundle.model, x, {"cam": bundle.cam_layer})["cam"]
    assert torch.allclose(h, acts, atol=1e-5)
    assert h.shape == (1, 1280, 7, 7)
    # logits = W · GAP(acts) + b: the classifier weight is what CAM needs.
    manual = acts.mean((2, 3)) @ bundle.classifier_weight.T + bundle.model.classifier.bias
    assert torch.allclose(manual, logits, atol=1e-4)
    assert count_hooks(bundle.model) == 0


def test_textbook_name_with_bundled_source_says_so(capsys):
    b = load_model("vgg16_bn", source="bundled", device="cpu")
    out = capsys.readouterr().out
    assert "vgg16_bn is not bundled" in out and "bundled weights" in out
    assert b.name == "efficientnet_lite0" and b.requested == "vgg16_bn"


def test_env_variable_sets_default_source(monkeypatch):
    monkeypatch.setenv("CH9_MODEL_SOURCE", "bundled")
    assert models.resolve_source("resnet18") == "bundled"
    monkeypatch.setenv("CH9_MODEL_SOURCE", "nonsense")
    with pytest.raises(ValueError, match="source must be one of"):
        models.resolve_source("resnet18")
    with pytest.raises(ValueError, match="unknown model"):
        models.resolve_source("alexnet", "bundled")


def test_torchvision_offline_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(models, "reachable", lambda url, timeout=3.0: False)
    with pytest.raises(models.ModelSourceError) as info:
        load_model("vgg16_bn", source="torchvision", device="cpu")
    msg = str(info.value)
    assert "vgg16_bn-6c64b313.pth" in msg and str(tmp_path / "checkpoints") in msg
    assert models.resolve_source("resnet18", "auto") == "bundled"


def test_reachable_answers_for_an_open_and_a_closed_port():
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert sources.reachable(f"https://127.0.0.1:{port}/x", timeout=1.0) is True
    assert sources.reachable(f"https://127.0.0.1:{port}/x", timeout=1.0) is False  # closed now


def test_torchvision_source_loads_cached_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    torch.manual_seed(0)
    ref = tvm.resnet18(weights=None)
    path = sources.torchvision_weight_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), path)
    assert models.resolve_source("resnet18", "auto") == "torchvision"
    b = load_model("resnet18", source="auto", device="cpu")
    assert b.source == "torchvision" and b.name == "resnet18"
    assert torch.equal(b.classifier_weight, ref.fc.weight)
    assert b.cam_layer is b.model.layer4
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        h = x
        for _, layer in b.feature_layers:
            h = layer(h)
        assert torch.allclose(b.model.fc(h.mean((2, 3))), b.model(x), atol=1e-5)


def test_vgg16_bn_has_the_textbooks_45_layers():
    b = models.describe_torchvision("vgg16_bn", tvm.vgg16_bn(weights=None), ["c"] * 1000)
    assert len(b.feature_layers) == 45
    assert b.feature_layers[-1][0] == "avgpool" and b.gradcam_layer is b.model.avgpool
    assert b.classifier_weight is None


def test_device_auto_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert models.get_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert models.get_device("auto") == torch.device("cuda")
    assert models.get_device("cpu") == torch.device("cpu")


def test_setup_turns_tf32_off_so_gpu_maps_match_the_cpus(capsys) -> None:
    """On a GPU, TF32 convolutions moved pixel attributions by up to 0.29 (scripts/cuda_check.py)"""
    import helpers

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        helpers.setup()
        assert torch.backends.cudnn.allow_tf32 is False
        assert torch.backends.cuda.matmul.allow_tf32 is False
        assert "device:" in capsys.readouterr().out
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
