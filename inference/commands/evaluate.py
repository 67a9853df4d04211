"""``python -m inference evaluate --images DIR --truth CSV``: the seed paper's evaluation.

The truth CSV has ``image`` and the true colour (``color``, ``true_color`` or
``baseColour``), optionally ``category`` and the catalogue's tag as it stands
(``seller_color``, may be empty or wrong): then the imputations and mislabel flags the
product would make are judged too. ``--simulate-noise`` builds such tags from the truth
(26% removed, 11% replaced).

An audit file (with a ``verdict`` column, see ``benchmarks/golden``) is judged both ways, side by
side: against the audited colours and against the catalogue's tags of the same products, and the
product's flags on the real tags (wrong tags found, right tags flagged, flags on ambiguous products
counted apart). ``--readings`` reuses the pipeline readings that ``calibrate`` cached for the split.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from ..colors import default_vocabulary
from .common import add_pipeline_arguments

TRUTH_COLUMNS = ("color", "true_color", "baseColour")


def add_arguments(p) -> None:
    p.add_argument("--images", required=True, help="folder the truth CSV's image paths are relative to")
    p.add_argument("--truth", required=True,
                   help="CSV: image, color[, category][, seller_color]; rows with an empty colour are left out")
    p.add_argument("--out", default="var/evaluation", help="folder for metrics.json, predictions.csv and plots")
    p.add_argument("--simulate-noise", action="store_true", help="judge suggestions on simulated noisy tags")
    p.add_argument("--readings", default="var/cache/calibration-readings.npz",
                   help="pipeline readings cached by calibrate (used when they cover every audited product)")
    p.add_argument("--shade-flags", choices=["card", "on", "off"], default="card",
                   help="shade flags as the model card ships them, or forced on/off")
    add_pipeline_arguments(p)


def _items(args):
    from ..evaluate.study import LabelledItem

    with open(args.truth, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    column = next((c for c in TRUTH_COLUMNS if rows and c in rows[0]), None)
    if column is None or "image" not in rows[0]:
        raise SystemExit(f"error: {args.truth} needs the columns image and one of {', '.join(TRUTH_COLUMNS)}")
    items, tags, unverified = [], {}, 0
    for row in rows:
        if not (row[column] or "").strip():  # an audit row without a verified colour
            unverified += 1
            continue
        key = row["image"]
        items.append(LabelledItem(key, Path(args.images) / row["image"], row.get("category") or None, row[column]))
        if "seller_color" in row:
            tags[key] = row["seller_color"]
    if unverified:
        print(f"{unverified} rows without a colour left out")
    return items, tags


def run(args) -> int:
    from ..evaluate.audit import is_audit

    if is_audit(args.truth):
        from .evaluate_audit import run_audit

        return run_audit(args)
    return _run_truth(args)


def _run_truth(args) -> int:
    from ..evaluate import noisy, study
    from ..evaluate.metrics import confusion_matrix, reliability_bins
    from ..evaluate.plots import confusion_image, reliability_image
    from ..pipeline import Pipeline, PipelineConfig
    from ..suggest import Thresholds

    items, tags = _items(args)
    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter, classifier=args.classifier),
                        weights_dir=args.weights_dir)
    classes, vocab = pipeline.classifier.classes, default_vocabulary()
    readings = study.read(pipeline, items, args.batch_size)
    if not readings.keys:
        print("error: no image could be read", file=sys.stderr)
        return 1
    # the pipeline's own decision: members combined and calibrated, then fused with the KD-tree
    combined = pipeline.classifier.combine(readings.members) if hasattr(pipeline.classifier, "combine") \
        else readings.members[0]
    probs = _fuse(combined, readings.kd, pipeline.fusion.beta)
    metrics = study.report(probs, readings.truth, classes, vocab)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pred = [classes[i] for i in probs.argmax(1)]
    labels = [c for c in classes if c in set(readings.truth) | set(pred)]
    confusion_image(confusion_matrix(pred, readings.truth, labels), labels, out / "confusion.png", "confusion")
    correct = np.array([p == t for p, t in zip(pred, readings.truth)])
    reliability_image(reliability_bins(probs.max(1), correct), out / "reliability.png", "reliability")
    card = getattr(pipeline.classifier, "card", {}).get("calibration", {})
    thresholds = Thresholds(card.get("impute", {}).get("threshold", 0.8),
                            card.get("mislabel", {}).get("threshold", 0.9))
    result = {"pipeline": pipeline.version, "items": len(items), "without_prediction": readings.failed,
              "metrics": metrics, "thresholds": {"impute": thresholds.impute, "mislabel": thresholds.mislabel}}
    catalogue = None
    if args.simulate_noise:
        catalogue = noisy.simulate(readings.truth)
    elif tags:
        given = [vocab.match(tags.get(k)) for k in readings.keys]
        kinds = ["missing" if g is None else "clean" if g == t else "wrong" for g, t in zip(given, readings.truth)]
        catalogue = noisy.NoisyCatalogue(readings.truth, given, kinds)
    if catalogue is not None:
        result["suggestions"] = noisy.repair(catalogue, probs, classes, vocab, thresholds).as_dict()
    (out / "metrics.json").write_text(json.dumps(result, indent=1, default=float))
    with open(out / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "truth", "predicted_color", "confidence"])
        for k, t, p, row in zip(readings.keys, readings.truth, pred, probs):
            w.writerow([k, t, p, f"{row.max():.4f}"])
    _print(result)
    return 0


def _fuse(probs: np.ndarray, kd: np.ndarray, beta: float) -> np.ndarray:
    if not beta:
        return probs
    logp = np.log(np.clip(probs, 1e-12, 1)) + beta * np.log(kd)
    p = np.exp(logp - logp.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def _print(r: dict) -> None:
    m = r["metrics"]
    print(f"{r['items']} images, {len(r['without_prediction'])} without a prediction; pipeline {r['pipeline']}")
    print(f"accuracy {m['accuracy']:.4f}  family accuracy {m['family_accuracy']:.4f}  misclassification rate "
          f"{m['misclassification_rate']:.4f}")
    print(f"macro precision {m['macro_precision']:.4f}  recall {m['macro_recall']:.4f}  AP "
          f"{m['macro_average_precision']:.4f}  ROC AUC {m['macro_roc_auc']:.4f}  ECE {m['ece']:.4f}")
    if "suggestions" in r:
        s = r["suggestions"]
        print(f"imputations: accuracy {s['imputation_accuracy']:.4f} coverage {s['imputation_coverage']:.4f} "
              f"({s['imputed']}/{s['missing']}); mislabel flags: precision {s['mislabel_precision']:.4f} recall "
              f"{s['mislabel_recall']:.4f} ({s['flagged']} flagged, {s['wrong']} wrong tags)")
