"""Running the pipeline over products and storing what it found."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from dataclasses import dataclass

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q, prefetch_related_objects
from PIL import Image
from scipy import ndimage

from inference.pipeline import ColorPrediction, ImageInput, Pipeline, PipelineConfig

from ..models import PipelineRun, Prediction, Product
from ..selectors import active_model_version, active_weights_dir
from . import progress, storage
from .media import media_exists, media_read_many, media_save
from .progress import ACTIVE_RUN
from .regions import category_region_expression, fits, wanted_readings
from .rejudge import suggestions_rejudge_later
from .vocabulary import configuration_digest, db_region_table, db_vocabulary

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, Pipeline] = {}

#: outline colours of the review overlay per region: upper, lower, full (foreground fallback: grey)
REGION_COLORS = {"upper": (230, 57, 70), "lower": (29, 120, 216), "full": (42, 157, 90)}


def current_pipeline() -> Pipeline:
    """The pipeline for the current settings, vocabulary and region table (built once per process)."""
    digest = configuration_digest()
    weights_dir = active_weights_dir()
    key = f"{settings.COLORREVIEW_SEGMENTER}/{settings.COLORREVIEW_CLASSIFIER}/{weights_dir}/{digest}"
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = Pipeline(
                PipelineConfig(segmenter=settings.COLORREVIEW_SEGMENTER,
                               classifier=settings.COLORREVIEW_CLASSIFIER, keep_masks=True),
                vocabulary=db_vocabulary(), region_table=db_region_table(),
                weights_dir=weights_dir)
            _cache[key].config_digest = digest
        return _cache[key]


def model_version(pipeline: Pipeline | None = None) -> str:
    pipeline = pipeline or current_pipeline()
    return f"{pipeline.version}+cfg{pipeline.config_digest}"


def standing_versions(version: str) -> list[str]:
    """Model versions whose predictions stand under ``version``: itself, and after a retrained model
    was promoted, the versions before it for the products it did not need to read again."""
    active = active_model_version()
    if active and active.pipeline_version == version:
        return [version, *active.carried_versions]
    return [version]


def products_to_predict(version: str, reread: bool = False):
    """Products with a usable image, no prediction for that image, model version (nor, unless ``reread``,
    one that still stands for it) and the garment region their category picks now, not archived, and not
    waiting in an unfinished run already. A product left waiting by an import (its image or category
    changed, its suggestion superseded) is among them even when that image was read before for that region
    (an image that came back, a category that picks the same region): the run judges it again from that
    reading, without reading the image twice."""
    done = Prediction.objects.filter(fits(OuterRef("category_region_now")), product=OuterRef("pk"),
                                     image_checksum=OuterRef("image_checksum"),
                                     model_version__in=[version] if reread else standing_versions(version))
    return (Product.objects.exclude(image_checksum="").filter(image_error="", archived_at__isnull=True)
            .exclude(status__in=progress.UNFINISHED, pipeline_run__status__in=ACTIVE_RUN)
            .annotate(category_region_now=category_region_expression(db_region_table()))
            .annotate(done=Exists(done)).filter(Q(done=False) | Q(status=Product.Status.PENDING)))


@dataclass
class RunPlan:
    run: PipelineRun
    batches: list[list[int]]


def pipeline_run_create(*, user=None, product_ids: list[int] | None = None, batch_size: int | None = None,
                        reread: bool = False) -> RunPlan | None:
    """Create a run over ``product_ids`` (default: everything not yet predicted). None if nothing to do.
    ``reread``: also the products whose prediction by an earlier model version still stands. When the flag
    rules changed, a background job judges every product again from its latest reading."""
    version = model_version()  # weights that do not match their card stop here, before anything is judged
    suggestions_rejudge_later()
    todo = products_to_predict(version, reread=reread)
    if product_ids is not None:
        todo = todo.filter(pk__in=product_ids)
    ids = list(todo.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return None
    with transaction.atomic():
        run = PipelineRun.objects.create(created_by=user if user and user.is_authenticated else None,
                                         model_version=version, total=len(ids))
        taken = (Product.objects.filter(pk__in=ids)  # not those another run took meanwhile
                 .exclude(status__in=progress.UNFINISHED, pipeline_run__status__in=ACTIVE_RUN)
                 .update(status=Product.Status.QUEUED, status_detail="", pipeline_run=run, attempts=0))
        if taken != len(ids):
            ids = list(run.products.order_by("pk").values_list("pk", flat=True))
            PipelineRun.objects.filter(pk=run.pk).update(total=len(ids))
            run.total = len(ids)
    return RunPlan(run, batches_of(ids, batch_size))


def batches_of(ids: list[int], size: int | None = None) -> list[list[int]]:
    """``ids`` in consecutive batches of ``size`` (default ``COLORREVIEW_BATCH_SIZE``)."""
    size = size or settings.COLORREVIEW_BATCH_SIZE
    return [ids[i:i + size] for i in range(0, len(ids), size)]


#: outline colours to fall back on when the region's own colour is too close to the garment's
OUTLINE_ALTERNATIVES = ((0, 0, 0), (255, 255, 255), (255, 0, 255), (0, 200, 255), (255, 214, 0))
#: RGB distance under which an outline would melt into the garment (red on a red dress)
MIN_OUTLINE_DISTANCE = 150.0


def outline_color(region: str | None, garment_rgb: tuple[int, int, int] | None) -> tuple[int, int, int]:
    """The region's colour, unless it is close to the garment's; then the most distant alternative."""
    preferred = REGION_COLORS.get(region or "", (90, 90, 90))
    if garment_rgb is None:
        return preferred

    def distance(color) -> float:
        return float(np.linalg.norm(np.subtract(color, garment_rgb)))

    if distance(preferred) >= MIN_OUTLINE_DISTANCE:
        return preferred
    return max(OUTLINE_ALTERNATIVES, key=distance)


def overlay_image(garment: np.ndarray, region: str | None,
                  garment_rgb: tuple[int, int, int] | None = None) -> Image.Image:
    """RGBA overlay for reviewers: everything but the garment is veiled in white and the garment
    gets a thin outline in a colour that stands out from it, so that its own colours are shown untouched."""
    h, w = garment.shape
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[~garment] = (255, 255, 255, 150)
    edge = garment & ~ndimage.binary_erosion(garment, iterations=2)
    rgba[edge] = (*outline_color(region, garment_rgb), 255)
    return Image.fromarray(rgba, "RGBA")


def _hex_rgb(value: str) -> tuple[int, int, int] | None:
    try:
        return tuple(int(value.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    except (ValueError, AttributeError):
        return None


def _save_mask(garment: np.ndarray, region: str | None, checksum: str, version_tag: str,
               garment_hex: str | None = None) -> str:
    rel = f"masks/{checksum[:2]}/{checksum}-{version_tag}.png"  # the tag names the version and the region asked
    if media_exists(rel):
        return rel
    buffer = io.BytesIO()
    # compress_level=1: fast, and the overlay is mostly flat (optimize=True tries every filter, slowly)
    overlay_image(garment, region, _hex_rgb(garment_hex or "")).save(buffer, "PNG", compress_level=1)
    return media_save(rel, buffer.getvalue())


def _prediction_fields(result: ColorPrediction, pipeline: Pipeline, checksum: str, version: str,
                       asked: str) -> dict:
    mask = ""
    if result.garment_mask is not None and result.garment_mask.any():
        mask = _save_mask(result.garment_mask, result.region, checksum,
                          f"{hashlib.sha1(version.encode()).hexdigest()[:10]}-{asked or 'largest'}",
                          result.dominant_colors[0].hex if result.dominant_colors else None)
    return {
        "config": pipeline.describe(),
        "predicted_color": result.predicted_color or "",
        "confidence": result.confidence,
        "family": result.family or "",
        "probabilities": result.probabilities,
        "dominant_colors": [{"color": d.color, "hex": d.hex, "fraction": round(d.fraction, 4),
                             "family": d.family, "name": d.palette_name, "delta_e": round(d.delta_e, 2)}
                            for d in result.dominant_colors[:5]],
        "region": result.region or "",
        "garment_fraction": result.garment_fraction,
        "flags": list(result.flags),
        "error": result.error or "",
        "seconds": result.seconds,
        "mask": mask,
    }


def predict_products(*, product_ids: list[int], run_id: int | None = None,
                     batch_id: int | None = None) -> dict[str, int]:
    """Predict the given products. Idempotent: an existing prediction for the same image and
    model version is reused, never duplicated; in a run, only the products still unfinished in
    that run are read (see ``progress``). With ``batch_id`` (a range of a run over the whole
    catalogue) the products are those of the range, adopted into the run on its first delivery and
    read a batch (``COLORREVIEW_BATCH_SIZE``) at a time. Returns counts of products with a prediction (``done``)
    and without one (``failed``: unreadable image, no garment found, ...)."""
    parts = [product_ids]
    if batch_id is not None and run_id is not None:  # a range holds a few batches: read one batch at a time
        # adopted before the models load: a worker that dies loading them leaves products a new one finds
        run_version = PipelineRun.objects.filter(pk=run_id).values_list("model_version", flat=True).first() or ""
        parts = batches_of(progress.batch_adopt(run_id=run_id, batch_id=batch_id,
                                                todo=products_to_predict(run_version)))
    pipeline = current_pipeline()
    version = model_version(pipeline)
    if run_id is None:
        outcomes = _predict(list(Product.objects.filter(pk__in=product_ids).order_by("pk")), pipeline, version, None)
        return {"done": sum(outcomes), "failed": len(outcomes) - sum(outcomes)}
    outcomes = []
    for part in parts:
        claim = progress.batch_claim(run_id=run_id, product_ids=part)
        outcomes += [_give_up(p, run_id) for p in claim.given_up]
        outcomes += _predict(claim.batch, pipeline, version, run_id)
        for product in claim.alone:
            if progress.product_claim(run_id=run_id, product=product):
                outcomes += _predict([product], pipeline, version, run_id)
    progress.run_finish_if_done(run_id)
    return {"done": sum(outcomes), "failed": len(outcomes) - sum(outcomes)}


def _predict(products: list[Product], pipeline: Pipeline, version: str, run_id: int | None) -> list[bool]:
    """Read the products' images, each distinct image once for each garment region their categories pick
    and none already read so, and store the batch in a handful of statements (see ``storage``)."""
    readable = [p for p in products if p.image_checksum]
    if not readable:
        return [False] * len(products)
    prefetch_related_objects(readable, "seller_color")
    wanted = wanted_readings(pipeline.region_table, [(p.pk, p.image_checksum, p.category) for p in readable])
    own, by_image = storage.known_predictions(wanted, version)
    missing = [p for p in readable if p.pk not in own]
    fields = {key: storage.copied_fields(prediction) for key, prediction in by_image.items()}
    first: dict[tuple[str, str], Product] = {}
    for product in missing:
        if wanted[product.pk] not in fields:
            first.setdefault(wanted[product.pk], product)
    unreadable, images = set(), []
    for product, data in zip(list(first.values()), media_read_many([p.image for p in first.values()])):
        if isinstance(data, OSError):
            unreadable.add(product.image_checksum)
            del first[wanted[product.pk]]
        else:
            images.append(data)
    for product in missing:
        if product.image_checksum in unreadable:
            _fail(product, "image cannot be read from the media storage", run_id)
    missing = [p for p in missing if p.image_checksum not in unreadable]
    readable = [p for p in readable if p.image_checksum not in unreadable]
    try:
        results = pipeline.predict_batch(
            [ImageInput(data, p.category or None, p.sku) for p, data in zip(first.values(), images)])
    except (DatabaseError, SoftTimeLimitExceeded):
        raise
    except Exception as exc:  # an image the pipeline cannot take: read the others one at a time
        if len(products) > 1:
            return [ok for p in products for ok in _predict([p], pipeline, version, run_id)]
        log.exception("pipeline error on product %s", products[0].sku)
        return [_fail(p, f"pipeline error: {type(exc).__name__}: {exc}", run_id) for p in products]
    for (checksum, asked), result in zip(first, results):
        fields[(checksum, asked)] = _prediction_fields(result, pipeline, checksum, version, asked)
    with transaction.atomic():
        predictions = {**own, **storage.predictions_create(missing, wanted, fields, version, run_id)}
        storage.suggestions_for([(p, predictions[p.pk]) for p in readable
                                 if p.pk in predictions and _usable(predictions[p.pk])],
                                vocabulary=getattr(pipeline, "vocabulary", None),
                                region_table=pipeline.region_table)
        storage.products_finish({p.pk: wanted[p.pk] for p in readable}, predictions, version, run_id)
    return [False] * (len(products) - len(readable)) + [
        p.pk in predictions and _usable(predictions[p.pk]) for p in readable]


def _give_up(product: Product, run_id: int) -> bool:
    return _fail(product, f"a worker stopped {product.attempts} times while reading this image", run_id)


def _fail(product: Product, detail: str, run_id: int | None) -> bool:
    progress.product_finish(product_id=product.pk, status=Product.Status.FAILED, detail=detail[:2000], run_id=run_id)
    return False


def _usable(prediction: Prediction) -> bool:
    return prediction.error == "" and bool(prediction.predicted_color)
