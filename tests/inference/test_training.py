from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from inference.cli import main
from inference.segment import create_segmenter
from inference.weights import load_weights


@pytest.fixture
def tiny_ccp(tmp_path):
    """A Clothing-Co-Parsing-shaped folder: photos, 59-label masks, labels.csv."""
    root = tmp_path / "ccp"
    (root / "photos").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "labels.csv").write_text("value,name,region\n0,null,background\n41,skin,skin\n51,t-shirt,upper\n"
                                     "31,pants,lower\n14,dress,full\n")
    rng = np.random.default_rng(0)
    for i in range(18, 30):  # 0023 and 0026 fall in the val split
        photo = np.full((96, 64, 3), 230, dtype=np.uint8)
        mask = np.zeros((96, 64), dtype=np.uint8)
        mask[10:20, 24:40], photo[10:20, 24:40] = 41, (220, 180, 150)
        mask[20:50, 16:48], photo[20:50, 16:48] = 51, rng.integers(0, 255, 3)
        mask[50:90, 20:44], photo[50:90, 20:44] = 31, rng.integers(0, 255, 3)
        Image.fromarray(photo).save(root / "photos" / f"{i:04d}.jpg")
        Image.fromarray(mask).save(root / "masks" / f"{i:04d}.png")
    return root


def test_segmenter_training_checkpoints_resumes_and_exports(tiny_ccp, tmp_path):
    out, export = tmp_path / "run", tmp_path / "weights"
    args = ["train-segmenter", "--data", str(tiny_ccp), "--out", str(out), "--epochs", "1", "--batch-size", "4",
            "--input-size", "64", "48", "--load-size", "96", "64", "--device", "cpu"]
    assert main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and "miou_garment" in history[0] and "iou_binary" in history[0]
    assert main([*args[:6], "2", *args[7:], "--resume", "--export", str(export),
                 "--class-weights", "1", "1", "1", "3"]) == 0
    assert len(json.loads((out / "history.json").read_text())) == 2
    bundle = load_weights("u2netp_garment", export)
    assert bundle.card["input_size"] == [64, 48] and bundle.card["classes"][1] == "upper"
    assert "--class-weights 1.0 1.0 1.0 3.0" in bundle.card["training"]["command"]
    seg = create_segmenter("u2net", weights_dir=str(export))
    assert seg.segment(np.zeros((100, 80, 3), dtype=np.uint8)).labels.shape == (100, 80)


@pytest.fixture
def tiny_catalogue(tmp_path):
    root = tmp_path / "fashion"
    (root / "images").mkdir(parents=True)
    colors = {"Red": (200, 30, 40), "Blue": (40, 80, 200), "Black": (20, 20, 20)}
    with open(root / "styles.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "year",
                    "usage", "width", "height", "split"])
        for i in range(24):
            name = list(colors)[i % 3]
            img = np.full((80, 60, 3), 255, dtype=np.uint8)
            img[15:65, 12:48] = colors[name]
            Image.fromarray(img).save(root / "images" / f"{i}.jpg")
            w.writerow([i, "Men", "Apparel", "Topwear", "Tshirts", name, "", "", "", 60, 80,
                        "val" if i % 6 == 0 else "train"])
    return root


def test_classifier_training_runs_and_exports_a_card(tiny_catalogue, tmp_path):
    out, export = tmp_path / "run", tmp_path / "weights"
    assert main(["train-classifier", "--data", str(tiny_catalogue), "--out", str(out), "--export", str(export),
                 "--segmenter", "border", "--pretrained", "none", "--input-size", "64", "--epochs", "1",
                 "--batch-size", "4", "--min-count", "1", "--device", "cpu"]) == 0
    card = json.loads((export / "colornet.json").read_text())
    assert card["classes"] == ["Black", "Blue", "Red"] and card["architecture"] == "efficientnet_lite0"
    assert card["training"]["optimizer"] == {"name": "SGD", "lr": 0.01, "momentum": 0.95, "weight_decay": 1e-06,
                                             "nesterov": True, "batch_size": 4}
    assert "val_accuracy" in json.loads((out / "history.json").read_text())[0]
    # a member that learns another card's colours, in its order (images of other colours left out)
    (tmp_path / "wanted.json").write_text(json.dumps({"classes": ["Red", "Black"]}))
    assert main(["train-classifier", "--data", str(tiny_catalogue), "--out", str(tmp_path / "run2"), "--export",
                 str(export), "--name", "member", "--classes-from", str(tmp_path / "wanted.json"), "--all-categories",
                 "--segmenter", "border", "--pretrained", "none", "--input-size", "64", "--epochs", "1",
                 "--batch-size", "4", "--device", "cpu"]) == 0
    member = json.loads((export / "member.json").read_text())
    assert member["classes"] == ["Red", "Black"]


@pytest.mark.slow
def test_train_all_runs_every_network_and_calibrates_on_a_tiny_configuration(tiny_ccp, tiny_catalogue, tmp_path):
    out = tmp_path / "all"
    assert main(["train-all", "--out", str(out), "--tiny", "--ccp", str(tiny_ccp), "--catalogue",
                 str(tiny_catalogue), "--device", "cpu"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["seconds"]) == {"segmenter", "b3", "lite2", "lite0", "calibrate"}
    for name in ("effunet_garment", "colornet", "colornet_lite2", "colornet_image"):
        assert f"{name}.pt" in summary["weights"] and f"{name}.json" in summary["weights"]
    card = json.loads((out / "weights" / "colornet.json").read_text())
    assert card["architecture"] == "efficientnet_b3" and card["input_size"] == 64
    assert [m["weights"] for m in card["ensemble"]] == ["colornet_lite2", "colornet_image"]
    assert "temperature" in card["calibration"] and (out / "report" / "report.json").is_file()
    assert isinstance(card["calibration"]["class_bias"], dict)  # fitted, or empty where it did not lower the loss
    segmenter = json.loads((out / "weights" / "effunet_garment.json").read_text())
    assert segmenter["architecture"] == "EffUNet-Lite0"
    assert create_segmenter("effunet", weights_dir=str(out / "weights")).segment(
        np.zeros((50, 40, 3), dtype=np.uint8)).labels.shape == (50, 40)


@pytest.mark.slow
@pytest.mark.parametrize("probe", ["imagenet", "members"])
def test_label_issues_ranks_tags_that_contradict_the_pixels(tiny_catalogue, tmp_path, probe):
    # two of the red garments carry a wrong tag; out-of-fold probabilities should single them out
    styles = tiny_catalogue / "styles.csv"
    rows = list(csv.DictReader(styles.open()))
    for row in rows:
        row["split"] = "train"
    rows[0]["baseColour"], rows[3]["baseColour"] = "Blue", "Black"  # both are red garments
    with styles.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "issues.csv"
    assert main(["label-issues", "--data", str(tiny_catalogue), "--out", str(out), "--cache",
                 str(tmp_path / "features.npz"), "--folds", "3", "--batch-size", "8", "--probe", probe]) == 0
    result = {r["id"]: r for r in csv.DictReader(out.open())}
    assert len(result) == 24
    assert result["0"]["suggested"] == "Red" and result["3"]["suggested"] == "Red"
    assert float(result["0"]["weight"]) < 1 and float(result["3"]["weight"]) < 1
    assert sum(float(r["weight"]) < 1 for r in result.values()) <= 6
    # the cached features name what they were read with, so new weights are read again
    tag = str(np.load(tmp_path / f"features-{probe}.npz")["tag"])
    assert tag == "imagenet" if probe == "imagenet" else tag.startswith("effunet_garment-") and "colornet-" in tag
