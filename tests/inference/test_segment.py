from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from inference.errors import UnknownComponentError, WeightsError
from inference.imageio import load_image
from inference.segment import (
    FULL,
    LOWER,
    SEGMENTERS,
    UPPER,
    BorderSegmenter,
    RegionTable,
    Segmentation,
    create_segmenter,
    get_segmenter,
    select_garment,
)
from inference.segment.u2net import U2Net
from inference.weights import WEIGHTS_DIR
from tests.conftest import DEMO

GARMENT = "garment"  # any garment class


def test_unknown_segmenter_lists_the_known_ones():
    with pytest.raises(UnknownComponentError, match="border.*none.*u2net"):
        create_segmenter("sam")


@pytest.mark.parametrize("width, params", [("small", 1_141_660), ("full", 44_051_452)])
def test_u2net_widths_outputs_and_deep_supervision(width, params):
    model = U2Net(width, num_classes=4)
    assert sum(p.numel() for p in model.parameters()) == params
    x = torch.randn(2, 3, 64, 48)
    model.train()
    outs = model(x)
    assert len(outs) == 7 and all(o.shape == (2, 4, 64, 48) for o in outs)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 37, 29)).shape == (1, 4, 37, 29)  # odd sizes work too


def test_folding_batch_norm_keeps_the_shipped_networks_outputs():
    from inference.weights import load_weights

    bundle = load_weights("u2netp_garment")
    plain, fused = U2Net("small", 4), U2Net("small", 4)
    plain.load_state_dict(bundle.state_dict)
    fused.load_state_dict(bundle.state_dict)
    with pytest.raises(RuntimeError, match="eval mode"):
        fused.fuse_for_inference()
    plain.eval()
    fused.eval().fuse_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 96, 72)
    with torch.no_grad():
        a, b = plain(x), fused(x)
    assert torch.allclose(a, b, atol=1e-3, rtol=1e-3)
    assert (a.argmax(1) == b.argmax(1)).float().mean() > 0.999


@pytest.mark.parametrize("name", SEGMENTERS.names())
def test_every_registered_segmenter_returns_a_mask_of_the_image_size(name, solid_rgb):
    seg = get_segmenter(name)
    img = solid_rgb((255, 255, 255), (90, 120))
    img[30:90, 20:70] = (200, 30, 40)
    result = seg.segment(img)
    assert result.labels.shape == (120, 90) and result.labels.dtype == np.uint8
    assert set(np.unique(result.labels)) <= {0, 1, 2, 3}


def test_border_segmenter_finds_a_product_on_a_plain_background(solid_rgb):
    img = solid_rgb((245, 245, 245), (100, 100))
    img[20:80, 30:70] = (30, 40, 80)
    result = BorderSegmenter().segment(img)
    assert result.labels[50, 50] == FULL and result.labels[5, 5] == 0
    assert "foreground_only" in result.flags


@pytest.mark.parametrize("shape, fill", [((3, 3), 128), ((2400, 1800), 90), ((300, 225), 255), ((300, 225), 0)])
def test_odd_images_get_a_mask_not_a_crash(shape, fill):
    img = np.full((*shape, 3), fill, dtype=np.uint8)
    for name in ("u2net", "border"):
        result = get_segmenter(name).segment(img)
        assert result.labels.shape == shape
        if fill in (0, 255) and name == "border":
            assert "empty" in result.flags


def test_a_mismatched_weights_file_is_refused_with_a_clear_message(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"u2netp_garment{suffix}", tmp_path / f"u2netp_garment{suffix}")
    card = json.loads((tmp_path / "u2netp_garment.json").read_text())
    card["sha256"] = "0" * 64
    (tmp_path / "u2netp_garment.json").write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="does not match its model card"):
        create_segmenter("u2net", weights_dir=str(tmp_path))


def test_missing_weights_say_so(tmp_path):
    with pytest.raises(WeightsError, match="missing"):
        create_segmenter("u2net", weights_dir=str(tmp_path))


# Hand-checked expectations on real catalogue shots (relative x, y -> expected class).
CHECKS = {
    "19557.jpg": [((0.45, 0.50), UPPER), ((0.42, 0.11), 0), ((0.95, 0.50), 0)],   # polo on a model: face excluded
    "13760.jpg": [((0.50, 0.50), UPPER), ((0.50, 0.20), 0), ((0.05, 0.60), 0)],   # checked shirt
    "12244.jpg": [((0.50, 0.45), UPPER), ((0.50, 0.12), 0), ((0.45, 0.88), LOWER)],  # shirt over trousers
    "12677.jpg": [((0.33, 0.55), LOWER), ((0.95, 0.50), 0)],                        # trousers
    "13888.jpg": [((0.36, 0.55), LOWER), ((0.05, 0.50), 0)],                        # trousers, shirt above
    "18166.jpg": [((0.50, 0.55), GARMENT), ((0.10, 0.10), 0)],                      # a dress laid flat
}


def _patch_label(labels: np.ndarray, x: float, y: float) -> int:
    h, w = labels.shape
    cy, cx = int(y * h), int(x * w)
    patch = labels[max(0, cy - 2):cy + 3, max(0, cx - 2):cx + 3]
    return int(np.bincount(patch.ravel(), minlength=4).argmax())


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_u2net_masks_look_right_on_catalogue_shots(name):
    rgb = load_image(DEMO / "images" / name).rgb
    labels = get_segmenter("u2net").segment(rgb).labels
    for (x, y), expected in CHECKS[name]:
        got = _patch_label(labels, x, y)
        if expected == GARMENT:
            assert got > 0, f"{name} at {(x, y)}: expected garment, got background"
        else:
            assert got == expected, f"{name} at {(x, y)}: expected {expected}, got {got}"


def _seg(labels):
    return Segmentation(np.array(labels, dtype=np.uint8), "test")


def test_the_category_chooses_the_region_through_the_table():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[:5] = UPPER
    labels[5:] = LOWER
    table = RegionTable({"Tshirts": "upper", "Jeans": "lower"})
    assert select_garment(_seg(labels), "tshirts", table).region == "upper"
    assert select_garment(_seg(labels), "Jeans", table).mask[7].all()
    chosen = select_garment(_seg(labels), "Ponchos", table)
    assert "region_from_largest" in chosen.flags


def test_an_empty_region_falls_back_and_records_it():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[2:8, 2:8] = FULL
    table = RegionTable({"Shirts": "upper"})
    widened = select_garment(_seg(labels), "Shirts", table)
    assert "fallback_with_full" in widened.flags and widened.mask.sum() == 36
    nothing = select_garment(_seg(np.zeros((10, 10))), "Shirts", table, foreground=labels > 0)
    assert nothing.region == "foreground" and "fallback_foreground" in nothing.flags
    empty = select_garment(_seg(np.zeros((10, 10))), "Shirts", table)
    assert "empty_garment" in empty.flags and not empty.mask.any()


def test_the_region_table_refuses_unknown_regions():
    with pytest.raises(ValueError, match="unknown regions"):
        RegionTable({"Hats": "head"})
