"""Choosing the mislabel rule and its thresholds on catalogues whose tags go wrong the audited way.

Every rule of ``inference.suggest`` is reduced, per product, to a severity (no flag possible,
``family`` or ``shade``) and a score that a threshold cuts; the product's flags at any threshold
then follow without re-running the rule (``flag_features`` agrees with ``propose``, a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..colors import ColorVocabulary
from ..suggest import CONFIDENT_RULE, FAMILY_RULE, TAG_RULE, Thresholds, confident_colour
from . import noise_model, noisy
from .study import fold_of, value_range

GRID = np.round(np.arange(0.30, 0.996, 0.01), 3)
NONE, FAMILY, SHADE = 0, 1, 2


@dataclass(frozen=True)
class Variant:
    name: str
    rule: str
    shade: bool


VARIANTS = (
    Variant("family flags (P(tag's family wrong))", FAMILY_RULE, False),
    Variant("family + shade flags", FAMILY_RULE, True),
    Variant("P(tag wrong), family flags", TAG_RULE, False),
    Variant("P(tag wrong), family + shade flags", TAG_RULE, True),
    Variant("confident learning, family flags", CONFIDENT_RULE, False),
    Variant("confident learning, family + shade flags", CONFIDENT_RULE, True),
)


def confident_thresholds(probs: np.ndarray, tags: list[str], classes: list[str]) -> dict[str, float]:
    """Per-colour thresholds of confident learning: the mean probability of each colour on products
    tagged with it (``cleanlab.count.get_confident_thresholds``)."""
    from cleanlab.count import get_confident_thresholds

    index = {c: i for i, c in enumerate(classes)}
    keep = np.array([t in index for t in tags])
    labels = np.array([index[t] for t in tags if t in index])
    present = sorted(set(labels.tolist()))
    values = get_confident_thresholds(labels, probs[keep], multi_label=False)
    return {classes[i]: round(float(values[i]), 4) for i in present}


def flag_features(probs: np.ndarray, tags: list[str | None], classes: list[str], vocabulary: ColorVocabulary,
                  rule: str, per_class: dict[str, float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(severity, family score, shade score) per product: flags at thresholds (m, s) are
    ``severity == FAMILY & family_score >= m`` and ``severity == SHADE & shade_score >= s``."""
    fam = np.array([vocabulary.family(c) for c in classes], dtype=object)
    severity = np.zeros(len(probs), dtype=int)
    fscore, sscore = np.zeros(len(probs)), np.zeros(len(probs))
    for n, (p, tag) in enumerate(zip(probs, tags)):
        if tag is None or tag not in classes:
            continue
        t = classes.index(tag)
        family_p = float(p[fam == fam[t]].sum())
        if rule == CONFIDENT_RULE:
            colour = confident_colour(dict(zip(classes, p.tolist())), per_class or {})
            if colour is None or colour == tag or tag not in (per_class or {}):
                continue
            same = vocabulary.family(colour) == fam[t]
            severity[n] = SHADE if same else FAMILY
            fscore[n] = 1 - p[t] if not same else 0.0
            sscore[n] = 1 - p[t]
            continue
        i = int(p.argmax())
        if rule == TAG_RULE:
            if i != t:
                severity[n] = FAMILY if fam[i] != fam[t] else SHADE
                fscore[n] = sscore[n] = 1 - p[t]
            continue
        if fam[i] != fam[t]:
            severity[n], fscore[n] = FAMILY, 1 - family_p
        elif i != t and p[t] < 0.05:
            severity[n], sscore[n] = SHADE, float(p[i])
    return severity, fscore, sscore


def lowest_threshold(scores: np.ndarray, positive: np.ndarray, target: float, min_support: int = 5) -> float | None:
    """Lowest grid threshold from which precision stays at or above the target; None if none does."""
    ok = None
    for t in GRID[::-1]:
        chosen = scores >= t
        if chosen.sum() >= min_support and positive[chosen].mean() < target:
            break
        if chosen.sum() >= min_support:
            ok = float(t)
    return ok


def choose(catalogue: noisy.NoisyCatalogue, probs: np.ndarray, classes: list[str], vocabulary: ColorVocabulary,
           variant: Variant, per_class: dict[str, float] | None, impute_target: float,
           mislabel_target: float) -> Thresholds:
    severity, fscore, sscore = flag_features(probs, catalogue.tags, classes, vocabulary, variant.rule, per_class)
    wrong = np.array([k == "wrong" for k in catalogue.kinds])
    fam = severity == FAMILY
    mislabel = lowest_threshold(fscore[fam], wrong[fam], mislabel_target) or 2.0
    shade = None
    if variant.shade:
        sh = severity == SHADE
        shade = lowest_threshold(sscore[sh], wrong[sh], mislabel_target)
    missing = np.array([k == "missing" for k in catalogue.kinds])
    right = np.array([classes[int(p.argmax())] == t for p, t in zip(probs, catalogue.truth)])
    impute = lowest_threshold(probs.max(1)[missing], right[missing], impute_target) or 2.0
    return Thresholds(impute, mislabel, shade, variant.rule, per_class if variant.rule == CONFIDENT_RULE else None)


def stacked(truth: list[str], probs: np.ndarray, model: noise_model.NoiseModel,
            seeds: range) -> tuple[noisy.NoisyCatalogue, np.ndarray]:
    """Several simulated catalogues of the same products, one after the other (more wrong tags to
    choose thresholds on than one catalogue of a few hundred products has)."""
    cats = [noise_model.simulate(truth, model, seed=s) for s in seeds]
    joined = noisy.NoisyCatalogue(*([x for c in cats for x in getattr(c, f)] for f in ("truth", "tags", "kinds")))
    return joined, np.concatenate([probs] * len(cats))


def cross_fitted(keys: list[str], truth: list[str], probs: np.ndarray, classes: list[str],
                 vocabulary: ColorVocabulary, model: noise_model.NoiseModel, variant: Variant,
                 per_class: dict[str, float], impute_target: float, mislabel_target: float,
                 seeds: int = 10) -> tuple[dict, list[Thresholds]]:
    """Thresholds chosen on one half's simulated catalogues (``seeds`` of them, stacked) and judged
    on the other half's: pooled outcomes, and the thresholds chosen for each half (index = fold)."""
    folds = np.array([fold_of(k) for k in keys])
    chosen = []
    for k in (0, 1):
        train = folds != k
        cat, p = stacked([t for t, m in zip(truth, train) if m], probs[train], model, range(seeds))
        chosen.append(choose(cat, p, classes, vocabulary, variant, per_class, impute_target, mislabel_target))
    pooled = noisy.RepairOutcome()
    recalls, precisions = [], []
    for seed in range(seeds, 2 * seeds):
        catalogue = noise_model.simulate(truth, model, seed=seed)
        total = noisy.RepairOutcome()
        for k in (0, 1):
            test = folds == k
            total.add(noisy.repair(catalogue.subset(test), probs[test], classes, vocabulary, chosen[1 - k]))
        pooled.add(total)
        recalls.append(total.mislabel_recall)
        precisions.append(total.mislabel_precision)
    spread = {"mislabel_precision": value_range(precisions), "mislabel_recall": value_range(recalls)}
    return {**pooled.as_dict(), "simulations": seeds, "range_over_simulations": spread}, chosen


def compare_rules(keys: list[str], truth: list[str], probs: np.ndarray, classes: list[str],
                  vocabulary: ColorVocabulary, audit_rows: list, impute_target: float, mislabel_target: float,
                  seeds: int = 10) -> tuple[Thresholds, dict, tuple[noisy.NoisyCatalogue, np.ndarray]]:
    """Every rule variant on catalogues made from the audited products (their verified colours as the
    truth, tags made wrong the audited way) and on the audit's real tags, both cross-fitted by halves.

    The catalogue's own tags cannot serve as the truth here: about one in ten is wrong, so flags on
    those would count as false alarms. Per-colour thresholds come from the catalogue's real tags. The
    shipped variant has the highest simulated recall among those reaching the target precision in
    simulation (the real tags judge, they do not choose); its thresholds are then chosen on the
    simulated catalogues of all audited products, which are returned too (for the trade-off curves).
    """
    from . import audit

    by_key = {k: i for i, k in enumerate(keys)}
    verified = [(r, by_key[r.image.removesuffix(".jpg")]) for r in audit_rows
                if r.color and r.image.removesuffix(".jpg") in by_key]
    sim_keys = [keys[i] for _, i in verified]
    sim_truth = [r.color for r, _ in verified]
    sim_probs = probs[[i for _, i in verified]]
    pairs = audit.wrong_pairs(audit_rows, vocabulary)
    decided = [r for r in audit_rows if r.tag_wrong or r.tag_right]
    rate = sum(r.tag_wrong for r in decided) / len(decided) if decided else 0.1
    frequency = [sum(t == c for t in truth) + 1 for c in classes]
    model = noise_model.fit(pairs, classes, vocabulary, frequency, rate)
    per_class = confident_thresholds(probs, truth, classes)
    by_image = {f"{k}.jpg": p for k, p in zip(keys, probs)}
    audit_folds = {r.image: fold_of(r.image.removesuffix(".jpg")) for r in audit_rows}
    rows, best_thresholds = {}, {}
    all_sims = stacked(sim_truth, sim_probs, model, range(seeds))
    for variant in VARIANTS:
        simulated, per_fold = cross_fitted(sim_keys, sim_truth, sim_probs, classes, vocabulary, model, variant,
                                           per_class, impute_target, mislabel_target, seeds)
        real = audit.FlagOutcome()
        for k in (0, 1):
            part = [r for r in audit_rows if audit_folds[r.image] == k]
            real.add(audit.judge_flags(part, by_image, classes, vocabulary, per_fold[1 - k]))
        best_thresholds[variant.name] = choose(*all_sims, classes, vocabulary, variant, per_class, impute_target,
                                               mislabel_target)
        th = best_thresholds[variant.name]
        rows[variant.name] = {"simulated": simulated, "audit": real.as_dict(),
                              "thresholds": {"impute": th.impute, "mislabel": th.mislabel, "shade": th.shade}}
    ok = [v for v in VARIANTS if rows[v.name]["simulated"]["mislabel_precision"] >= mislabel_target] or list(VARIANTS)
    best = max(ok, key=lambda v: rows[v.name]["simulated"]["mislabel_recall"])
    thresholds = best_thresholds[best.name]
    summary = {"impute_target": impute_target, "mislabel_target": mislabel_target,
               "simulated_on": f"{len(sim_truth)} audited products with a verified colour",
               "noise_model": {**model.describe(), "audited_pairs": len(pairs)}, "variants": rows,
               "shipped_rule": best.name, "per_class": per_class,
               "audit_imputation": audit.judge_imputations(audit_rows, by_image, classes, vocabulary, thresholds),
               "audit_seller_tags": audit.seller_accuracy(audit_rows, vocabulary),
               "audit_ceiling": audit.ranking_ceiling(audit_rows, by_image, classes, vocabulary, 0.8)}
    return thresholds, summary, all_sims
