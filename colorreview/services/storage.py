"""Storing what the pipeline read for a batch of products in a handful of statements, whatever the batch's
size: the batch's predictions (one read of those already made, one insert), their history events, the
products' new states (conditional, so that a redelivered batch counts nothing twice) and their suggestions."""

from __future__ import annotations

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Min, Subquery

from ..models import Prediction, Product, ReviewEvent
from .progress import UNFINISHED, run_count
from .regions import Wanted, current_readings
from .suggestions import suggestion_refresh, suggestions_refresh_batch


def known_predictions(wanted: Wanted, version: str) -> tuple[dict[int, Prediction], dict[tuple[str, str], Prediction]]:
    """The batch's own predictions (by product; ``wanted``: each product's image and region) and one
    prediction per image and region read already (by checksum and region): products that share an image are
    read once for each region their categories pick, whichever product was read first. Two queries, each
    returning at most one row per product of the batch and region, however many products share its images."""
    own = _own(wanted, version)
    others = {key for pk, key in wanted.items() if pk not in own}
    first = (Prediction.objects.filter(image_checksum__in={checksum for checksum, _ in others}, model_version=version,
                                       category_region__in={region for _, region in others})
             .values("image_checksum", "category_region").annotate(first=Min("id")).values("first"))
    by_image = {(pr.image_checksum, pr.category_region): pr
                for pr in Prediction.objects.filter(pk__in=Subquery(first))} if others else {}
    by_image.update({wanted[pk]: pr for pk, pr in own.items() if pr.category_region is not None})
    return own, by_image


def _own(wanted: Wanted, version: str) -> dict[int, Prediction]:
    """The products' predictions by ``version`` of the image and region wanted (one query)."""
    rows = Prediction.objects.filter(product_id__in=wanted, model_version=version).order_by("created_at", "id")
    return current_readings(((pr.product_id, pr.image_checksum, pr.category_region, pr) for pr in rows), wanted)


SHARED_FIELDS = ("config", "predicted_color", "confidence", "family", "probabilities", "dominant_colors", "region",
                 "garment_fraction", "flags", "error", "seconds", "mask")


def copied_fields(prediction: Prediction) -> dict:
    return {name: getattr(prediction, name) for name in SHARED_FIELDS}


def predictions_create(products: list[Product], wanted: Wanted, fields: dict[tuple[str, str], dict], version: str,
                       run_id: int | None) -> dict[int, Prediction]:
    """Insert the products' predictions (``fields`` by image checksum and region, ``wanted`` by product) and a
    history event for each."""
    if not products:
        return {}
    rows = [Prediction(product=p, image_checksum=p.image_checksum, model_version=version, run_id=run_id,
                       **{**fields[wanted[p.pk]], "category_region": wanted[p.pk][1]}) for p in products]
    try:
        with transaction.atomic():
            created = Prediction.objects.bulk_create(rows)
    except IntegrityError:  # another worker stored some of them first: keep theirs (their events are theirs)
        before = set(Prediction.objects.filter(product__in=products, model_version=version).values_list("pk",
                                                                                                       flat=True))
        Prediction.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(Prediction.objects.filter(product__in=products, model_version=version).exclude(pk__in=before))
    ReviewEvent.objects.bulk_create([_read_event(p) for p in created])
    return {p.product_id: p for p in created}


def _read_event(prediction: Prediction) -> ReviewEvent:
    if prediction.error or not prediction.predicted_color:
        read = f"no colour read: {prediction.error or 'no garment found'}"
    else:
        read = f"read as {prediction.predicted_color} at {prediction.confidence or 0:.0%}"
    return ReviewEvent(product_id=prediction.product_id, action=ReviewEvent.Action.PREDICTED,
                       to_color=prediction.predicted_color, note=read[:500], model_version=prediction.model_version)


def suggestions_for(pairs: list[tuple[Product, Prediction]], vocabulary=None, region_table=None) -> None:
    """Suggestions of the batch at once; if an import or a re-map opened one of them meanwhile, one by one."""
    if not pairs:
        return
    try:
        with transaction.atomic():
            suggestions_refresh_batch(pairs=pairs, vocabulary=vocabulary, region_table=region_table)
    except IntegrityError:
        for product, prediction in pairs:
            for attempt in range(3):
                try:
                    with transaction.atomic():
                        suggestion_refresh(product=Product.objects.get(pk=product.pk), prediction=prediction)
                    break
                except IntegrityError:
                    if attempt == 2:
                        raise


def products_finish(read: Wanted, predictions: dict[int, Prediction], version: str,
                    run_id: int | None) -> tuple[int, int]:
    """Each product takes the state of its prediction for the image and region that were read (``read`` by
    product; ``predictions`` by product, those another worker stored are looked up), unless its image changed
    meanwhile; in a run only products still unfinished in it change, and the run counts them (unless it was
    cancelled). The rows are locked by primary key first, then updated a group of equal states at a time: no
    plan depends on what the planner believes of the prediction table (a fresh one grows faster than its
    statistics). Returns (done, failed)."""
    if missing := [pk for pk in read if pk not in predictions]:
        predictions = {**predictions, **_own({pk: read[pk] for pk in missing}, version)}
    qs = Product.objects.filter(pk__in=[pk for pk in read if pk in predictions])
    if run_id is not None:
        qs = qs.filter(pipeline_run_id=run_id, status__in=UNFINISHED)
    states: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, checksum in qs.select_for_update(no_key=True).order_by("pk").values_list("pk", "image_checksum"):
        if checksum != read[pk][0]:  # re-imported meanwhile: its new image waits for a reading of its own
            continue
        prediction = predictions[pk]
        if prediction.error == "" and prediction.predicted_color:
            states[(Product.Status.PREDICTED, "")].append(pk)
        else:
            states[(Product.Status.NO_PREDICTION, prediction.error)].append(pk)
    for (status, detail), ids in states.items():
        Product.objects.filter(pk__in=ids).update(status=status, status_detail=detail)
    done = len(states.get((Product.Status.PREDICTED, ""), []))
    changed = sum(map(len, states.values()))
    if run_id is not None and changed:
        run_count(run_id, done=done, failed=changed - done)
    return done, changed - done


__all__ = ["copied_fields", "known_predictions", "predictions_create", "products_finish", "suggestions_for"]
