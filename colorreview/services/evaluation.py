"""How good the suggestions were, judged by the reviewers' decisions."""

from __future__ import annotations

from collections import Counter

import numpy as np

from inference.evaluate.metrics import classification_report

from ..models import Suggestion
from .vocabulary import db_vocabulary


def reviewed_evaluation(model_version: str | None = None) -> dict:
    """Precision of each suggestion kind as the reviewers decided it (``precision``: the suggested colour was
    taken; ``tag_wrong``: the flag was right, the reviewer accepting or correcting it), and the classifier's
    metrics against the reviewed colours (the final colour of each reviewed product)."""
    qs = Suggestion.objects.filter(status__in=Suggestion.DECIDED).select_related("prediction")
    if model_version:
        qs = qs.filter(prediction__model_version=model_version)
    vocab = db_vocabulary()
    out: dict = {"reviewed": qs.count(), "kinds": {}}
    for kind in ("impute", "mislabel"):
        statuses = Counter(qs.filter(kind=kind).values_list("status", flat=True))
        decided = sum(statuses.values())
        out["kinds"][kind] = {
            "decided": decided, **{s: statuses.get(s, 0) for s in ("accepted", "rejected", "corrected")},
            "precision": statuses.get("accepted", 0) / decided if decided else None,
            # a flag is right when the tag was wrong, whatever colour the reviewer chose instead
            "tag_wrong": (statuses.get("accepted", 0) + statuses.get("corrected", 0)) / decided if decided else None,
            "family_precision": _family_precision(qs.filter(kind=kind), vocab) if decided else None,
        }
    items = [(s.prediction.probabilities, s.final_color) for s in qs if s.final_color and s.prediction.probabilities]
    if items:
        classes = sorted({c for probs, _ in items for c in probs})
        probs = np.array([[p.get(c, 0.0) for c in classes] for p, _ in items])
        truth = [t for _, t in items]
        families = {c: vocab.family(c) or c for c in set(classes) | set(truth)}
        report = classification_report(probs, truth, classes, families)
        out["classifier"] = {k: v for k, v in report.items() if k != "per_class"}
    return out


def _family_precision(qs, vocab) -> float:
    rows = list(qs.values_list("suggested_color", "final_color"))
    return sum(vocab.family(s) == vocab.family(f) for s, f in rows) / len(rows)
