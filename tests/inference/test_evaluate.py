from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from inference.colors import default_vocabulary
from inference.evaluate import noisy
from inference.evaluate.metrics import (
    average_precision,
    classification_report,
    expected_calibration_error,
    fit_class_bias,
    fit_temperature,
    roc_auc,
)
from inference.suggest import Thresholds
from tests.conftest import DEMO, ROOT


def test_roc_auc_and_average_precision_on_known_cases():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    positive = np.array([1, 0, 1, 0, 0])
    assert roc_auc(scores, positive) == pytest.approx(5 / 6)  # 5 of 6 positive-negative pairs ranked right
    assert average_precision(scores, positive) == pytest.approx((1 + 2 / 3) / 2)
    assert roc_auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5  # ties count half
    assert np.isnan(roc_auc(scores, np.zeros(5)))


def test_classification_report_counts_exact_and_family_hits():
    classes = ["Blue", "Navy Blue", "Red"]
    probs = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    families = {"Blue": "Blue", "Navy Blue": "Blue", "Red": "Red"}
    r = classification_report(probs, ["Blue", "Navy Blue", "Red"], classes, families)
    assert r["accuracy"] == pytest.approx(2 / 3) and r["family_accuracy"] == 1.0
    assert r["misclassification_rate"] == pytest.approx(1 / 3)
    assert r["per_class"]["Red"]["precision"] == 1.0 and r["per_class"]["Navy Blue"]["recall"] == 0.0


def test_temperature_scaling_recovers_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 4000)
    logits = rng.normal(size=(4000, 4))
    logits[np.arange(4000), labels] += 1.0
    honest = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    sharp = honest ** 3 / (honest ** 3).sum(1, keepdims=True)  # three times too confident
    t = fit_temperature(sharp, labels)
    assert t == pytest.approx(3.0, rel=0.1)
    correct = sharp.argmax(1) == labels
    calibrated = sharp ** (1 / t)
    calibrated /= calibrated.sum(1, keepdims=True)
    assert expected_calibration_error(calibrated.max(1), correct) < expected_calibration_error(sharp.max(1), correct)


def test_class_biases_undo_a_prior_that_training_imposed():
    from inference.classify.model import calibrate

    rng = np.random.default_rng(1)
    prior = np.array([0.6, 0.3, 0.1])
    labels = rng.choice(3, 6000, p=prior)
    logits = rng.normal(size=(6000, 3))
    logits[np.arange(6000), labels] += 1.0
    balanced = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)  # as if trained on balanced classes
    bias = fit_class_bias(balanced, labels, penalty=1e-4)
    assert bias.sum() == pytest.approx(0, abs=1e-6)
    assert bias[0] > bias[1] > bias[2]  # the common class gets its prior back
    assert bias[0] - bias[2] == pytest.approx(np.log(6), rel=0.2)
    corrected = calibrate(balanced, 1.0, bias)
    nll = [-np.log(p[np.arange(6000), labels]).mean() for p in (balanced, corrected)]
    assert nll[1] < nll[0]
    assert np.abs(fit_class_bias(balanced, labels, penalty=100.0)).max() < 0.01  # a strong penalty: no bias
    np.testing.assert_allclose(calibrate(balanced, 1.0, np.zeros(3)), balanced, atol=1e-9)


def test_calibration_fits_class_biases_in_the_pipelines_order():
    from inference.classify.model import calibrate
    from inference.evaluate import study

    rng = np.random.default_rng(3)
    classes = ["Blue", "Navy Blue", "Red"]
    labels = rng.choice(3, 900, p=[0.6, 0.3, 0.1])
    members = []
    for _ in range(2):
        logits = rng.normal(size=(900, 3))
        logits[np.arange(900), labels] += 1.5
        members.append(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))  # balanced: no prior
    kd = rng.dirichlet(np.ones(3), 900)
    readings = study.Readings([f"k{i}" for i in range(900)], [classes[i] for i in labels], members, kd, {})
    fit = study.fit(readings, classes, (1.0, 1.0), betas=(0.35,), bias_penalty=0.01)
    assert fit.bias is not None and fit.bias[0] > fit.bias[2]  # the common colour gains
    assert study.fit(readings, classes, (1.0, 1.0), betas=(0.35,)).bias is None
    # the pipeline: average, temperature and biases, then fusion with beta / T
    params = fit.pipeline_parameters()
    p = calibrate((members[0] + members[1]) / 2, params["temperature"], fit.bias)
    p = p * kd ** params["fusion_beta"]
    np.testing.assert_allclose(fit.apply(members, kd), p / p.sum(1, keepdims=True), atol=1e-9)
    out = study.cross_fitted(readings, classes, (1.0, 1.0), betas=(0.0,), bias_penalty=0.01)
    plain = study.cross_fitted(readings, classes, (1.0, 1.0), betas=(0.0,))
    nll = [-np.log(q[np.arange(900), labels]).mean() for q in (plain, out)]
    assert nll[1] < nll[0]  # held out, the biases lower the log loss


def test_the_simulated_catalogue_has_the_papers_noise_rates():
    truth = ["Red", "Blue", "Black", "White"] * 250
    c = noisy.simulate(truth, seed=1)
    assert c.kinds.count("missing") == 260 and c.kinds.count("wrong") == 110
    assert all(tag != t for tag, t, k in zip(c.tags, c.truth, c.kinds) if k == "wrong")
    assert all(tag is None for tag, k in zip(c.tags, c.kinds) if k == "missing")


def test_repair_counts_imputations_and_flags():
    classes = ["Red", "Blue"]
    catalogue = noisy.NoisyCatalogue(["Red", "Red", "Blue", "Blue"], [None, "Blue", "Blue", None],
                                     ["missing", "wrong", "clean", "missing"])
    probs = np.array([[0.99, 0.01], [0.995, 0.005], [0.02, 0.98], [0.6, 0.4]])
    o = noisy.repair(catalogue, probs, classes, default_vocabulary(), Thresholds(impute=0.9, mislabel=0.9))
    assert (o.imputed, o.imputed_correct, o.flagged, o.flagged_wrong) == (1, 1, 1, 1)
    assert o.imputation_coverage == 0.5 and o.mislabel_precision == 1.0 and o.mislabel_recall == 1.0


def test_threshold_choice_meets_the_target_when_it_can():
    rows = [[0.5, 0.80, 0.9, 100], [0.7, 0.90, 0.7, 80], [0.8, 0.96, 0.5, 60], [0.9, 0.97, 0.3, 40]]
    assert noisy.choose(rows, 0.95) == 0.8
    assert noisy.choose(rows, 0.99) == 0.9  # unreachable: the most precise threshold


def test_evaluate_command_reports_the_papers_metrics(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("image,color,category,seller_color\n"
                     "images/19557.jpg,Olive,Tshirts,Red\n"
                     "images/13760.jpg,Purple,Shirts,\n"
                     "images/12677.jpg,Grey,Trousers,Grey\n"
                     "images/12244.jpg,Blue,Shirts,blue\n"
                     "images/12244.jpg,,Shirts,Blue\n")  # an audited row left without a colour
    out = tmp_path / "eval"
    proc = subprocess.run([sys.executable, "-m", "inference", "evaluate", "--images", str(DEMO), "--truth", str(truth),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "metrics.json").read_text())
    m = result["metrics"]
    for key in ("accuracy", "family_accuracy", "macro_precision", "macro_recall", "macro_average_precision",
                "macro_roc_auc", "misclassification_rate", "ece"):
        assert key in m
    assert result["suggestions"]["missing"] == 1 and result["suggestions"]["wrong"] == 1
    assert (out / "confusion.png").stat().st_size > 0 and (out / "reliability.png").stat().st_size > 0
    assert "accuracy" in proc.stdout
    assert result["items"] == 4 and "1 rows without a colour left out" in proc.stdout


def test_repeated_simulations_pool_their_counts_and_report_each_draws_range():
    from inference.evaluate import study

    classes = ["Black", "Blue", "Green", "Red", "White", "Yellow"]
    rng = np.random.default_rng(0)
    truth = [classes[i] for i in rng.integers(len(classes), size=200)]
    probs = np.full((200, len(classes)), 0.006)
    for row, t in zip(probs, truth):
        row[classes.index(t)] = 0.97
    readings = study.Readings([f"p{i}" for i in range(200)], truth, [probs], np.full_like(probs, 1 / len(classes)))
    out = study.repeated_repair(readings, probs, classes, default_vocabulary(), 0.95, 0.85, seeds=3)
    assert out["simulations"] == 3 and out["missing"] == 3 * 52 and out["wrong"] == 3 * 22
    assert out["imputation_accuracy"] == 1.0 and out["mislabel_precision"] == 1.0
    assert out["mislabel_recall"] == 1.0  # no two of these colours share a family
    for low, high in out["range_over_simulations"].values():
        assert low <= high


def test_evaluate_on_an_audit_file_reports_both_truths_and_the_real_mislabels(tmp_path):
    audit_file = tmp_path / "audit.csv"
    audit_file.write_text("image,category,seller_color,verdict,color\n"
                          "19557.jpg,Tshirts,Red,wrong colour,Olive\n"
                          "12677.jpg,Trousers,Grey,confirmed,Grey\n"
                          "12244.jpg,Shirts,Blue,confirmed,Blue\n"
                          "13760.jpg,Shirts,Purple,ambiguous,\n")
    out = tmp_path / "eval"
    proc = subprocess.run([sys.executable, "-m", "inference", "evaluate", "--images", str(DEMO / "images"),
                           "--truth", str(audit_file), "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "audit.json").read_text())
    assert (result["rows"], result["verified"]) == (4, 3)
    assert 0 <= result["audited"]["accuracy"] <= 1 and 0 <= result["tag_based"]["accuracy"] <= 1
    assert result["seller_tags"]["accuracy"] == pytest.approx(2 / 3)  # two of the three verified tags are right
    flags = result["real_mislabels"]
    assert (flags["wrong"], flags["confirmed"], flags["ambiguous"]) == (1, 2, 1)
    assert "model vs audited colour" in proc.stdout and "flags on the real tags" in proc.stdout
