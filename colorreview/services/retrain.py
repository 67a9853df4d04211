"""Learning from reviews: reviewers' decisions become labels, the shipped classifier's heads are
fitted again on them (reviewed labels weighted over catalogue tags), the candidate is judged on the
audited set against the model in use, and promoted only when it is not worse. A promotion reads
again only the products whose result may change."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from inference.errors import WeightsError
from inference.pipeline import ImageInput
from inference.train.from_reviews import (
    Classifier,
    FeatureCache,
    Features,
    extract_features,
    fine_tune,
    read_classifier,
    write_candidate,
)

from .. import selectors
from ..models import ModelVersion, Product
from . import ServiceError
from .media import media_read_many
from .model_store import model_prune, model_publish
from .predictions import current_pipeline, model_version
from .retrain_judge import Evaluation, audit_evaluation, comparison_message, held_out_evaluation
from .retrain_select import products_to_repredict
from .runs import QueueUnavailable, pipeline_run_start

log = logging.getLogger(__name__)


class TooFewLabels(ServiceError):
    """Not enough reviewed labels to retrain on; nothing was changed."""


class RetrainError(ServiceError):
    """The retrain cannot run (weights refused, no timm classifier); nothing was changed."""


@dataclass
class LabelSet:
    reviewed: list[selectors.TrainingLabel]
    catalogue: list[selectors.TrainingLabel]
    outside: int  # reviewed colours the classifier does not have

    def counts(self) -> dict[str, int]:
        by_source = Counter(label.source for label in self.reviewed + self.catalogue)
        return {**dict(sorted(by_source.items())), "reviewed": len(self.reviewed),
                "catalogue": len(self.catalogue), "outside_classes": self.outside}


def training_labels(*, classes: list[str]) -> LabelSet:
    """Reviewed labels in the classifier's colours, and a sample of catalogue tags nobody reviewed."""
    reviewed = selectors.review_labels()
    inside = [label for label in reviewed.values() if label.color in classes]
    catalogue = [label for label in selectors.catalogue_labels(
        exclude=set(reviewed), limit=settings.COLORREVIEW_RETRAIN_CATALOGUE_LIMIT) if label.color in classes]
    return LabelSet(inside, catalogue, len(reviewed) - len(inside))


def _shipped() -> Classifier:
    if settings.COLORREVIEW_CLASSIFIER != "timm":
        raise RetrainError("retraining needs the timm classifier (COLORREVIEW_CLASSIFIER=timm)")
    try:
        return read_classifier(settings.COLORREVIEW_WEIGHTS_DIR)
    except WeightsError as exc:
        raise RetrainError(f"the shipped weights are refused: {exc}") from exc


def retrain_check() -> LabelSet:
    """The labels a retrain would use; TooFewLabels (or RetrainError) when it would be refused."""
    labels = training_labels(classes=_shipped().classes)
    needed = settings.COLORREVIEW_RETRAIN_MIN_LABELS
    if len(labels.reviewed) < needed:
        outside = (f" ({labels.outside} more reviewed label{'s' if labels.outside != 1 else ''} name"
                   f"{'' if labels.outside != 1 else 's'} a colour the classifier does not have, and cannot "
                   "teach it)") if labels.outside else ""
        raise TooFewLabels(f"only {len(labels.reviewed)} reviewed labels{outside}; a retrain needs at least "
                           f"{needed} (COLORREVIEW_RETRAIN_MIN_LABELS). Nothing was changed.")
    return labels


def feature_cache(pipeline, base_version: str) -> FeatureCache:
    """Features depend on the segmenter, the shipped backbones and the editable configuration only."""
    return FeatureCache(settings.COLORREVIEW_FEATURE_CACHE,
                        f"{pipeline.segmenter.version}+{base_version}+cfg{pipeline.config_digest}")


def product_features(pipeline, cache: FeatureCache, labels: list[selectors.TrainingLabel],
                     progress: Callable[[int], None] | None = None) -> tuple[Features, dict[str, str]]:
    """Features of the labelled products' current images; returns them and item key -> colour."""
    products = Product.objects.exclude(image_checksum="").filter(image_error="").in_bulk(
        [label.product_id for label in labels])
    inputs, colors = [], {}
    for label in labels:
        product = products.get(label.product_id)
        if product is None:  # no readable image
            continue
        key = f"{product.image_checksum}:{product.category}"
        if key not in colors:
            inputs.append(ImageInput(product.image, product.category or None, key))
        colors[key] = label.color
    return extract_features(pipeline, inputs, cache, progress=progress, fetch=_from_storage), colors


def _from_storage(chunk: list[ImageInput]) -> list[ImageInput | str]:
    """The images' bytes from the media storage (file system or S3), as the pipeline's workers read them."""
    data = media_read_many([str(item.source) for item in chunk])
    return [f"the image cannot be read from the media storage: {got}" if isinstance(got, OSError)
            else ImageInput(got, item.category, item.key) for item, got in zip(chunk, data)]


def model_retrain(*, user=None, progress: Callable[[int], None] | None = None) -> ModelVersion:
    """Fine-tune, judge and (when not worse) promote a new model version, then queue the products
    whose result may change. Raises TooFewLabels or RetrainError without changing anything; a
    worse candidate is recorded as refused and changes nothing else."""
    try:
        return _retrain(user, progress)
    except WeightsError as exc:
        refused = RetrainError(f"weights refused: {exc}. Nothing was changed.")
        refused.version_id = getattr(exc, "version_id", None)
        raise refused from exc


def _begin(shipped: Classifier, labels: LabelSet, user) -> ModelVersion:
    """The candidate's row, shown as being trained; RetrainError while another retrain runs. A candidate
    older than the task time limit was lost with its worker and is marked so."""
    started_since = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    ModelVersion.objects.filter(status=ModelVersion.Status.CANDIDATE, created_at__lt=started_since).update(
        status=ModelVersion.Status.REFUSED, finished_at=timezone.now(),
        message="lost: its retrain stopped before it was judged (the worker died or ran out of time)")
    try:
        with transaction.atomic():  # the database holds one candidate at most (model_version_one_candidate)
            return ModelVersion.objects.create(version="(training)", base_version=shipped.version, created_by=user,
                                               labels=labels.counts())
    except IntegrityError:
        running = ModelVersion.objects.filter(status=ModelVersion.Status.CANDIDATE).select_related("created_by").first()
    started = ""
    if running is not None:  # (None: it ended between the refusal and this read)
        by = f" by {running.created_by}" if running.created_by else ""
        started = f" (started {timezone.localtime(running.created_at):%H:%M}{by})"
    raise RetrainError(f"a retrain is already running{started}; wait for it to end. Nothing was changed.")


def _retrain(user, progress: Callable[[int], None] | None) -> ModelVersion:
    shipped = _shipped()
    labels = retrain_check()
    record = _begin(shipped, labels, user)
    try:
        return _train_and_judge(shipped, labels, record, progress)
    except Exception as exc:
        ModelVersion.objects.filter(pk=record.pk, status=ModelVersion.Status.CANDIDATE).update(
            status=ModelVersion.Status.REFUSED, finished_at=timezone.now(),
            message=f"refused before it was judged: {exc}"[:5000])
        exc.version_id = record.pk  # the row that says why (see tasks.retrain_job)
        raise


def _train_and_judge(shipped: Classifier, labels: LabelSet, record: ModelVersion,
                     progress: Callable[[int], None] | None) -> ModelVersion:
    pipeline = current_pipeline()
    cache = feature_cache(pipeline, shipped.version)
    reviewed, reviewed_colors = product_features(pipeline, cache, labels.reviewed, progress)
    needed = settings.COLORREVIEW_RETRAIN_MIN_LABELS
    if len(reviewed.keys) < needed:  # unreadable images and products sharing one image count once at most
        raise TooFewLabels(f"only {len(reviewed.keys)} of the {len(labels.reviewed)} reviewed labels have a readable "
                           f"image of their own; a retrain needs at least {needed} "
                           "(COLORREVIEW_RETRAIN_MIN_LABELS). Nothing was changed.")
    catalogue, catalogue_colors = product_features(pipeline, cache, labels.catalogue, progress)
    evaluation = audit_evaluation(pipeline, cache, progress) or held_out_evaluation(reviewed, reviewed_colors)
    train = _stack([part.take([k for k in part.keys if k not in evaluation.keys]) for part in (reviewed, catalogue)])
    if not evaluation.size or not train.keys:
        raise RetrainError(f"nothing to {'train' if evaluation.size else 'judge a candidate'} on: the labelled "
                           "images could not be read or are all in the evaluation set. Nothing was changed.")
    colors = {**catalogue_colors, **reviewed_colors}
    weight = np.where([k in reviewed_colors for k in train.keys], settings.COLORREVIEW_RETRAIN_REVIEW_WEIGHT, 1.0)
    tuned, training = fine_tune(shipped, train, [colors[k] for k in train.keys], weight)
    training["labels"] = {"reviewed": sum(k in reviewed_colors for k in train.keys),
                          "catalogue": sum(k not in reviewed_colors for k in train.keys),
                          "review_weight": settings.COLORREVIEW_RETRAIN_REVIEW_WEIGHT}
    return _judge_and_record(shipped, tuned, training, evaluation, record)


def _stack(parts: list[Features]) -> Features:
    parts = [p for p in parts if p.keys]
    if not parts:
        return Features([], [], np.zeros((0, 0)))
    return Features([k for p in parts for k in p.keys],
                    [np.concatenate([p.members[j] for p in parts]) for j in range(len(parts[0].members))],
                    np.concatenate([p.kd for p in parts]))


def _judge_and_record(shipped: Classifier, tuned: Classifier, training: dict, evaluation: Evaluation,
                      version: ModelVersion) -> ModelVersion:
    folder = Path(settings.COLORREVIEW_MODELS_DIR) / timezone.now().strftime("r%Y%m%d-%H%M%S-%f")
    write_candidate(settings.COLORREVIEW_WEIGHTS_DIR, folder, tuned, training)
    candidate = read_classifier(folder)
    active = selectors.active_model_version()
    in_use = read_classifier(active.weights_dir) if active else shipped
    before, after = evaluation.figures(in_use), evaluation.figures(candidate)
    ModelVersion.objects.filter(pk=version.pk).update(
        version=candidate.version, weights_dir=str(folder),
        figures={"evaluation": evaluation.name, "n": evaluation.size, "before": before, "after": after,
                 "in_use": in_use.version})
    version.refresh_from_db()
    if worse(before, after):
        _refuse(version, folder, comparison_message(evaluation, before, after, promoted=False))
    else:
        try:
            model_publish(folder)  # workers on other hosts fetch it from the media storage
        except Exception as exc:  # noqa: BLE001 - any storage backend's error: not promoted, said why
            log.exception("model %s could not be copied to the media storage", folder.name)
            _refuse(version, folder, f"not promoted: the weights could not be copied to the media storage ({exc}), "
                                     "so workers on other hosts could not load them. Nothing was changed.")
        else:
            _promote(version, in_use.version, comparison_message(evaluation, before, after, promoted=True))
            try:
                model_prune()
            except Exception:  # noqa: BLE001 - the promotion stands; old weights are removed after the next one
                log.exception("old model folders could not be removed")
    version.refresh_from_db()
    return version


def _refuse(version: ModelVersion, folder: Path, message: str) -> None:
    """The candidate is not used: its folder goes, its row says why."""
    shutil.rmtree(folder, ignore_errors=True)
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.REFUSED, weights_dir="", finished_at=timezone.now(), message=message)


def refusal_record(exc: Exception, user=None) -> ModelVersion:
    """A retrain refused before a candidate was trained, recorded as a refused version with the reason."""
    base = selectors.shipped_classifier_version() or ""
    return ModelVersion.objects.create(version="(not trained)", base_version=base, status=ModelVersion.Status.REFUSED,
                                       message=f"refused before training: {exc}", created_by=user,
                                       finished_at=timezone.now())


def worse(before: dict, after: dict) -> bool:
    """A candidate is worse when it reads fewer verified colours right (exact or by family) or, where the
    audit judges flags, when its flags on the real tags are less precise."""
    keys = ["exact", "family"] + (["mislabel_precision"] if after.get("mislabel_precision") is not None
                                  and before.get("mislabel_precision") is not None else [])
    return any(after[k] < before[k] - 1e-9 for k in keys)


def _promote(version: ModelVersion, replaced: str, message: str) -> None:
    """The version becomes the one in use; the products whose result may change are queued."""
    previous = model_version()
    earlier = selectors.active_model_version()
    carried = [previous, *(earlier.carried_versions if earlier else [])]
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.PROMOTED, carried_versions=carried, message=message, finished_at=timezone.now(),
        pipeline_version=previous.replace(replaced, version.version))  # what the pipeline will now record
    chosen = products_to_repredict(previous_versions=carried)
    try:
        run = pipeline_run_start(product_ids=chosen, reread=True) if chosen else None
    except QueueUnavailable as exc:
        ModelVersion.objects.filter(pk=version.pk).update(message=f"{message}. {exc}")
        return
    ModelVersion.objects.filter(pk=version.pk).update(run=run, requeued=run.total if run else 0)
