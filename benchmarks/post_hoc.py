"""Post-hoc adjustments of the ensemble, judged on the golden set (the class priors at 0.01 ship).

    python -m inference calibrate --no-write     # caches the val readings this script reads
    python benchmarks/post_hoc.py [--flip]

Each variant changes the averaged members' probabilities (temperature-scaled, nothing else) after the
networks, and is measured as ``calibrate`` measures the shipped one, cross-fitted by the same halves (each
half adjusted with what was fitted on the other half):

- ``class priors (val tags, lambda)``: a bias per colour added to the calibrated log-probabilities, fitted
  by log loss (L2 penalty lambda) on the other half's catalogue tags; undoes the class-balanced sampling
  of training, but also learns the sellers' habits (navy tagged Blue);
- ``logit adjustment (tau)``: tau x log(training images of the colour), no parameter fitted
  (Menon et al. 2021; training draws colour c in proportion to n_c^0.5);
- ``flip`` (``--flip``): each member's reading averaged with its reading of the mirrored views; runs the
  pipeline over `val` again (about 5 minutes on 2 cores) and doubles the classifier's cost;
- ``native size`` (``--native``): each whole-image member whose input size differs from the pipeline's
  view (224 px) reads a view made at its own size, as in its training, instead of the view scaled.

Printed for each: audited exact / family (verified rows), tag-based `val` exact / family / log loss, the
real wrong tags flagged by the rule ``calibrate`` would ship (thresholds chosen on simulated catalogues of
the other half), and the imputations on the simulated catalogues.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def flipped_members(keys: list[str], data: Path) -> list[np.ndarray]:
    """Every member's probabilities on the val products, each averaged with its reading of the mirror image."""
    from inference.pipeline import ImageInput, Pipeline
    from inference.train.cls_data import read_catalogue

    pipeline = Pipeline()
    rows = {r.id: r for r in read_catalogue(data, ("Apparel",), ("val",))}
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(keys), 16):
        chunk = keys[start:start + 16]
        _, views, usable = pipeline.analyse_batch([ImageInput(rows[k].path, rows[k].category) for k in chunk])
        if len(usable) != len(chunk):
            raise SystemExit("a val image has no usable garment now; run calibrate --no-write again")
        plain = pipeline.classifier.member_probabilities(views)
        mirror = pipeline.classifier.member_probabilities(
            {v: [np.ascontiguousarray(x[:, ::-1]) for x in crops] for v, crops in views.items()})
        parts.append([(a + b) / 2 for a, b in zip(plain, mirror)])
        print(f"\rflip: {start + len(chunk)}/{len(keys)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]


def native_members(keys: list[str], data: Path, members: list[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """``members`` with every whole-image member of another input size read again on a view of its own size."""
    import torch

    from inference.classify.model import TimmColorClassifier
    from inference.garment import whole_image_view
    from inference.imageio import load_image

    classifier = TimmColorClassifier()
    size = classifier.input_size
    out, changed = list(members), []
    for j, m in enumerate(classifier.members):
        if m.view != "image" or m.input_size == size:
            continue
        parts = []
        for start in range(0, len(keys), 32):
            crops = [whole_image_view(load_image(data / "images" / f"{k}.jpg").rgb, m.input_size)
                     for k in keys[start:start + 32]]
            with torch.inference_mode():
                x = classifier._tensor(m, torch.from_numpy(np.stack(crops)))
                parts.append(torch.softmax(m.logits(x).float(), 1).numpy())
        out[j], changed = np.concatenate(parts), changed + [f"{m.name} at {m.input_size} px"]
    return out, changed


def judge(name, probs, keys, truth, classes, vocab, rows, args):
    from inference.evaluate import study, tuning

    by_key = {k: i for i, k in enumerate(keys)}
    verified = [(by_key[r.image.removesuffix(".jpg")], r.color) for r in rows
                if r.color and r.image.removesuffix(".jpg") in by_key]
    audited = study.report(probs[[i for i, _ in verified]], [c for _, c in verified], classes, vocab)
    exact, family = audited["accuracy"], audited["family_accuracy"]
    report = study.report(probs, truth, classes, vocab)
    _, summary, _ = tuning.compare_rules(keys, truth, probs, classes, vocab, rows, args.impute_precision,
                                         args.mislabel_precision, args.simulations)
    shipped = summary["variants"][summary["shipped_rule"]]
    real, sim = shipped["audit"], shipped["simulated"]
    print(f"{name:34s} {exact:6.3f} {family:6.3f}   {report['accuracy']:6.3f} {report['family_accuracy']:6.3f} "
          f"{report['log_loss']:6.3f}   {real['flagged_wrong']:2d}/{real['wrong']} {real['flagged_confirmed']:3d} "
          f"{real['flagged_ambiguous']:4d}  {sim['imputation_accuracy']:6.3f} {sim['imputation_coverage']:6.3f}",
          flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cache", default="var/cache/calibration-readings.npz")
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/fashion-products"))
    p.add_argument("--audit", default=str(ROOT / "benchmarks/golden/val_audit.csv"))
    p.add_argument("--penalties", default="0.003,0.01,0.03", help="L2 penalties of the class priors")
    p.add_argument("--taus", default="0.25,0.5", help="strengths of the logit adjustment")
    p.add_argument("--flip", action="store_true", help="also mirror-image averaging (runs the pipeline)")
    p.add_argument("--native", action="store_true", help="also whole-image members on views of their own size")
    p.add_argument("--impute-precision", type=float, default=0.96)
    p.add_argument("--mislabel-precision", type=float, default=0.9)
    p.add_argument("--simulations", type=int, default=10)
    args = p.parse_args()

    from cached import load

    from inference.classify.model import calibrate
    from inference.colors import default_vocabulary
    from inference.evaluate import study
    from inference.evaluate.audit import load_audit

    loaded = load(args.cache)
    if loaded is None:
        return 2
    readings, card = loaded
    keys, truth, members, kd = readings.keys, readings.truth, readings.members, readings.kd
    classes, vocab, rows = card["classes"], default_vocabulary(), load_audit(args.audit)
    equal = tuple([1.0] * len(members))
    shipped = study.cross_fitted(readings, classes, equal, betas=(0.0,))
    print(f"{len(keys)} val products, {sum(1 for r in rows if r.color)} verified; cross-fitted by halves")
    print(f"{'variant':34s} {'audited':>13s}   {'val tags: exact family logloss':>20s}   "
          f"{'real flags: wrong right ambiguous':>22s}  {'imputations acc/cov':>13s}")
    judge("members averaged, no priors", shipped, keys, truth, classes, vocab, rows, args)
    for penalty in [float(x) for x in args.penalties.split(",") if x]:
        probs = study.cross_fitted(readings, classes, equal, betas=(0.0,), bias_penalty=penalty)
        judge(f"class priors (val tags, {penalty})", probs, keys, truth, classes, vocab, rows, args)
    counts = np.array([card["training"]["train_images_per_class"][c] for c in classes], dtype=float)
    mixed = np.mean(members, 0)
    for tau in [float(x) for x in args.taus.split(",") if x]:
        adjusted = calibrate(mixed, 1.0, tau * np.log(counts))
        probs = study.cross_fitted(study.Readings(keys, truth, [adjusted], kd, {}), classes, (1.0,), betas=(0.0,))
        judge(f"logit adjustment ({tau})", probs, keys, truth, classes, vocab, rows, args)
    if args.native:
        native, changed = native_members(keys, Path(args.data), members)
        if changed:
            probs = study.cross_fitted(study.Readings(keys, truth, native, kd, {}), classes, equal, betas=(0.0,))
            judge("native size: " + ", ".join(changed), probs, keys, truth, classes, vocab, rows, args)
    if args.flip:
        flipped = flipped_members(keys, Path(args.data))
        probs = study.cross_fitted(study.Readings(keys, truth, flipped, kd, {}), classes, equal, betas=(0.0,))
        judge("flip (mirror-image averaging)", probs, keys, truth, classes, vocab, rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
