"""``evaluate`` on an audit file: audited and tag-based figures side by side, and the real mislabels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..colors import default_vocabulary


def _probabilities(args, pipeline, rows) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Calibrated probabilities and the garment's colour shares per audited image, from the cached readings
    when they cover them all."""
    from ..evaluate import study

    cached = study.load_readings(args.readings, pipeline) if args.readings else None
    if cached is not None:
        by_image = {f"{k}.jpg": i for i, k in enumerate(cached.keys)}
        if all(r.image in by_image or f"{Path(r.image).stem}" in cached.failed for r in rows):
            print(f"readings from {args.readings}")
            return _combined(pipeline, cached, by_image)
    items = [study.LabelledItem(r.image, Path(args.images) / r.image, r.category, r.color or "") for r in rows]
    readings = study.read(pipeline, items, args.batch_size)
    return _combined(pipeline, readings, {k: i for i, k in enumerate(readings.keys)})


def _combined(pipeline, readings, index: dict[str, int]):
    combine = getattr(pipeline.classifier, "combine", None)
    probs = combine(readings.members) if combine else readings.members[0]
    return {image: probs[i] for image, i in index.items()}, {image: readings.shares[i] for image, i in index.items()}


def run_audit(args) -> int:
    from ..evaluate import audit, study
    from ..pipeline import Pipeline, PipelineConfig
    from ..suggest import thresholds_from_card

    rows = audit.load_audit(args.truth)
    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter, classifier=args.classifier),
                        weights_dir=args.weights_dir)
    classes, vocab = pipeline.classifier.classes, default_vocabulary()
    probs, shares = _probabilities(args, pipeline, rows)
    if not probs:
        print("error: no image could be read", file=sys.stderr)
        return 1
    verified = [r for r in rows if r.color and r.image in probs]
    tagged = [r for r in verified if vocab.match(r.seller_color) in classes]
    calibration = getattr(pipeline.classifier, "card", {}).get("calibration", {})
    shade_on = {"card": None, "on": True, "off": False}[args.shade_flags]
    thresholds = thresholds_from_card(calibration, shade=0.9 if shade_on else None, shade_on=shade_on)
    result = {
        "pipeline": pipeline.version, "rows": len(rows), "verified": len(verified),
        "audited": study.report(np.array([probs[r.image] for r in verified]), [r.color for r in verified],
                                classes, vocab),
        "tag_based": study.report(np.array([probs[r.image] for r in tagged]),
                                  [vocab.match(r.seller_color) for r in tagged], classes, vocab),
        "seller_tags": audit.seller_accuracy(verified, vocab),
        "thresholds": {"rule": thresholds.rule, "impute": thresholds.impute, "mislabel": thresholds.mislabel,
                       "shade": thresholds.shade, "shade_families": dict(thresholds.shade_families or {}),
                       "outside": dict(thresholds.outside or {})},
        "real_mislabels": audit.judge_flags(rows, probs, classes, vocab, thresholds, shares).as_dict(),
        "imputations": audit.judge_imputations(rows, probs, classes, vocab, thresholds),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(json.dumps(result, indent=1, default=float))
    _print(result)
    return 0


def _print(r: dict) -> None:
    a, t, s = r["audited"], r["tag_based"], r["seller_tags"]
    print(f"{r['rows']} audited products, {r['verified']} with a verified colour; pipeline {r['pipeline']}")
    print(f"{'':28s} {'exact':>7s} {'family':>7s} {'macro AUC':>10s}")
    for name, m in (("model vs audited colour", a), ("model vs catalogue tag", t)):
        print(f"{name:28s} {m['accuracy']:7.4f} {m['family_accuracy']:7.4f} {m['macro_roc_auc']:10.4f}")
    print(f"{'catalogue tag vs audited':28s} {s['accuracy']:7.4f} {s['family_accuracy']:7.4f}")
    f, th = r["real_mislabels"], r["thresholds"]
    outside = ", ".join(f"{c} >= {v:.2f}" for c, v in th["outside"].items()) or "none"
    families = ", ".join(f"{f} >= {v:.2f}" for f, v in th["shade_families"].items()) or "none"
    print(f"flags on the real tags ({th['rule']} rule, mislabel {th['mislabel']}, shade {th['shade']}, shade flags "
          f"by family: {families}, colours the classifier does not name: {outside}): "
          f"precision {f['precision']:.4f} recall {f['recall']:.4f} — {f['flagged_wrong']} of {f['wrong']} wrong "
          f"tags flagged ({f['flagged_wrong_named']} naming the audited colour), {f['flagged_confirmed']} of "
          f"{f['confirmed']} right tags flagged, {f['flagged_ambiguous']} of {f['ambiguous']} ambiguous flagged "
          f"({f['shade_flags']} shade flags)")
    i = r["imputations"]
    print(f"imputations (verified products, tag removed): accuracy {i['accuracy']:.4f} (family "
          f"{i['family_accuracy']:.4f}) coverage {i['coverage']:.4f} ({i['imputed']}/{i['missing']})")
