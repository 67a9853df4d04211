"""Classification metrics of the seed paper and of calibration, in plain NumPy."""

from __future__ import annotations

import numpy as np


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with midranks); nan without both classes."""
    positive = positive.astype(bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # midranks for ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise); nan without positives."""
    positive = positive.astype(bool)
    if positive.sum() == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    hits = positive[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def classification_report(probs: np.ndarray, truth: list[str], classes: list[str],
                          families: dict[str, str]) -> dict:
    """Accuracy (exact, by family), macro and per-class precision, recall, AP and ROC AUC,
    the misclassification rate, log loss, Brier score and expected calibration error."""
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(t, -1) for t in truth], dtype=int)
    pred = probs.argmax(1)
    fam = np.array([families.get(c, c) for c in classes])
    truth_fam = np.array([families.get(t, t) for t in truth])
    per_class = {}
    for c, i in index.items():
        tp = int(((pred == i) & (y == i)).sum())
        predicted, actual = int((pred == i).sum()), int((y == i).sum())
        per_class[c] = {
            "support": actual,
            "precision": tp / predicted if predicted else float("nan"),
            "recall": tp / actual if actual else float("nan"),
            "average_precision": average_precision(probs[:, i], y == i),
            "roc_auc": roc_auc(probs[:, i], y == i),
        }
    present = [c for c in classes if per_class[c]["support"] > 0]
    known = y >= 0
    onehot = np.eye(len(classes))[np.where(known, y, 0)]
    accuracy = float((pred == y).mean())
    return {
        "n": len(truth),
        "accuracy": accuracy,
        "family_accuracy": float((fam[pred] == truth_fam).mean()),
        "misclassification_rate": 1 - accuracy,
        "macro_precision": _nanmean([per_class[c]["precision"] for c in present]),
        "macro_recall": _nanmean([per_class[c]["recall"] for c in present]),
        "macro_average_precision": _nanmean([per_class[c]["average_precision"] for c in present]),
        "macro_roc_auc": _nanmean([per_class[c]["roc_auc"] for c in present]),
        "micro_roc_auc": roc_auc(probs[known].ravel(), onehot[known].ravel()),
        "log_loss": float(-np.log(np.clip(probs[known, y[known]], 1e-12, 1)).mean()) if known.any() else float("nan"),
        "brier": float(((probs[known] - onehot[known]) ** 2).sum(1).mean()) if known.any() else float("nan"),
        "ece": expected_calibration_error(probs.max(1), pred == y),
        "outside_classes": int((~known).sum()),
        "per_class": per_class,
    }


def _nanmean(values) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            out.append({"lo": float(lo), "hi": float(hi), "count": int(inside.sum()),
                        "confidence": float(confidence[inside].mean()), "accuracy": float(correct[inside].mean())})
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    total = len(confidence)
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(confidence, correct, bins))) if total else float("nan")


def confusion_matrix(pred: list[str], truth: list[str], labels: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for p, t in zip(pred, truth):
        if p in index and t in index:
            m[index[t], index[p]] += 1
    return m


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood (golden-section search on log T)."""
    logp = np.log(np.clip(probs, 1e-12, 1))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(1, keepdims=True)
        return float(-(z[np.arange(len(labels)), labels] - np.log(np.exp(z).sum(1))).mean())

    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def fit_class_bias(probs: np.ndarray, labels: np.ndarray, penalty: float) -> np.ndarray:
    """A bias per class, added to the log-probabilities, minimising the negative log-likelihood plus
    ``penalty`` times the squared biases (bias-corrected calibration, Alexandari et al. 2020: it undoes a
    prior the training imposed, e.g. class-balanced sampling)."""
    from scipy.optimize import minimize

    logp = np.log(np.clip(probs, 1e-12, 1))
    rows = np.arange(len(labels))

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        z = logp + b
        z = z - z.max(1, keepdims=True)
        q = np.exp(z)
        q /= q.sum(1, keepdims=True)
        grad = q.copy()
        grad[rows, labels] -= 1
        nll = -np.log(np.clip(q[rows, labels], 1e-12, 1)).mean()
        return float(nll + penalty * b @ b), grad.mean(0) + 2 * penalty * b

    b = minimize(loss, np.zeros(probs.shape[1]), jac=True, method="L-BFGS-B").x
    return b - b.mean()
