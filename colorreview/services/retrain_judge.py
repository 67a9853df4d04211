"""Judging a candidate classifier against the one in use: on the audited set (products whose colour
a person verified, imported with their real tags), else on a held-out third of the reviewed labels."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from inference.colors import ColorVocabulary
from inference.evaluate.study import report
from inference.pipeline import ImageInput
from inference.train.from_reviews import Classifier, FeatureCache, Features, extract_features

from .suggestions import active_thresholds, flag_rules
from .vocabulary import db_vocabulary

try:  # the audit reader ships with the audited set
    from inference.evaluate import audit
except ImportError:  # pragma: no cover
    audit = None

AUDITED, HELD_OUT = "audited set", "held-out reviews"


@dataclass
class Evaluation:
    name: str
    features: Features
    truth: list[str | None]  # verified colour of each feature row, None where the audit has none
    vocabulary: ColorVocabulary
    keys: set[str] = field(default_factory=set)  # items kept out of training
    rows: list = field(default_factory=list)  # audit rows, by image, for the mislabel flags
    images: list[str] = field(default_factory=list)  # audit image of each feature row

    @property
    def size(self) -> int:
        return sum(1 for t in self.truth if t)

    def figures(self, classifier: Classifier) -> dict:
        """Exact and family accuracy on the verified colours; on the audited set, the mislabel flags
        the product would raise on the real tags (precision, recall over the real wrong tags)."""
        probs = classifier.probabilities(self.features)
        verified = [i for i, t in enumerate(self.truth) if t]
        scores = report(probs[verified], [self.truth[i] for i in verified], classifier.classes, self.vocabulary)
        out = {"exact": scores["accuracy"], "family": scores["family_accuracy"], "verified": len(verified)}
        if self.rows:
            thresholds = flag_rules(active_thresholds())  # the product's own rule, as the card ships it
            flags = audit.judge_flags(self.rows, dict(zip(self.images, probs)), classifier.classes,
                                      self.vocabulary, thresholds)
            out.update(mislabel_precision=flags.precision, mislabel_recall=flags.recall, wrong_tags=flags.wrong,
                       flags_on_wrong=flags.flagged_wrong, flags_on_confirmed=flags.flagged_confirmed,
                       flags_on_ambiguous=flags.flagged_ambiguous)
        return {k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4) if isinstance(v, float) else v)
                for k, v in out.items()}


def file_key(path: Path, category: str | None) -> str:
    """The feature-cache key of an image file: as for an imported product (content SHA-256, category)."""
    return f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{category or ''}"


def audit_evaluation(pipeline, cache: FeatureCache,
                     progress: Callable[[int], None] | None = None) -> Evaluation | None:
    """The audited set read through the pipeline (cached), or None when it or its images are missing."""
    csv_path, images = Path(settings.COLORREVIEW_AUDIT_CSV), Path(settings.COLORREVIEW_AUDIT_IMAGES)
    if audit is None or not csv_path.is_file() or not images.is_dir():
        return None
    rows = [r for r in audit.load_audit(csv_path) if (images / r.image).is_file()]
    if not any(r.color for r in rows):
        return None
    by_key = {file_key(images / r.image, r.category): r for r in rows}
    features = extract_features(pipeline, [ImageInput(images / r.image, r.category, k) for k, r in by_key.items()],
                                cache, progress=progress)
    chosen = [by_key[k] for k in features.keys]
    return Evaluation(AUDITED, features, [r.color for r in chosen], db_vocabulary(), set(by_key),
                      rows=chosen, images=[r.image for r in chosen])


def held_out_evaluation(features: Features, colors: dict[str, str]) -> Evaluation:
    """Every third reviewed label (by a hash of its key) is kept out of training and judges the candidate."""
    held = [k for k in features.keys if int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) % 3 == 0]
    part = features.take(held)
    return Evaluation(HELD_OUT, part, [colors[k] for k in part.keys], db_vocabulary(), set(held))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def comparison_message(evaluation: Evaluation, before: dict, after: dict, promoted: bool) -> str:
    """What the candidate does against the model in use, figure by figure, each way."""
    diff = after["exact"] - before["exact"]
    head = ("promoted: not worse" if promoted else "refused: worse") + f" on the {evaluation.name}"
    parts = [f"exact colour {_pct(before['exact'])} → {_pct(after['exact'])} ({diff:+.1%}) on "
             f"{evaluation.size} verified colours",
             f"family {_pct(before['family'])} → {_pct(after['family'])}"]
    if "mislabel_recall" in after:
        parts.append(f"real-mislabel precision {_pct(before['mislabel_precision'])} → "
                     f"{_pct(after['mislabel_precision'])}, recall {_pct(before['mislabel_recall'])} → "
                     f"{_pct(after['mislabel_recall'])}")
    tail = "" if promoted else ". Nothing was changed; the model in use stays."
    return f"{head}: " + "; ".join(parts) + tail
