"""A mislabel score learnt from the audit itself, against the shipped score, on the real wrong tags.

    python -m inference calibrate --no-write     # caches the val readings this script reads
    python benchmarks/learned_flags.py [--repeats 40]

The shipped flag score is P(tag wrong) of the calibrated ensemble. This script asks whether a logistic
regression that reads more of what the pipeline saw ranks the real wrong tags better. Its target is the
audit's verdict (tag wrong against tag confirmed; ambiguous rows left out), and its features are read for
the tag:

- ``p``: log P(tag), log P(not the tag), log P(the tag's family) of the calibrated ensemble;
- ``members``: the lowest and the highest P(tag) among the five members;
- ``shape``: log of the top probability, whether the top colour is the tag or of the tag's family, and the
  ensemble's entropy;
- ``kd``: the KD-tree reading of the garment's dominant colours: log of its mass on the tag and on the tag's
  family, and its entropy (a garment of several colours).

Each variant is fitted on one half of the audited rows and scores the other half, over ``--repeats`` random
splits into halves. Printed for each, as mean ± standard deviation over the splits: the average precision of
the out-of-half scores over the real wrong tags, and the most wrong tags found at precision >= 0.80 by one
threshold on those scores (chosen after the fact, an upper bound). The shipped score has nothing fitted on
the audit, so it reads the same on every split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EPS = 1e-6
GROUPS = {"p": [0, 1, 2], "members": [3, 4], "shape": [5, 6, 7, 8], "kd": [9, 10, 11]}
VARIANTS = {
    "p": ["p"],
    "p + members": ["p", "members"],
    "p + shape": ["p", "shape"],
    "p + kd": ["p", "kd"],
    "p + shape + kd": ["p", "shape", "kd"],
    "everything": ["p", "members", "shape", "kd"],
}


def features(probs: np.ndarray, members: list[np.ndarray], kd: np.ndarray, tag: int, family: np.ndarray) -> list:
    """The features of one product for its tag (``family``: which colours share the tag's family)."""
    top = int(probs.argmax())
    at_tag = np.array([m[tag] for m in members])
    return [np.log(probs[tag] + EPS), np.log(1 - probs[tag] + EPS), np.log(probs[family].sum() + EPS),
            np.log(at_tag.min() + EPS), np.log(at_tag.max() + EPS),
            np.log(probs.max() + EPS), float(top == tag), float(family[top]), -(probs * np.log(probs + EPS)).sum(),
            np.log(kd[tag] + EPS), np.log(kd[family].sum() + EPS), -(kd * np.log(kd + EPS)).sum()]


def found_at(score: np.ndarray, wrong: np.ndarray, precision: float = 0.8) -> int:
    """The most wrong tags one threshold on ``score`` finds at ``precision`` or better."""
    order = np.argsort(-score)
    hits = np.cumsum(wrong[order])
    ok = hits / np.arange(1, len(wrong) + 1) >= precision
    return int(hits[ok].max()) if ok.any() else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cache", default="var/cache/calibration-readings.npz")
    p.add_argument("--audit", default=str(ROOT / "benchmarks/golden/val_audit.csv"))
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--penalties", default="0.3,1,3", help="inverse L2 strengths (C) of the regression")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from cached import load
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    from inference.colors import default_vocabulary
    from inference.evaluate import study
    from inference.evaluate.audit import load_audit

    loaded = load(args.cache)
    if loaded is None:
        return 2
    readings, card = loaded
    keys, members, kd = readings.keys, readings.members, readings.kd
    classes, vocab = card["classes"], default_vocabulary()
    # the shipped calibration: class priors at calibrate's default penalty when the card has them
    penalty = 0.01 if card.get("calibration", {}).get("class_bias") else None
    probs = study.cross_fitted(readings, classes, tuple([1.0] * len(members)), betas=(0.0,), bias_penalty=penalty)
    at = {k: i for i, k in enumerate(keys)}
    index = {c: i for i, c in enumerate(classes)}
    family = np.array([[vocab.family(a) == vocab.family(b) for b in classes] for a in classes])
    rows = [r for r in load_audit(args.audit) if (r.tag_wrong or r.tag_right) and r.seller_color in index
            and r.image.removesuffix(".jpg") in at]
    where = [at[r.image.removesuffix(".jpg")] for r in rows]
    x = np.array([features(probs[i], [m[i] for m in members], kd[i], index[r.seller_color],
                           family[index[r.seller_color]]) for i, r in zip(where, rows)])
    wrong = np.array([r.tag_wrong for r in rows], dtype=int)
    shipped = 1 - np.exp(x[:, 0])
    print(f"{len(rows)} audited products with a tag among the classes: {wrong.sum()} tags wrong, "
          f"{len(rows) - wrong.sum()} right; {args.repeats} random splits into halves")
    print(f"{'score':30s} {'AP':>13s} {'found at P>=0.80':>18s}")
    print(f"{'shipped: P(tag wrong)':30s} {average_precision_score(wrong, shipped):6.3f}        "
          f"{found_at(shipped, wrong):6d}")
    rng = np.random.default_rng(args.seed)
    splits = [rng.integers(0, 2, len(rows)) for _ in range(args.repeats)]
    for name, groups in VARIANTS.items():
        cols = [c for g in groups for c in GROUPS[g]]
        for c in (float(v) for v in args.penalties.split(",")):
            aps, found = [], []
            for half in splits:
                score = np.zeros(len(rows))
                for k in (0, 1):
                    fit, judge = half != k, half == k
                    mu, sd = x[fit][:, cols].mean(0), x[fit][:, cols].std(0) + 1e-9
                    model = LogisticRegression(C=c, max_iter=2000).fit((x[fit][:, cols] - mu) / sd, wrong[fit])
                    score[judge] = model.predict_proba((x[judge][:, cols] - mu) / sd)[:, 1]
                aps.append(average_precision_score(wrong, score))
                found.append(found_at(score, wrong))
            print(f"{f'learnt: {name}, C={c:g}':30s} {np.mean(aps):6.3f} ± {np.std(aps):.3f} "
                  f"{np.mean(found):8.1f} ± {np.std(found):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
