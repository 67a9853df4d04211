"""``python -m inference calibrate``: fit and measure calibration, fusion and suggestion thresholds.

Runs the pipeline over the validation split, then, with two-fold cross-fitting (each half
is judged with parameters fitted on the other half), measures every part: the KD-tree
alone, each classifier view, their ensemble, the fusion with the KD-tree. The shipped
parameters are then fitted on the whole split and written into the classifier's card,
with the figures and a report (confusion matrix, reliability diagram).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..colors import default_vocabulary
from ..weights import WEIGHTS_DIR, card_path
from .common import add_pipeline_arguments

PAPER_CLASSES = ["Beige", "Black", "Blue", "Brown", "Cream", "Green", "Grey", "Maroon", "Lavender"]


def add_arguments(p) -> None:
    p.add_argument("--data", default="../shared/data/fashion-products")
    p.add_argument("--split", default="val")
    p.add_argument("--report", default=None,
                   help="report folder (default: WEIGHTS_DIR/report; with --no-write, var/calibration-report)")
    p.add_argument("--cache", default="var/cache/calibration-readings.npz")
    p.add_argument("--impute-precision", type=float, default=0.96,
                   help="target accuracy of imputations where the threshold is fitted (a point above the 0.95 "
                        "wanted: judged on the held-out half, the same threshold reads about a point lower)")
    p.add_argument("--mislabel-precision", type=float, default=0.9,
                   help="target precision of mislabel flags on the simulated catalogues (above the precision "
                        "wanted on real tags: simulated errors are easier to find than real ones)")
    p.add_argument("--simulations", type=int, default=10,
                   help="noisy catalogues simulated from the split (pooled; each draw's range reported)")
    p.add_argument("--audit", default="benchmarks/golden/val_audit.csv",
                   help="audited tags of the split: fit how real tags go wrong, and judge the flag rules on them")
    p.add_argument("--class-bias", type=float, default=0.01,
                   help="L2 penalty of a bias per colour fitted after the temperature (undoes the prior that the "
                        "class-balanced sampling of training gave the members); shipped when it lowers the "
                        "cross-fitted log loss; 0: none")
    p.add_argument("--no-write", action="store_true",
                   help="measure only; leave the model card and its report as they are")
    p.add_argument("--limit", type=int, default=None, help="at most this many products (a quick check)")
    p.add_argument("--min-category-items", type=int, default=20,
                   help="categories with fewer validation products are reported together as 'other'")
    add_pipeline_arguments(p)


def _readings(args, pipeline):
    from ..evaluate.study import LabelledItem, load_readings, read, save_readings
    from ..train.cls_data import read_catalogue

    cached = load_readings(args.cache, pipeline)
    if cached is not None:
        print(f"readings from {args.cache}")
        return cached
    rows = read_catalogue(args.data, ("Apparel",), (args.split,))[:args.limit]
    items = [LabelledItem(r.id, r.path, r.category, r.color) for r in rows]
    readings = read(pipeline, items, args.batch_size)
    save_readings(args.cache, pipeline, readings)
    return readings


def run(args) -> int:
    from ..evaluate import study
    from ..evaluate.metrics import confusion_matrix, reliability_bins
    from ..evaluate.plots import confusion_image, reliability_image
    from ..pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter, classifier=args.classifier),
                        weights_dir=args.weights_dir)
    if not hasattr(pipeline.classifier, "members"):
        print("error: calibrate fits the timm classifier's temperature and thresholds; "
              f"{args.classifier!r} has none", file=sys.stderr)
        return 2
    classes, vocab = pipeline.classifier.classes, default_vocabulary()
    readings = _readings(args, pipeline)
    n = len(readings.members)
    members = pipeline.classifier.members
    unique_views = len({m.view for m in members}) == n
    names = [f"{m.view} view" if unique_views else f"{m.name} ({m.view})" for m in members]
    variants = {"kd-tree alone": readings.kd}
    for j, name in enumerate(names):
        weights = tuple(1.0 if i == j else 0.0 for i in range(n))
        variants[f"classifier, {name}"] = study.cross_fitted(readings, classes, weights, betas=(0.0,))
    equal = tuple([1.0] * n)
    ensemble = "classifier, both views" if n == 2 and unique_views else f"classifier, {n} members"
    if n > 1:
        variants[ensemble] = study.cross_fitted(readings, classes, equal, betas=(0.0,))
    plain = ensemble if n > 1 else f"classifier, {names[0]}"
    priors = f"{plain} + class priors"
    if args.class_bias > 0:
        variants[priors] = study.cross_fitted(readings, classes, equal, betas=(0.0,), bias_penalty=args.class_bias)
    variants["classifier + KD-tree fusion"] = study.cross_fitted(readings, classes, equal)
    reports = {name: study.report(p, readings.truth, classes, vocab) for name, p in variants.items()}
    fused_wins = reports["classifier + KD-tree fusion"]["log_loss"] < min(
        r["log_loss"] for k, r in reports.items() if k.startswith("classifier,"))
    priors_win = not fused_wins and priors in reports and reports[priors]["log_loss"] < reports[plain]["log_loss"]
    shipped_name = "classifier + KD-tree fusion" if fused_wins else priors if priors_win else plain
    shipped = variants[shipped_name]
    final = study.fit(readings, classes, equal, study.BETAS if fused_wins else (0.0,),
                      bias_penalty=args.class_bias if priors_win else None)
    repair = study.repeated_repair(readings, shipped, classes, vocab, args.impute_precision,
                                   args.mislabel_precision, args.simulations)
    catalogue = study.noisy.simulate(readings.truth)
    all_probs = final.apply(readings.members, readings.kd)
    chosen, impute_curve, mislabel_curve = study.thresholds_for(catalogue, all_probs, classes, vocab,
                                                                args.impute_precision, args.mislabel_precision)
    flags = None
    if args.audit and Path(args.audit).is_file() and _audit_overlap(args.audit, readings) >= 50:
        flags, chosen, impute_curve, mislabel_curve = _flag_rules(args, readings, shipped, all_probs, classes, vocab)
    elif args.audit:
        print(f"{args.audit}: fewer than 50 audited products among the readings; thresholds from uniform noise")
    categories = _per_category(args, readings, shipped, classes, vocab, chosen)
    paper = study.restricted(shipped, readings.truth, classes, PAPER_CLASSES, vocab)
    uncalibrated = study.report(study.Fit(equal, 0.0, 1.0).apply(readings.members, readings.kd),
                                readings.truth, classes, vocab)

    # measuring only leaves the shipped report alone too
    report_dir = Path(args.weights_dir or WEIGHTS_DIR) / "report"
    if args.report or args.no_write:
        report_dir = Path(args.report or "var/calibration-report")
    report_dir.mkdir(parents=True, exist_ok=True)
    pred = [classes[i] for i in shipped.argmax(1)]
    labels = [c for c in classes if c in set(readings.truth) | set(pred)]
    confusion_image(confusion_matrix(pred, readings.truth, labels), labels, report_dir / "confusion.png",
                    f"{args.split}: {shipped_name} (cross-fitted)")
    correct = np.array([p == t for p, t in zip(pred, readings.truth)])
    reliability_image(reliability_bins(shipped.max(1), correct), report_dir / "reliability.png",
                      f"{args.split}: calibrated confidence (cross-fitted)")
    summary = {
        "data": f"{Path(args.data).name}, Apparel, {args.split} split",
        "items": len(readings.keys) + len(readings.failed), "without_prediction": len(readings.failed),
        "variants": {k: _short(r) for k, r in reports.items()},
        "shipped": shipped_name, "uncalibrated": _short(uncalibrated),
        "per_class": reports[shipped_name]["per_class"],
        "paper_class_set": {"classes": PAPER_CLASSES, **_short(paper), "n": paper["n"]},
        "noisy_catalogue": repair,
        "class_bias": _bias(final, classes),
        "parameters": {**final.pipeline_parameters(), "impute_threshold": chosen.impute,
                       "mislabel_threshold": chosen.mislabel, "shade_threshold": chosen.shade,
                       "rule": chosen.rule},
        "flag_rules": flags,
        "per_category": categories,
    }
    (report_dir / "report.json").write_text(json.dumps(summary, indent=1, default=_json))
    if not args.no_write:
        _write_card(args, final, chosen, impute_curve, mislabel_curve, summary)
    _print(summary)
    return 0


def _audit_overlap(path: str, readings) -> int:
    from ..evaluate.audit import load_audit

    keys = set(readings.keys)
    return sum(1 for r in load_audit(path) if r.color and r.image.removesuffix(".jpg") in keys)


def _flag_rules(args, readings, shipped, all_probs, classes, vocab):
    """Rule variants judged on realistic noise and the audit; the shipped rule's thresholds and curves."""
    from ..evaluate import noisy, tuning
    from ..evaluate.audit import load_audit

    chosen, summary, (catalogue, probs) = tuning.compare_rules(
        readings.keys, readings.truth, shipped, classes, vocab, load_audit(args.audit), args.impute_precision,
        args.mislabel_precision, args.simulations)
    impute_curve = noisy.curve(catalogue, probs, classes, vocab, "impute", base=chosen)
    mislabel_curve = noisy.curve(catalogue, probs, classes, vocab, "mislabel", base=chosen)
    return summary, chosen, impute_curve, mislabel_curve


def _per_category(args, readings, shipped, classes, vocab, chosen) -> dict | None:
    """Each catalogue category's figures at the shipped thresholds (None without the catalogue's styles.csv)."""
    from ..evaluate.audit import load_audit
    from ..evaluate.categories import per_category
    from ..train.cls_data import read_catalogue

    if not (Path(args.data) / "styles.csv").is_file():
        print(f"{args.data}: no styles.csv, so no figures per category")
        return None
    category = {r.id: r.category for r in read_catalogue(args.data, ("Apparel",), (args.split,))}
    rows = load_audit(args.audit) if args.audit and Path(args.audit).is_file() else None
    return per_category(readings.keys, readings.truth, [category.get(k) for k in readings.keys], shipped, classes,
                        vocab, chosen, args.impute_precision, rows, args.min_category_items)


def _bias(fit, classes: list[str]) -> dict[str, float]:
    """The fitted bias per colour (empty when none was fitted)."""
    return {} if fit.bias is None else {c: round(float(b), 4) for c, b in zip(classes, fit.bias)}


def _short(r: dict) -> dict:
    keys = ("accuracy", "family_accuracy", "misclassification_rate", "macro_precision", "macro_recall",
            "macro_average_precision", "macro_roc_auc", "log_loss", "ece")
    return {k: round(float(r[k]), 4) for k in keys}


def _json(value):
    return float(value) if isinstance(value, np.floating) else str(value)


def _curve(rows):
    return [[round(r[0], 3), round(float(r[1]), 4), round(float(r[2]), 4)] for r in rows if not np.isnan(r[1])]


def _at(curve: dict, threshold: float, column: int) -> float | None:
    row = curve.get(threshold)
    return round(float(row[column]), 4) if row and not np.isnan(row[column]) else None


def _write_card(args, final, chosen, impute_curve, mislabel_curve, summary) -> None:
    path = card_path("colornet", args.weights_dir)
    card = json.loads(path.read_text())
    # written by audit-flags: kept as they are
    kept = {k: v for k, v in card.get("calibration", {}).items() if k in ("outside", "shade_families")}
    point = {r[0]: r for r in impute_curve}
    mis = {r[0]: r for r in mislabel_curve}
    card["calibration"] = {
        **{k: round(v, 4) for k, v in final.pipeline_parameters().items()},
        "fitted_on": summary["data"],
        "impute": {"threshold": chosen.impute, "target_precision": args.impute_precision,
                   "precision": _at(point, chosen.impute, 1), "coverage": _at(point, chosen.impute, 2),
                   "curve": _curve(impute_curve)},
        "mislabel": {"threshold": chosen.mislabel, "target_precision": args.mislabel_precision,
                     "precision": _at(mis, chosen.mislabel, 1), "recall": _at(mis, chosen.mislabel, 2),
                     "curve": _curve(mislabel_curve)},
        "rule": chosen.rule,
        "shade": {"threshold": chosen.shade},
        "class_bias": summary["class_bias"],
        "per_class": dict(chosen.per_class or {}),
        "noise": "audited" if summary.get("flag_rules") else "uniform swaps",
        **({"per_category": summary["per_category"]} if summary["per_category"] else {}),
        **kept,
    }
    card["evaluation"] = {k: summary[k] for k in ("data", "shipped", "variants", "paper_class_set",
                                                  "noisy_catalogue", "flag_rules")}
    path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"calibration written to {path}")


def _print(s: dict) -> None:
    print(f"\n{s['data']}: {s['items']} items, {s['without_prediction']} without a prediction (cross-fitted)")
    print(f"{'variant':46s} {'exact':>7s} {'family':>7s} {'macroP':>7s} {'macroR':>7s} {'AP':>7s} {'AUC':>7s} "
          f"{'logloss':>8s} {'ECE':>6s}")
    for name, r in {**s["variants"], "(uncalibrated ensemble)": s["uncalibrated"]}.items():
        print(f"{name:46s} {r['accuracy']:7.4f} {r['family_accuracy']:7.4f} {r['macro_precision']:7.4f} "
              f"{r['macro_recall']:7.4f} {r['macro_average_precision']:7.4f} {r['macro_roc_auc']:7.4f} "
              f"{r['log_loss']:8.4f} {r['ece']:6.4f}")
    p = s["paper_class_set"]
    print(f"paper's class set ({p['n']} items): precision {p['macro_precision']:.4f} recall {p['macro_recall']:.4f} "
          f"AP {p['macro_average_precision']:.4f} AUC {p['macro_roc_auc']:.4f} accuracy {p['accuracy']:.4f}")
    r = s["noisy_catalogue"]
    g = r["range_over_simulations"]
    print(f"noisy catalogue ({r['simulations']} simulations pooled, range per simulation in brackets): "
          f"imputation accuracy {r['imputation_accuracy']:.4f} [{g['imputation_accuracy'][0]:.3f}-"
          f"{g['imputation_accuracy'][1]:.3f}] (family {r['imputation_family_accuracy']:.4f}) coverage "
          f"{r['imputation_coverage']:.4f} [{g['imputation_coverage'][0]:.3f}-{g['imputation_coverage'][1]:.3f}]; "
          f"mislabel precision {r['mislabel_precision']:.4f} [{g['mislabel_precision'][0]:.3f}-"
          f"{g['mislabel_precision'][1]:.3f}] recall {r['mislabel_recall']:.4f} [{g['mislabel_recall'][0]:.3f}-"
          f"{g['mislabel_recall'][1]:.3f}]")
    print(f"shipped: {s['shipped']}; parameters {s['parameters']}")
    if s["class_bias"]:
        print("class biases: " + ", ".join(f"{c} {b:+.2f}" for c, b in s["class_bias"].items()))
    if s.get("flag_rules"):
        _print_rules(s["flag_rules"])
    if s.get("per_category"):
        _print_categories(s["per_category"])


def _print_rules(f: dict) -> None:
    n = f["noise_model"]
    print(f"\nmislabel rules: tags made wrong the audited way ({n['audited_pairs']} audited pairs: dE2000 scale "
          f"{n['tau_delta_e']}, copied share {n['copied_share']}, wrong rate {n['wrong_rate']}); "
          f"target precision {f['mislabel_target']}")
    print(f"{'rule':44s} {'sim P':>6s} {'sim R':>6s} {'audit P':>8s} {'audit R':>8s} {'flags':>14s}")
    for name, v in f["variants"].items():
        sim, real = v["simulated"], v["audit"]
        print(f"{name:44s} {sim['mislabel_precision']:6.3f} {sim['mislabel_recall']:6.3f} {real['precision']:8.3f} "
              f"{real['recall']:8.3f}  {real['flagged_wrong']}/{real['wrong']} wrong, {real['flagged_confirmed']} "
              f"right, {real['flagged_ambiguous']} ambiguous")
    c = f.get("audit_ceiling")
    if c:
        print(f"ceiling on the real tags: a threshold on P(tag wrong) chosen on this very audit catches at most "
              f"{c['flagged_wrong']}/{c['wrong']} wrong tags (recall {c['recall']:.3f}, {c['flagged_confirmed']} "
              f"right tags flagged) at precision >= {c['precision_target']}; {c['wrong_read_as_the_tag']} wrong tags "
              f"are read as the tag itself, {c['wrong_without_a_single_colour']} have no single right colour")
    shipped = f["variants"][f["shipped_rule"]]["simulated"]
    print(f"shipped rule: {f['shipped_rule']}; on the simulated catalogues (cross-fitted): imputation accuracy "
          f"{shipped['imputation_accuracy']:.4f} coverage {shipped['imputation_coverage']:.4f}")


def _print_categories(c: dict) -> None:
    def pct(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(f"\nper category (out-of-fold; impute at {c['impute_threshold']}, mislabel at {c['mislabel_threshold']}; "
          f"'lowest' reaches imputation accuracy {c['impute_target_precision']}, 'held-out' judges that choice on "
          f"the other half; categories under {c['min_items']} items pooled as 'other')")
    print(f"{'category':18s} {'items':>5s} {'exact':>6s} {'family':>6s} {'imp.acc':>7s} {'cover':>6s} "
          f"{'lowest':>6s} {'held-out acc/cov':>16s} {'audit: wrong flagged missed false':>34s}")
    for r in c["categories"]:
        i, m = r["impute"], r.get("mislabel")
        audit = f"{m['wrong']:6d} {m['flagged']:7d} {m['missed']:6d} {m['false_alarms']:5d}" if m else ""
        lowest = "none" if i["lowest_threshold"] is None else f"{i['lowest_threshold']:.2f}"
        print(f"{r['category']:18s} {r['items']:5d} {pct(r['accuracy']):>6s} {pct(r['family_accuracy']):>6s} "
              f"{pct(i['accuracy']):>7s} {pct(i['coverage']):>6s} {lowest:>6s} "
              f"{pct(i['held_out']['accuracy']):>8s}/{pct(i['held_out']['coverage']):<7s} {audit:>34s}")
