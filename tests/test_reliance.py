"""The marker world, the interventions and the scores against what a net uses (fast, no weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers import attribution as attr
from helpers.attribution.occlusion import mean_input
from helpers.trust.baselines import centre_map
from helpers.toy.nets import ShapesGAP
from helpers.toy import markers
from helpers.trust import reliance


@pytest.fixture(scope="module")
def world() -> markers.MarkerBatch:
    return markers.make_marker_batch(12, seed=3, agree=False)


def test_marker_world_is_deterministic_and_its_masks_are_true(world):
    again = markers.make_marker_batch(12, seed=3, agree=False)
    assert torch.equal(world.images, again.images)
    assert not (world.shape_masks & world.marker_masks).any()  # never overlap
    assert (world.marker_masks.sum(dim=(1, 2)) == markers.MARKER ** 2).all()
    for i in range(len(world)):
        pix = world.images[i][:, world.marker_masks[i]].T  # (64, 3)
        colour = torch.tensor(markers.MARKER_COLOURS[int(world.marker_labels[i])])
        is_colour = torch.isclose(pix, colour).all(dim=1)
        is_black = (pix == 0).all(dim=1)
        assert (is_colour | is_black).all() and is_colour.sum() == is_black.sum() == 32
        shape_pix = world.images[i][:, world.shape_masks[i]]  # (3, P): one flat colour
        assert torch.allclose(shape_pix, shape_pix[:, :1])


def test_agree_changes_only_the_marker(world):
    agree = markers.make_marker_batch(12, seed=3, agree=True)
    assert torch.equal(agree.marker_labels, agree.shape_labels)
    assert torch.equal(agree.shape_labels, world.shape_labels)
    outside = ~world.marker_masks[:, None].expand_as(world.images)
    assert torch.equal(agree.images[outside], world.images[outside])
    assert (world.marker_labels != world.shape_labels).any()  # independent in the other


def test_marker_world_bad_input():
    with pytest.raises(TypeError, match="agree"):
        markers.make_marker_batch(2, 0, agree=1)
    with pytest.raises(ValueError, match="n must be at least 1"):
        markers.make_marker_batch(0, 0, agree=True)


def test_fill_regions_paints_the_background_mean_by_hand(world):
    region, bg = world.shape_masks, ~(world.shape_masks | world.marker_masks)
    out = reliance.fill_regions(world.images, region, bg)
    for i in range(3):
        colour = world.images[i].permute(1, 2, 0)[bg[i]].mean(dim=0)  # (3,) by hand
        painted = out[i].permute(1, 2, 0)[region[i]]  # (P, 3)
        assert torch.allclose(painted, colour.expand_as(painted))
        assert torch.equal(out[i][:, ~region[i]], world.images[i][:, ~region[i]])
    with pytest.raises(ValueError, match="no background"):
        reliance.fill_regions(world.images, region, torch.zeros_like(bg))


def test_control_masks_are_rectangles_of_the_area_away_from_the_evidence(world):
    evidence = world.shape_masks | world.marker_masks
    areas = world.shape_masks.sum(dim=(1, 2))
    ctrl = reliance.control_masks(evidence, areas, seed=0)
    for i in range(len(world)):
        ys, xs = torch.nonzero(ctrl[i], as_tuple=True)
        rh, rw = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        assert int(ctrl[i].sum()) == rh * rw  # a full rectangle
        assert abs(rh * rw - float(areas[i])) <= rh + rw  # the area, up to rounding one side
    grown = torch.nn.functional.max_pool2d(evidence[:, None].float(), 3, 1, 1)[:, 0] > 0
    assert not (ctrl & grown).any()
    assert torch.equal(ctrl, reliance.control_masks(evidence, areas, seed=0))


def test_control_masks_fall_back_to_a_long_rectangle():
    avoid = torch.zeros(1, 20, 20, dtype=torch.bool)
    avoid[0, 6:, :] = True  # only rows 0-4 stay free of the grown mask: no 6x6 square fits
    ctrl = reliance.control_masks(avoid, torch.tensor([36]))
    ys, xs = torch.nonzero(ctrl[0], as_tuple=True)
    assert (int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)) == (4, 9)
    with pytest.raises(ValueError, match="no free rectangle"):
        reliance.control_masks(avoid, torch.tensor([200]))


def test_no_images_is_refused_with_a_clear_message(world):
    empty, none = world.images[:0], world.shape_masks[:0]
    with pytest.raises(ValueError, match=r"no images \(N = 0\)"):
        reliance.reliance_table(ShapesGAP().eval(), empty, world.shape_labels[:0], none, none)
    with pytest.raises(ValueError, match=r"no images \(N = 0\)"):
        reliance.fill_regions(empty, none, none)


class MarkerReader(nn.Module):
    """Logit c = how many pixels have marker colour c: a net that uses only the marker."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colours = torch.tensor(markers.MARKER_COLOURS)  # (6, 3)
        hit = torch.isclose(x[:, None], colours[None, :, :, None, None]).all(dim=2)  # (N, 6, H, W)
        return hit.float().sum(dim=(2, 3))


def test_reliance_table_on_a_net_that_reads_only_the_marker(world):
    net = MarkerReader().eval()
    table = reliance.reliance_table(net, world.images, world.marker_labels, world.shape_masks,
                                    world.marker_masks)
    assert list(table) == list(reliance.CONDITIONS)
    for cond in ("original", "no shape", "control"):  # the marker is intact: 32 matching pixels
        assert table[cond] == {"accuracy": 1.0, "logit": 32.0}
    chance = float((world.marker_labels == 0).float().mean())  # argmax of all-zero logits is 0
    for cond in ("no marker", "no both"):
        assert table[cond] == {"accuracy": pytest.approx(chance), "logit": 0.0}
    assert reliance.used_regions(table) == ["marker"]


def test_without_a_marker_the_table_runs_each_distinct_condition_once(world, monkeypatch):
    """No marker to remove: "no marker" is the original and "no both" is "no shape"; those two
    reuse the earlier logits, and the table, run in chunks, equals one whole pass per condition
    computed by hand, bit for bit."""
    monkeypatch.setattr(reliance, "CHUNK", 7)
    torch.manual_seed(0)
    net = ShapesGAP().eval()
    no_marker = torch.zeros_like(world.marker_masks)
    calls = []
    handle = net.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    try:
        table = reliance.reliance_table(net, world.images, world.shape_labels, world.shape_masks, no_marker)
    finally:
        handle.remove()
    chunks = [min(7, len(world) - i) for i in range(0, len(world), 7)]
    assert len(chunks) > 1 and calls == chunks * 3  # original, no shape, control
    with torch.no_grad():
        for name, x in reliance.intervene(world.images, world.shape_masks, no_marker).items():
            logits = net(x)
            assert table[name] == {"accuracy": float((logits.argmax(1) == world.shape_labels).float().mean()),
                                   "logit": float(logits.gather(1, world.shape_labels[:, None]).mean())}, name


def test_used_regions_by_hand():
    t = {"original": {"logit": 10.0}, "control": {"logit": 9.0}, "no both": {"logit": 1.0},
         "no shape": {"logit": 4.0}, "no marker": {"logit": 8.0}}
    # drops beyond the control: shape 5, marker 1, both 8 -> shape >= 2, marker < 2
    assert reliance.used_regions(t) == ["shape"]
    assert reliance.used_regions(t, share=0.1) == ["shape", "marker"]
    t["no both"]["logit"] = 9.5
    assert reliance.used_regions(t) == []


def test_scores_and_model_contrast_on_maps_made_from_the_masks(world):
    a = world.shape_masks.float().numpy()
    b = world.marker_masks.float().numpy()
    assert reliance.evidence_scores(a, world.shape_masks) == {"pointing": 1.0, "energy": 1.0}
    assert reliance.evidence_scores(b, world.shape_masks) == {"pointing": 0.0, "energy": 0.0}
    right = reliance.model_contrast(a, b, world.shape_masks, world.marker_masks)
    assert right == {"shift_a": 1.0, "shift_b": 1.0, "moved": 1.0}
    wrong = reliance.model_contrast(b, a, world.shape_masks, world.marker_masks)
    assert wrong == {"shift_a": -1.0, "shift_b": -1.0, "moved": 0.0}
    same = reliance.model_contrast(a, a, world.shape_masks, world.marker_masks)
    assert same["moved"] == 0.0 and same["shift_a"] == 0.0


def test_centre_map_points_at_the_centre():
    m = centre_map((64, 48))
    assert m.shape == (64, 48) and m.max() <= 1.0
    top = np.argwhere(m == m.max())
    assert {tuple(p) for p in top} == {(31, 23), (31, 24), (32, 23), (32, 24)}
    assert np.allclose(m, m[::-1]) and np.allclose(m, m[:, ::-1])


def test_occlusion_fills_with_the_mean_input_of_a_self_normalizing_net(world):
    torch.manual_seed(0)
    net = ShapesGAP().eval()
    assert torch.equal(mean_input(net), torch.full((1, 3, 1, 1), 0.5))
    x = world.images[:2]
    default = attr.occlusion(net, x, [0, 1], window=16, stride=16)
    grey = attr.occlusion(net, x, [0, 1], window=16, stride=16,
                          baseline=torch.full((1, 3, 1, 1), 0.5))
    black = attr.occlusion(net, x, [0, 1], window=16, stride=16, baseline=0.0)
    torch.testing.assert_close(default.raw, grey.raw)
    assert not torch.allclose(default.raw, black.raw)
    assert default.info["baseline"] == "mean input"


def test_occlusion_default_is_zero_for_a_net_fed_normalized_input(tiny_net, tiny_input):
    assert mean_input(tiny_net) == 0.0
    a = attr.occlusion(tiny_net, tiny_input, 0, window=8, stride=8)
    b = attr.occlusion(tiny_net, tiny_input, 0, window=8, stride=8, baseline=0.0)
    torch.testing.assert_close(a.raw, b.raw)


def test_every_map_gives_each_method_its_map(tiny_net):
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    maps = attr.every_map(tiny_net, tiny_net.features[-1], x, [1, 2],
                          options={"occlusion": {"window": 8, "stride": 8},
                                   "integrated_gradients": {"steps": 4},
                                   "rise": {"count": 8}})
    from helpers import cam
    assert set(maps) == set(cam.METHODS) | set(attr.ATTRIBUTIONS)
    np.testing.assert_allclose(maps["grad_cam"][1],
                               cam.grad_cam(tiny_net, tiny_net.features[-1], x[1:], 2).cam,
                               atol=1e-6)
    np.testing.assert_allclose(maps["saliency"], attr.saliency(tiny_net, x, [1, 2]).map, atol=1e-6)
    with pytest.raises(ValueError, match="one class per image"):
        attr.every_map(tiny_net, tiny_net.features[-1], x, [1])
