"""Running the pipeline over a labelled set and fitting / judging calibration, fusion and thresholds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..classify.model import calibrate
from ..colors import ColorVocabulary
from ..pipeline import ImageInput, Pipeline
from ..suggest import IMPUTE, MISLABEL, Thresholds, colour_shares
from . import noisy
from .metrics import classification_report, fit_class_bias, fit_temperature

BETAS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


@dataclass
class LabelledItem:
    key: str
    path: Path
    category: str | None
    color: str


@dataclass
class Readings:
    """What the pipeline saw on each usable item: member probabilities and KD-tree distribution."""

    keys: list[str]
    truth: list[str]
    members: list[np.ndarray]  # one N x C array per classifier member
    kd: np.ndarray  # N x C
    failed: dict[str, str] = field(default_factory=dict)  # key -> why no prediction
    shares: list[dict[str, float]] = field(default_factory=list)  # the garment's share in each vocabulary colour

    def subset(self, mask: np.ndarray) -> Readings:
        return Readings([k for k, m in zip(self.keys, mask) if m], [t for t, m in zip(self.truth, mask) if m],
                        [p[mask] for p in self.members], self.kd[mask], self.failed,
                        [s for s, m in zip(self.shares, mask) if m])


def read(pipeline: Pipeline, items: list[LabelledItem], batch: int = 16) -> Readings:
    keys, truth, members, kd, failed, shares = [], [], [], [], {}, []
    for start in tqdm(range(0, len(items), batch), desc="pipeline", unit="batch"):
        chunk = items[start:start + batch]
        results, views, usable = pipeline.analyse_batch([ImageInput(i.path, i.category, i.key) for i in chunk])
        for item, r in zip(chunk, results):
            if r.error:
                failed[item.key] = r.error
        if not usable:
            continue
        probs = pipeline.classifier.member_probabilities(views) if hasattr(pipeline.classifier, "members") \
            else [pipeline.classifier.predict_proba(views)]
        members.append(probs)
        for i in usable:
            keys.append(chunk[i].key)
            truth.append(chunk[i].color)
            kd.append(pipeline.fusion.kd_distribution(results[i].dominant_colors))
            shares.append(colour_shares(results[i].dominant_colors))
    stacked = [np.concatenate([m[j] for m in members]) for j in range(len(members[0]))] if members else []
    return Readings(keys, truth, stacked, np.array(kd), failed, shares)


def readings_tag(pipeline: Pipeline) -> str:
    """The segmenter and classifier members a reading depends on."""
    members = getattr(pipeline.classifier, "members", [])
    return pipeline.segmenter.version + "|" + "|".join(m.version for m in members) + "|shares"


def load_readings(cache: str | Path, pipeline: Pipeline) -> Readings | None:
    """Readings cached by an earlier run of the same segmenter and classifier members, if any."""
    import json

    cache = Path(cache)
    if not cache.is_file():
        return None
    data = np.load(cache, allow_pickle=False)
    if str(data["tag"]) != readings_tag(pipeline):
        return None
    members = [data[f"member{i}"] for i in range(int(data["n_members"]))]
    return Readings(list(data["keys"]), list(data["truth"]), members, data["kd"], json.loads(str(data["failed"])),
                    json.loads(str(data["shares"])))


def save_readings(cache: str | Path, pipeline: Pipeline, readings: Readings) -> None:
    import json

    cache = Path(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, tag=readings_tag(pipeline), keys=readings.keys, truth=readings.truth, kd=readings.kd,
             n_members=len(readings.members), failed=json.dumps(readings.failed), shares=json.dumps(readings.shares),
             **{f"member{i}": m for i, m in enumerate(readings.members)})


def fold_of(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 2


@dataclass(frozen=True)
class Fit:
    weights: tuple[float, ...]
    beta: float  # fusion exponent before temperature
    temperature: float
    bias: np.ndarray | None = None  # per class, added after the temperature

    def apply(self, members: list[np.ndarray], kd: np.ndarray) -> np.ndarray:
        w = np.array(self.weights) / sum(self.weights)
        mixed = sum(wi * p for wi, p in zip(w, members))
        fused = np.log(np.clip(mixed, 1e-12, 1)) + self.beta * np.log(kd)
        fused = np.exp(fused - fused.max(1, keepdims=True))
        return calibrate(fused / fused.sum(1, keepdims=True), self.temperature, self.bias)

    def pipeline_parameters(self) -> dict:
        """The same model in the pipeline's order (temperature and class biases, then fusion): beta / T."""
        return {"temperature": self.temperature, "fusion_beta": self.beta / self.temperature}


def fit(readings: Readings, classes: list[str], weights: tuple[float, ...], betas=BETAS,
        bias_penalty: float | None = None) -> Fit:
    """Fusion exponent and temperature by log loss on the tags; then, with ``bias_penalty``, a bias per
    class (L2 penalty ``bias_penalty``) on the temperature-scaled probabilities."""
    index = {c: i for i, c in enumerate(classes)}
    keep = np.array([t in index for t in readings.truth])
    labels = np.array([index[t] for t in readings.truth if t in index])
    best = None
    for beta in betas:
        raw = Fit(weights, beta, 1.0).apply([m[keep] for m in readings.members], readings.kd[keep])
        t = fit_temperature(raw, labels)
        calibrated = calibrate(raw, t)
        nll = -np.log(np.clip(calibrated[np.arange(len(labels)), labels], 1e-12, 1)).mean()
        if best is None or nll < best[0]:
            best = (nll, Fit(weights, beta, t))
    chosen = best[1]
    if bias_penalty:
        scaled = chosen.apply([m[keep] for m in readings.members], readings.kd[keep])
        chosen = Fit(weights, chosen.beta, chosen.temperature, fit_class_bias(scaled, labels, bias_penalty))
    return chosen


def cross_fitted(readings: Readings, classes: list[str], weights: tuple[float, ...], betas=BETAS,
                 bias_penalty: float | None = None) -> np.ndarray:
    """Out-of-fold probabilities: each half calibrated with parameters fitted on the other half."""
    folds = np.array([fold_of(k) for k in readings.keys])
    out = np.zeros((len(readings.keys), len(classes)))
    for k in (0, 1):
        params = fit(readings.subset(folds != k), classes, weights, betas, bias_penalty)
        part = readings.subset(folds == k)
        out[folds == k] = params.apply(part.members, part.kd)
    return out


def thresholds_for(catalogue: noisy.NoisyCatalogue, probs: np.ndarray, classes: list[str],
                   vocabulary: ColorVocabulary, impute_precision: float, mislabel_precision: float):
    impute_curve = noisy.curve(catalogue, probs, classes, vocabulary, IMPUTE)
    mislabel_curve = noisy.curve(catalogue, probs, classes, vocabulary, MISLABEL)
    chosen = Thresholds(noisy.choose(impute_curve, impute_precision), noisy.choose(mislabel_curve, mislabel_precision))
    return chosen, impute_curve, mislabel_curve


def _cross_fitted_outcome(readings: Readings, probs: np.ndarray, classes: list[str], vocabulary: ColorVocabulary,
                          impute_precision: float, mislabel_precision: float, seed: int) -> noisy.RepairOutcome:
    """One simulated catalogue; each half judged with thresholds chosen on the other half."""
    catalogue = noisy.simulate(readings.truth, seed=seed)
    folds = np.array([fold_of(k) for k in readings.keys])
    total = noisy.RepairOutcome()
    for k in (0, 1):
        train, test = folds != k, folds == k
        th, _, _ = thresholds_for(catalogue.subset(train), probs[train], classes, vocabulary,
                                  impute_precision, mislabel_precision)
        total.add(noisy.repair(catalogue.subset(test), probs[test], classes, vocabulary, th))
    return total


def repeated_repair(readings: Readings, probs: np.ndarray, classes: list[str], vocabulary: ColorVocabulary,
                    impute_precision: float, mislabel_precision: float, seeds: int = 10) -> dict:
    """Noisy-catalogue outcomes, thresholds chosen on the other half of the data, over several
    simulated catalogues, pooled.

    One catalogue of ~900 items has only ~100 replaced tags, so a single draw moves the
    mislabel recall by several points; the pooled counts and each draw's range say how much.
    """
    pooled = noisy.RepairOutcome()
    draws = []
    for seed in range(seeds):
        total = _cross_fitted_outcome(readings, probs, classes, vocabulary, impute_precision,
                                      mislabel_precision, seed)
        pooled.add(total)
        draws.append(total.as_dict())
    keys = ("imputation_accuracy", "imputation_coverage", "mislabel_precision", "mislabel_recall")
    spread = {k: value_range([d[k] for d in draws]) for k in keys}
    return {**pooled.as_dict(), "simulations": seeds, "range_over_simulations": spread}


def value_range(values: list[float]) -> list[float]:
    """[lowest, highest] of the values that are numbers (a figure with nothing to count is NaN); [NaN, NaN]
    when none is."""
    known = [v for v in values if v == v]
    return [round(float(min(known)), 4), round(float(max(known)), 4)] if known else [float("nan")] * 2


def report(probs: np.ndarray, truth: list[str], classes: list[str], vocabulary: ColorVocabulary) -> dict:
    families = {c: vocabulary.family(c) or c for c in set(classes) | set(truth)}
    return classification_report(probs, truth, classes, families)


def restricted(probs: np.ndarray, truth: list[str], classes: list[str], subset: list[str],
               vocabulary: ColorVocabulary) -> dict:
    """Metrics on the items of ``subset`` colours, choosing only among those colours."""
    cols = [classes.index(c) for c in subset if c in classes]
    keep = np.array([t in subset for t in truth])
    p = probs[keep][:, cols]
    p = p / p.sum(1, keepdims=True)
    return report(p, [t for t, k in zip(truth, keep) if k], [classes[i] for i in cols], vocabulary)


