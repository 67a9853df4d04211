from __future__ import annotations

import json
import re

import numpy as np
import pytest

from inference.errors import WeightsError
from inference.train.from_reviews import (
    FeatureCache,
    Features,
    MemberHead,
    fine_tune,
    fit_head,
    read_classifier,
    write_candidate,
)
from inference.weights import WEIGHTS_DIR, load_weights


def _toy(n: int = 60, d: int = 8, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[np.arange(n), y] += 3  # class k lights feature k
    return x, y, MemberHead("m", np.zeros((c, d)), np.zeros(c), 1.0)


def test_fit_head_learns_the_labels_and_a_strong_pull_keeps_the_shipped_head():
    x, y, start = _toy()
    free = fit_head(x, y, np.ones(len(y)), start, steps=200, l2=0.0)
    held = fit_head(x, y, np.ones(len(y)), start, steps=200, l2=100.0)
    assert free.loss_after < 0.5 * free.loss_before
    assert (np.argmax(x @ free.weight.T + free.bias, 1) == y).mean() > 0.9
    assert np.abs(held.weight).max() < 0.05 < np.abs(free.weight).max()


def test_a_head_refitted_under_the_class_priors_does_not_learn_them_twice():
    rng = np.random.default_rng(2)
    prior = np.array([0.7, 0.2, 0.1])
    y = rng.choice(3, 3000, p=prior)
    x = rng.normal(size=(3000, 4)).astype(np.float32)  # features that say nothing: only the prior is learnt
    start = MemberHead("m", np.zeros((3, 4)), np.zeros(3), 1.0)
    offset = np.log(prior) - np.log(prior).mean()  # what the calibration already adds after the head
    plain = fit_head(x, y, np.ones(len(y)), start, steps=300, lr=0.05, l2=0.0)
    under = fit_head(x, y, np.ones(len(y)), start, steps=300, lr=0.05, l2=0.0, offset=offset)
    learnt = plain.bias - plain.bias.mean()
    assert learnt[0] - learnt[2] == pytest.approx(np.log(7), rel=0.15)  # without the offset: the prior itself
    assert np.abs(under.bias - under.bias.mean()).max() < 0.15  # with it: nothing left to learn


def test_weighted_labels_win_over_contradicting_ones():
    x, y, start = _toy()
    flipped = (y + 1) % 3
    labels = np.concatenate([y, flipped])
    weights = np.concatenate([np.full(len(y), 5.0), np.ones(len(y))])
    fit = fit_head(np.concatenate([x, x]), labels, weights, start, steps=200, l2=0.0)
    assert (np.argmax(x @ fit.weight.T + fit.bias, 1) == y).mean() > 0.9


def test_a_candidate_folder_is_complete_with_new_checksums_and_the_calibration_kept(tmp_path):
    shipped = read_classifier(WEIGHTS_DIR)
    rng = np.random.default_rng(0)
    features = Features([f"k{i}" for i in range(12)], [rng.random((12, h.weight.shape[1])).astype(np.float32)
                                                        for h in shipped.heads], np.full((12, 24), 1 / 24))
    tuned, training = fine_tune(shipped, features, [shipped.classes[i % 3] for i in range(12)], np.ones(12),
                                steps=5)
    version = write_candidate(WEIGHTS_DIR, tmp_path, tuned, training)

    assert version != shipped.version and version == read_classifier(tmp_path).version
    for name in ("colornet", "colornet_image", "u2netp_garment"):
        load_weights(name, tmp_path)  # checksums verified
    card = json.loads((tmp_path / "colornet.json").read_text())
    shipped_card = json.loads((WEIGHTS_DIR / "colornet.json").read_text())
    assert card["calibration"] == shipped_card["calibration"] and card["sha256"] != shipped_card["sha256"]
    assert card["fine_tuning"]["from"].startswith("colornet-") and card["fine_tuning"]["steps"] == 5
    assert read_classifier(tmp_path).probabilities(features).shape == (12, 24)


def test_class_biases_of_the_card_are_applied_and_named_in_the_version(tmp_path):
    from inference.classify.model import TimmColorClassifier, calibrate, class_bias
    from inference.train.from_reviews import card_version

    shipped = read_classifier(WEIGHTS_DIR)
    write_candidate(WEIGHTS_DIR, tmp_path, shipped, {"steps": 0})
    card_file = tmp_path / "colornet.json"
    card = json.loads(card_file.read_text())
    card["calibration"]["class_bias"] = {"Blue": 0.5, "Navy Blue": -0.5}
    card_file.write_text(json.dumps(card))
    biased = read_classifier(tmp_path)
    card["calibration"].pop("class_bias")
    card_file.write_text(json.dumps(card))
    plain = read_classifier(tmp_path)

    assert re.search(r"-t[0-9.]+-b[0-9a-f]{6}$", biased.version) and re.search(r"-t[0-9.]+$", plain.version)
    rng = np.random.default_rng(0)
    features = Features([f"k{i}" for i in range(6)], [rng.random((6, h.weight.shape[1])).astype(np.float32)
                                                       for h in plain.heads], np.full((6, 24), 1 / 24))
    p, q = plain.probabilities(features), biased.probabilities(features)
    blue, navy = plain.classes.index("Blue"), plain.classes.index("Navy Blue")
    assert (q[:, blue] > p[:, blue]).all() and (q[:, navy] < p[:, navy]).all()
    bias = class_bias({"class_bias": {"Blue": 0.5, "Navy Blue": -0.5}}, plain.classes)
    np.testing.assert_allclose(q, calibrate(calibrate(p, 1.0), 1.0, bias), atol=1e-9)
    # the pipeline's classifier and the cards agree on the version of the shipped folder
    assert TimmColorClassifier(weights_dir=str(WEIGHTS_DIR)).version == card_version(WEIGHTS_DIR) == shipped.version


def test_a_candidate_whose_file_was_replaced_is_refused(tmp_path):
    shipped = read_classifier(WEIGHTS_DIR)
    write_candidate(WEIGHTS_DIR, tmp_path, shipped, {"steps": 0})
    (tmp_path / "colornet.pt").write_bytes(b"not the weights")
    with pytest.raises(WeightsError, match="does not match its model card"):
        read_classifier(tmp_path)


def test_the_feature_cache_gives_back_what_it_was_given_and_skips_a_torn_file(tmp_path):
    cache = FeatureCache(tmp_path, "pipeline-1")
    cache.put("a", [np.arange(4.0), np.ones(3)], np.full(24, 1 / 24))
    members, kd = cache.get("a")
    assert np.allclose(members[0], np.arange(4)) and kd.shape == (24,)
    assert FeatureCache(tmp_path, "pipeline-2").get("a") is None
    cache._path("a").write_bytes(b"torn")
    assert cache.get("a") is None
