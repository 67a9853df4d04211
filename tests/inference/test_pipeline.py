from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from inference.classify import CLASSIFIERS, get_classifier
from inference.errors import UnknownComponentError
from inference.garment import garment_crop
from inference.pipeline import ImageInput, Pipeline, PipelineConfig
from tests.conftest import DEMO, ROOT, jpeg_bytes


def test_importing_inference_leaves_django_out():
    code = ("import sys, inference, inference.pipeline, inference.cli; "
            "sys.exit(1 if 'django' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_unknown_classifier_lists_the_known_ones():
    with pytest.raises(UnknownComponentError, match="kdtree.*timm"):
        CLASSIFIERS.create("resnet")


@pytest.mark.parametrize("name", CLASSIFIERS.names())
def test_every_registered_classifier_gives_probabilities(name):
    clf = get_classifier(name)
    crops = [np.full((224, 224, 3), c, dtype=np.uint8) for c in ((200, 30, 40), (30, 40, 80))]
    probs = clf.predict_proba({view: crops for view in clf.views})
    assert probs.shape == (2, len(clf.classes))
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_kdtree_classifier_reads_a_solid_colour():
    clf = get_classifier("kdtree")
    probs = clf.predict_proba({"garment": [np.full((64, 64, 3), (200, 30, 40), dtype=np.uint8)]})
    assert clf.classes[int(probs.argmax())] == "Red"


def test_garment_crop_is_square_on_white_around_the_mask():
    rgb = np.zeros((100, 60, 3), dtype=np.uint8)
    mask = np.zeros((100, 60), dtype=bool)
    mask[10:90, 20:40] = True
    rgb[mask] = (0, 0, 255)
    crop = garment_crop(rgb, mask, size=50)
    assert crop.shape == (50, 50, 3)
    assert tuple(crop[25, 25]) == (0, 0, 255)
    assert tuple(crop[25, 2]) == (255, 255, 255)  # outside the garment: white, not the black background


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline()


def test_the_pipeline_reads_real_catalogue_shots(pipeline):
    results = pipeline.predict_batch([
        ImageInput(DEMO / "images" / "19557.jpg", "Tshirts", "polo"),
        ImageInput(DEMO / "images" / "12677.jpg", "Trousers", "trousers"),
    ])
    polo, trousers = results
    assert polo.ok and polo.region == "upper" and polo.family == "Green"
    assert trousers.ok and trousers.region == "lower" and trousers.family == "Grey"
    assert 0 < polo.confidence <= 1 and abs(sum(polo.probabilities.values()) - 1) < 1e-3
    assert polo.dominant_colors and polo.dominant_colors[0].fraction > 0.5


def test_a_bad_image_is_marked_and_the_batch_goes_on(pipeline, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpeg_bytes()[:300])
    blank = np.full((300, 225, 3), 255, dtype=np.uint8)
    results = pipeline.predict_batch([ImageInput(broken), ImageInput(DEMO / "images" / "13760.jpg", "Shirts"),
                                      ImageInput(blank, "Shirts")])
    assert results[0].error and "corrupt" in results[0].error and results[0].predicted_color is None
    assert results[1].ok
    assert results[2].predicted_color is None and results[2].error  # an empty garment: no guess


def test_a_tiny_garment_gives_no_confident_guess(pipeline):
    img = np.full((600, 450, 3), 255, dtype=np.uint8)
    img[290:300, 220:228] = (200, 30, 40)
    result = pipeline.predict(img, "Tshirts")
    assert result.predicted_color is None and result.confidence is None
    assert result.error


def test_reading_processes_give_the_same_results_as_the_thread_pool(pipeline, tmp_path):
    """A GPU host reads garments in processes: same regions, colours, errors and predictions, in order."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpeg_bytes()[:300])
    shots = sorted((DEMO / "images").glob("*.jpg"))[:9]
    inputs = [ImageInput(p, "Tshirts", p.stem) for p in shots[:4]] + [ImageInput(broken, "Tshirts", "broken")]
    inputs += [ImageInput(np.full((300, 225, 3), 255, dtype=np.uint8), "Shirts", "blank")]
    inputs += [ImageInput(p, "Trousers", p.stem) for p in shots[4:]]
    in_processes = Pipeline(PipelineConfig(reading_processes=3))
    try:
        assert in_processes.reading_pool.processes == 3
        here, there = pipeline.predict_batch(inputs), in_processes.predict_batch(inputs)
    finally:
        in_processes.reading_pool.close()
    assert pipeline.reading_pool is None  # a CPU host reads in its thread pool
    fields = ("key", "predicted_color", "confidence", "region", "garment_fraction", "flags", "error")
    assert [[getattr(r, f) for f in fields] for r in there] == [[getattr(r, f) for f in fields] for r in here]
    assert [r.dominant_colors for r in there] == [r.dominant_colors for r in here]
    assert sum(r.ok for r in there) == 9 and "corrupt" in there[4].error and there[5].error


def test_pipeline_version_names_its_parts(pipeline):
    assert pipeline.version.startswith("effunet_garment-")  # the default segmenter's weights
    described = pipeline.describe()
    assert described["segmenter"]["name"] == "effunet" and described["classifier"]["name"] == "timm"


def test_predict_command_writes_the_csv(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("19557.jpg", "12677.jpg"):
        (images / name).write_bytes((DEMO / "images" / name).read_bytes())
    (images / "not-an-image.png").write_bytes(b"hello")
    cats = tmp_path / "cats.csv"
    cats.write_text("image,category\n19557.jpg,Tshirts\n12677.jpg,Trousers\n")
    out = tmp_path / "preds.csv"
    proc = subprocess.run([sys.executable, "-m", "inference", "predict", str(images), "--out", str(out),
                           "--categories", str(cats)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["image", "predicted_color", "confidence", "dominant_colors", "seconds"]
    by_name = {r["image"].rsplit("/", 1)[-1]: r for r in rows}
    assert by_name["19557.jpg"]["predicted_color"] and float(by_name["19557.jpg"]["confidence"]) > 0
    entries = by_name["19557.jpg"]["dominant_colors"].split()
    assert 1 <= len(entries) <= 3 and all(len(e.split(":")) == 3 for e in entries)
    assert by_name["not-an-image.png"]["predicted_color"] == ""
    assert "not-an-image.png" in proc.stderr


def test_segment_command_writes_masks_of_the_image_size(tmp_path):
    out = tmp_path / "masks"
    proc = subprocess.run([sys.executable, "-m", "inference", "segment", str(DEMO / "images" / "12244.jpg"),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    mask = Image.open(out / "12244.png")
    assert mask.size == Image.open(DEMO / "images" / "12244.jpg").size
    values = set(np.unique(np.asarray(mask)))
    assert values <= {0, 1, 2, 3} and {1, 2} <= values


def test_pipeline_config_selects_components():
    p = Pipeline(PipelineConfig(segmenter="border", classifier="kdtree"))
    result = p.predict(jpeg_bytes((30, 40, 80)))
    assert result.predicted_color == "Navy Blue"
    assert "foreground_only" in result.flags


def test_the_papers_architecture_is_available_by_name():
    from inference.classify.backbones import create_backbone

    model = create_backbone("efficientnet_b3", num_classes=24, pretrained=False)
    assert model.get_classifier().out_features == 24


def test_a_full_resolution_shot_reads_like_its_thumbnail(pipeline, tmp_path):
    small = Image.open(DEMO / "images" / "12244.jpg").convert("RGB")
    big = tmp_path / "big.jpg"
    small.resize((1800, 2400), Image.Resampling.BICUBIC).save(big, quality=92)
    a, b = pipeline.predict(DEMO / "images" / "12244.jpg", "Shirts"), pipeline.predict(big, "Shirts")
    assert a.predicted_color == b.predicted_color and abs(a.confidence - b.confidence) < 0.1
    assert b.region == "upper"
