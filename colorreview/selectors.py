"""Read-only queries used by the pages, the API and the commands."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from inference.errors import WeightsError
from inference.train.from_reviews import card_version

from . import roles
from .models import BulkApproval, ModelVersion, Prediction, Product, ReviewEvent, Suggestion, SuggestionTally


def whole_sku(search: str | None) -> str | None:
    """The SKU that a search term is, in any case, if it is one (one look-up in the SKU's unique index): the
    SKU typed, else it in upper case, else in lower case, as SKUs that differ only in case are different
    products.

    A SKU typed in full finds its product at once: searching for it as a substring would go through the
    trigram index, where digit-heavy SKUs share most of their trigrams and a million of them take a
    tenth of a second or more."""
    term = (search or "").strip()
    if not term or any(ch.isspace() for ch in term):
        return None
    candidates = (term, term.upper(), term.lower())
    found = set(Product.objects.filter(sku__in=set(candidates)).values_list("sku", flat=True))
    return next((sku for sku in candidates if sku in found), None)


def last_suggestion_of(sku: str) -> Suggestion | None:
    """The newest suggestion of the product with this SKU, whatever its state (for a search that finds no
    open one: what became of it)."""
    return Suggestion.objects.filter(product__sku=sku).select_related("decided_by", "product") \
        .order_by("-created_at", "-id").first()


def bulk_approvals_of(user) -> QuerySet[BulkApproval]:
    """The bulk approvals a user sees and may undo: their own; an admin's, everyone's."""
    qs = BulkApproval.objects.all()
    return qs if roles.has_role(user, roles.ADMIN) else qs.filter(created_by=user)


def bulk_approval_accepted_ids(approval: BulkApproval) -> list[int]:
    """The suggestions a bulk approval accepted and no undo has put back, in id order."""
    return sorted(Suggestion.objects.filter(bulk=approval).values_list("pk", flat=True))


def suggestion_queue(*, user, kind: str | None = None, status: str = Suggestion.Status.PENDING,
                     color: str | None = None, category: str | None = None, search: str | None = None,
                     sku: str | None = None, min_confidence: float | None = None,
                     severity: str | None = None) -> QuerySet[Suggestion]:
    """Suggestions the user may see, shade flags after the others, then most certain first; ``sku``: of that
    product alone (see ``whole_sku``), ``search``: of the products whose SKU or title contains it, ``severity``:
    the mislabel flags of another colour family (``family``) or of another shade of the tag's (``shade``)."""
    qs = Suggestion.objects.select_related("product", "product__seller_color", "prediction", "decided_by")
    visible = visible_kinds(user)
    qs = qs.filter(kind__in=visible) if len(visible) < 2 else qs
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if color:
        qs = qs.filter(suggested_color=color)
    if category:
        qs = qs.filter(product__category__iexact=category)
    if sku:
        qs = qs.filter(product__sku=sku)
    elif search:  # a semi-join, so that the products are found first (trigram indexes on PostgreSQL)
        qs = qs.filter(product__in=Product.objects.filter(Q(sku__icontains=search) | Q(title__icontains=search))
                       .values("pk"))
    if min_confidence is not None:
        qs = qs.filter(confidence__gte=min_confidence)
    if severity:
        qs = qs.filter(of_severity(severity))
    return qs.order_by(*Suggestion.QUEUE_ORDER)


def of_severity(severity: str) -> Q:
    """Mislabel flags of another colour family (``family``) or of another shade of the tag's (``shade``), said
    as a range of the queue's rank too (a shade flag's is below 0), which the queue's indexes answer in order."""
    rank = Q(queue_rank__lt=0) if severity == Suggestion.Severity.SHADE else Q(queue_rank__gte=0)
    return rank & Q(kind=Suggestion.Kind.MISLABEL, severity=severity)


def suggestion_work_queue(*, user, skipped: list[int] = (), **filters) -> QuerySet[Suggestion]:
    """The pending suggestions the user can take now: none held by another reviewer, none skipped."""
    from .services.claims import unclaimed

    return unclaimed(suggestion_queue(user=user, **filters), user).exclude(pk__in=list(skipped))


def suggestions_set_aside(*, user, skipped: list[int] = (), **filters) -> dict:
    """Why pending suggestions are not in the user's work queue: how many other reviewers hold (and when
    the first lease ends), how many the user skipped this session."""
    from django.db.models import Min

    from .services.claims import free_for

    pending = suggestion_queue(user=user, **filters).filter(status=Suggestion.Status.PENDING)
    held = pending.exclude(free_for(user)).aggregate(n=Count("id"), until=Min("claimed_until"))
    return {"held": held["n"], "held_until": held["until"],
            "skipped": pending.filter(free_for(user), pk__in=list(skipped)).count() if skipped else 0}


def queue_held(*, user) -> dict[str, int]:
    """Pending suggestions of each kind the user may see that another reviewer holds now: the cards on other
    reviewers' screens, a few whatever the queue's size (found by the index of live claims)."""
    from .services.claims import free_for

    now = timezone.now()
    held = dict(suggestion_queue(user=user).filter(claimed_until__gte=now).exclude(free_for(user, now))
                .values_list("kind").annotate(n=Count("id")).order_by())
    return {kind: int(held.get(kind) or 0) for kind in ("mislabel", "impute")}


def suggestion_categories(*, user) -> list[str]:
    """Categories of the products in the user's pending queue, for the filter (from the catalogue summary)."""
    from .services.summary import catalog_summary

    by_kind = catalog_summary().get("categories", {})
    return sorted({c for kind in visible_kinds(user) for c in by_kind.get(kind, [])})


def visible_kinds(user) -> list[str]:
    if roles.has_role(user, roles.ADMIN):
        return ["mislabel", "impute"]
    return [k for k in ("mislabel", "impute") if roles.can_decide(user, k)]


def queue_counts(*, user) -> dict[str, int]:
    """Pending suggestions of each kind the user may see: on PostgreSQL from the tally its triggers keep
    (a few rows, whatever the catalogue's size), elsewhere counted."""
    visible = visible_kinds(user)
    if connection.vendor == "postgresql":
        counts = dict(SuggestionTally.objects.filter(status=Suggestion.Status.PENDING, kind__in=visible)
                      .values_list("kind").annotate(n=Sum("n")).order_by())
    else:
        counts = dict(suggestion_queue(user=user).values_list("kind").annotate(n=Count("id")).order_by())
    return {kind: int(counts.get(kind) or 0) if kind in visible else 0 for kind in ("mislabel", "impute")}


def pending_shade_flags() -> int:
    """Open shade flags: a range at the end of the queue's index (their rank is below 0), however large it is."""
    return Suggestion.objects.filter(of_severity(Suggestion.Severity.SHADE), status=Suggestion.Status.PENDING).count()


def dashboard_stats() -> dict:
    """The dashboard's figures, from the summary a background job keeps (at most a minute old)."""
    from .services.summary import catalog_summary

    return catalog_summary()


def catalogue_categories() -> list[tuple[str, int]]:
    """The catalogue's categories and their products (archived ones left out), from the catalogue summary."""
    counts = (dashboard_stats().get("category_counts") or {}).get("products") or {}
    return sorted(counts.items(), key=lambda item: item[0].lower())


def product_history(product: Product) -> QuerySet[ReviewEvent]:
    """Everything that happened to the product, oldest first: import, predictions, suggestions,
    decisions and their undoing, colours set by hand or by a new tag mapping, archiving."""
    return product.events.select_related("actor", "suggestion").order_by("created_at", "id")


def product_predictions(product: Product) -> QuerySet[Prediction]:
    return product.predictions.order_by("-created_at", "-id")


#: the longest text a filter of a list takes (a title's length, the longest column one matches): a longer one
#: could match nothing, and SQLite refuses a LIKE pattern past 50,000 characters
TEXT_FILTER_MAX = 500

#: values of the ``archived`` filter of the product list and API: what ``product_list`` takes
ARCHIVED_CHOICES = {"": False, "0": False, "1": True, "all": None}


#: values of the ``open`` filter of the product list and API, with what each lists
OPEN_CHOICES = {"any": "With an open suggestion for you", "mislabel": "With an open mislabel flag",
                "impute": "With an open imputation", "none": "With nothing open for you"}


def of_open(choice: str, *, kinds: list[str]) -> Q:
    """Products by what is open on them, of the ``kinds`` the viewer may decide (``OPEN_CHOICES``): an
    existence test on the pending suggestion's unique index (one per product), whatever the catalogue's size.
    A kind the viewer may not decide is never open to them."""
    wanted = list(kinds) if choice in ("any", "none") else [k for k in kinds if k == choice]
    pending = Exists(Suggestion.objects.filter(product=OuterRef("pk"), status=Suggestion.Status.PENDING,
                                               kind__in=wanted))
    return ~Q(pending) if choice == "none" else Q(pending)


def of_seller_color(value: str) -> Q:
    """Products whose seller tag says ``value``: as written (in any case), or mapped to the vocabulary colour
    that ``value`` itself maps to as an import would map it (``gray``, ``navy``, ``off-white``)."""
    from .services.vocabulary import db_vocabulary

    mapped = db_vocabulary().match(value)
    written = Q(seller_color_raw__iexact=value)
    return written | Q(seller_color__name=mapped) if mapped else written


def product_list(*, status: str | None = None, category: str | None = None, search: str | None = None,
                 seller_color: str | None = None, unmapped: bool | None = None,
                 archived: bool | None = False, open_: str | None = None,
                 kinds: tuple[str, ...] | list[str] = ()) -> QuerySet[Product]:
    """Products in sku order; ``archived``: False (the default) leaves the archived ones out, True lists
    only them, None both; ``open_`` (an ``OPEN_CHOICES`` key) by what is open on them of ``kinds``."""
    qs = Product.objects.select_related("seller_color", "archived_by").order_by("sku")
    if archived is not None:
        qs = qs.filter(archived_at__isnull=not archived)
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category__iexact=category)
    if search:
        qs = qs.filter(Q(sku__icontains=search) | Q(title__icontains=search))
    if seller_color:
        qs = qs.filter(of_seller_color(seller_color))
    if unmapped:
        qs = qs.exclude(seller_color_raw="").filter(seller_color__isnull=True)
    if open_:
        qs = qs.filter(of_open(open_, kinds=kinds))
    return qs


CONFIDENCE_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def acceptance_counts() -> list[list[int]]:
    """[bucket, confirmed (accepted or corrected), rejected] of the reviewed suggestions by score bucket."""
    from django.db.models import Case, IntegerField, Value, When

    bucket = Case(*[When(score__lt=edge, then=Value(i)) for i, edge in enumerate(CONFIDENCE_EDGES)],
                  default=Value(len(CONFIDENCE_EDGES)), output_field=IntegerField())
    rows = (Suggestion.objects.filter(status__in=Suggestion.DECIDED).annotate(bucket=bucket)
            .values("bucket").annotate(good=Count("id", filter=~Q(status="rejected")),
                                       bad=Count("id", filter=Q(status="rejected"))).order_by())
    return [[r["bucket"], r["good"], r["bad"]] for r in rows]


def acceptance_by_confidence(counts: list[list[int]] | None = None) -> list[tuple[str, int, int]]:
    """Reviewed suggestions by score bucket: (label, confirmed (accepted or corrected), rejected).
    ``counts``: ``acceptance_counts()`` as the catalogue summary holds them (else counted now)."""
    found = {b: (good, bad) for b, good, bad in (acceptance_counts() if counts is None else counts)}
    edges = (0.0, *CONFIDENCE_EDGES, 1.0)
    labels = [f"<{edges[1]:.0%}"] + [f"{a:.0%}–{b:.0%}".replace("%–", "–") for a, b in zip(edges[1:], edges[2:])]
    return [(label, *found.get(i, (0, 0))) for i, label in enumerate(labels)]


def decisions_per_day(days: int = 14) -> list[tuple[str, int]]:
    """Reviewers' decisions that stand, per day over the last ``days`` days, oldest first (days without any: 0)."""
    from datetime import timedelta

    from django.db.models.functions import TruncDate
    from django.utils import timezone

    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = dict(_standing().filter(decided_at__date__gte=start)
                  .annotate(day=TruncDate("decided_at")).values_list("day").annotate(n=Count("id")).order_by())
    return [((start + timedelta(days=i)).strftime("%d %b"), counts.get(start + timedelta(days=i), 0))
            for i in range(days)]


def decisions_by_reviewer(days: int = 14) -> list[tuple[str, int]]:
    from datetime import timedelta

    from django.utils import timezone

    since = timezone.now() - timedelta(days=days)
    return list(_standing().filter(decided_at__gte=since, decided_by__isnull=False)
                .values_list("decided_by__username").annotate(n=Count("id")).order_by("-n")[:10])


def _standing() -> QuerySet[Suggestion]:
    """Decisions that stand: suggestions accepted, rejected or corrected now (one taken back or reopened
    is not counted, as the dashboard's total of decisions does not count it)."""
    return Suggestion.objects.filter(status__in=Suggestion.DECIDED)


def seller_final_counts() -> list[list]:
    """[seller colour, final colour, products] over the products with a mapped seller colour (not archived)."""
    return [[s, f, n] for s, f, n in Product.objects.filter(seller_color__isnull=False, archived_at__isnull=True)
            .exclude(final_color="")
            .values_list("seller_color__name", "final_color").annotate(n=Count("id")).order_by()]


def seller_vs_final(limit: int = 10, counts: list[list] | None = None) -> tuple[list[str], dict[tuple[str, str], int]]:
    """How the seller's (mapped) colours end up: counts of (seller colour, final colour) over ``limit``
    colours, those with the most changed products first (a change is what the chart is for), then the most
    frequent. ``counts``: ``seller_final_counts()`` as the catalogue summary holds them."""
    pairs = {(s, f): n for s, f, n in (seller_final_counts() if counts is None else counts)}
    totals: dict[str, int] = {}
    changed: dict[str, int] = {}
    for (seller, final), n in pairs.items():
        for colour in (seller, final):
            totals[colour] = totals.get(colour, 0) + n
            if seller != final:
                changed[colour] = changed.get(colour, 0) + n
    colors = sorted(totals, key=lambda c: (-changed.get(c, 0), -totals[c], c))[:limit]
    return colors, {k: n for k, n in pairs.items() if k[0] in colors and k[1] in colors}


# --- learning from reviews ----------------------------------------------------------------

@dataclass(frozen=True)
class TrainingLabel:
    product_id: int
    color: str
    source: str  # accepted, corrected, rejected (the tag confirmed), manual, catalogue


LABELLING = (Suggestion.Status.ACCEPTED, Suggestion.Status.CORRECTED)


def review_labels() -> dict[int, TrainingLabel]:
    """Reviewers' decisions as colour labels, the latest per product: an accepted suggestion gives the
    suggested colour, a corrected one the reviewer's colour, a rejected mislabel flag the seller's tag
    (confirmed), a colour set by hand that colour. A rejected imputation only says what the colour is
    not: no label. Decisions about an image the product no longer has are left out."""
    decided = (Suggestion.objects.filter(Q(status__in=LABELLING) | Q(status=Suggestion.Status.REJECTED,
                                                                     kind=Suggestion.Kind.MISLABEL))
               .filter(prediction__image_checksum=F("product__image_checksum")).exclude(final_color="")
               .values_list("product_id", "status", "final_color", "decided_at"))
    manual = ReviewEvent.objects.filter(action=ReviewEvent.Action.MANUAL).values_list(
        "product_id", "to_color", "created_at")
    dated = [(at, pid, color, status) for pid, status, color, at in decided]
    dated += [(at, pid, color, "manual") for pid, color, at in manual]
    latest: dict[int, TrainingLabel] = {}
    for _, pid, color, source in sorted(dated, key=lambda row: (row[0], row[1])):
        latest[pid] = TrainingLabel(pid, color, source)
    return latest


def catalogue_labels(*, exclude: set[int], limit: int) -> list[TrainingLabel]:
    """Seller tags of predicted products nobody reviewed and nothing flagged, spread evenly over the
    catalogue, at most ``limit``."""
    touched = Suggestion.objects.exclude(status=Suggestion.Status.SUPERSEDED).values("product_id")
    rows = list(Product.objects.filter(status=Product.Status.PREDICTED, seller_color__isnull=False, image_error="")
                .exclude(pk__in=touched).exclude(pk__in=exclude).order_by("pk")
                .values_list("pk", "seller_color__name"))
    step = max(1, -(-len(rows) // max(1, limit)))
    return [TrainingLabel(pid, color, "catalogue") for pid, color in rows[::step][:limit]]


def shipped_classifier_version() -> str | None:
    """The classifier version of the shipped weights (from their cards), None without timm weights."""
    if settings.COLORREVIEW_CLASSIFIER != "timm":
        return None
    try:
        return card_version(settings.COLORREVIEW_WEIGHTS_DIR)
    except (WeightsError, KeyError, ValueError):
        return None


def active_model_version() -> ModelVersion | None:
    """The latest promoted version fine-tuned from the weights shipped now, whose folder is here or in the
    media storage (``services/model_store.py``)."""
    base = shipped_classifier_version()
    if base is None:
        return None
    from .services.model_store import local_weights_dir

    for version in ModelVersion.objects.filter(status=ModelVersion.Status.PROMOTED, base_version=base)[:5]:
        folder = local_weights_dir(version.weights_dir)
        if folder is not None:
            version.weights_dir = str(folder)  # this host's copy (fetched from the media storage if need be)
            return version
    return None


def active_weights_dir() -> str | None:
    """The weights folder the pipeline loads: the active model version's, else the shipped one."""
    active = active_model_version()
    return active.weights_dir if active else settings.COLORREVIEW_WEIGHTS_DIR


def model_version_list(limit: int = 10) -> list[ModelVersion]:
    """Recent model versions, newest first, each told whether it is the one in use."""
    active = active_model_version()
    versions = list(ModelVersion.objects.all()[:limit])
    for version in versions:
        version.active = active is not None and version.pk == active.pk
    return versions
