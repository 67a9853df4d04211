"""Catalogue, predictions, suggestions and the append-only review history."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Upper
from django.utils import timezone

#: the widest integer a database column holds (a 64-bit column: ids, keys)
BIGINT_MAX = 2**63 - 1


class ColorName(models.Model):
    """One colour of the catalogue vocabulary (seeded from the catalogue's baseColour values)."""

    name = models.CharField(max_length=64, unique=True)
    hex = models.CharField(max_length=7, help_text="reference colour, #rrggbb",
                           validators=[RegexValidator(r"^#[0-9a-fA-F]{6}\Z",
                                                      "a reference colour is #rrggbb, e.g. #1f2a44")])
    family = models.CharField(max_length=32, help_text="the name of a vocabulary colour (its own, or e.g. Blue "
                                                       "for Navy Blue)")
    nameable = models.BooleanField(default=True, help_text="the KD-tree may name pixel colours with it "
                                                           "(off for textures and metals)")
    aliases = models.TextField(blank=True, help_text="other spellings, separated by |")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """One colour per name whatever its case, and a family that is a colour of the vocabulary."""
        from django.core.exceptions import ValidationError

        others = ColorName.objects.exclude(pk=self.pk)
        twin = others.filter(name__iexact=self.name).first()
        if twin is not None:
            raise ValidationError({"name": f"the vocabulary has {twin.name} already (names differ in more than case)"})
        if self.family and self.family != self.name and not others.filter(name=self.family).exists():
            close = others.filter(name__iexact=self.family).values_list("name", flat=True).first()
            raise ValidationError({"family": f"{self.family!r} is not a colour of the vocabulary"
                                             + (f" (did you mean {close}?)" if close else "")})


class CategoryRegion(models.Model):
    """Which garment region a product category advertises."""

    class Region(models.TextChoices):
        UPPER = "upper", "upper-body cloth"
        LOWER = "lower", "lower-body cloth"
        FULL = "full", "full-body cloth"

    category = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=8, choices=Region.choices)

    class Meta:
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.category} → {self.region}"


class ImportBatch(models.Model):
    """One import of a catalogue file; uploads run in the background and report progress here."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    source_name = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    cancel_requested = models.BooleanField(default=False)
    upload_dir = models.CharField(max_length=255, blank=True, help_text="stored upload, while it is imported")
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_flagged = models.PositiveIntegerField(default=0, help_text="imported with an image problem")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="the first [{line, sku, reason, imported}]")
    run = models.ForeignKey("PipelineRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.source_name} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def progress(self) -> float:
        if self.status == self.Status.FINISHED:
            return 1.0
        return self.bytes_done / self.bytes_total if self.bytes_total else 0.0

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class Product(models.Model):
    """A catalogue product. An archived one (``archived_at`` set) has left the review work: it has no
    pending suggestion (archiving withdraws them, and none is made while it stays archived), no new
    pipeline run takes it, and the lists, counts and export leave it out unless asked for it."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for the pipeline"
        QUEUED = "queued", "queued"
        RUNNING = "running", "being read by a worker"
        PREDICTED = "predicted", "predicted"
        NO_PREDICTION = "no_prediction", "no prediction"
        FAILED = "failed", "failed"

    sku = models.CharField(max_length=128, unique=True)
    title = models.CharField(max_length=500, blank=True)
    category = models.CharField(max_length=100, blank=True)
    image = models.CharField(max_length=255, blank=True, help_text="path inside MEDIA_ROOT")
    image_source = models.CharField(max_length=1000, blank=True, help_text="path as imported")
    image_source_stat = models.CharField(max_length=64, blank=True, help_text="size:mtime of the imported file")
    image_checksum = models.CharField(max_length=64, blank=True)
    image_error = models.TextField(blank=True)
    seller_color_raw = models.CharField(max_length=100, blank=True, help_text="as the seller wrote it")
    seller_color = models.ForeignKey(ColorName, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", help_text="vocabulary colour it maps to")
    final_color = models.CharField(max_length=100, blank=True,
                                   help_text="colour the catalogue should carry now")
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_detail = models.TextField(blank=True)
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL)
    pipeline_run = models.ForeignKey("PipelineRun", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="products", help_text="the run that last queued it",
                                     db_index=False)  # product_run_status leads with it
    attempts = models.PositiveSmallIntegerField(default=0, help_text="deliveries to a worker in that run")
    archived_at = models.DateTimeField(null=True, blank=True, help_text="out of the review work since then")
    archived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="who archived it (empty: the command line)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        # Every index is written again when a run changes a product's status, so each one must earn its
        # place: no pattern-ops twins (text search has the trigram indexes), no single-column index that a
        # composite one already leads with.
        indexes = [
            models.Index(fields=["pipeline_run", "status"], name="product_run_status"),
            models.Index(fields=["category"], name="product_category"),
            models.Index(fields=["image_checksum"], name="product_image_checksum"),
            models.Index(Upper("category"), name="product_category_upper"),
            models.Index(fields=["status", "sku"], name="product_status_sku"),
            # the few archived products, in the product list's order (active ones are read through the sku index)
            models.Index(fields=["sku"], condition=Q(archived_at__isnull=False), name="product_archived_sku"),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def seller_color_unmapped(self) -> bool:
        return bool(self.seller_color_raw.strip()) and self.seller_color_id is None

    @property
    def seller_color_display(self) -> str:
        return self.seller_color.name if self.seller_color_id else self.seller_color_raw

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class PipelineRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=200)
    enqueued = models.BooleanField(default=True, help_text="every product of the run is queued (a run started "
                                                           "from the pages is queued in the background)")
    enqueued_upto = models.BigIntegerField(default=0, help_text="last product id queued so far (keyset cursor)")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="last time a batch started or ended")

    class Meta:
        ordering = ["-created_at"]

    @property
    def progress(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 1.0

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class RunBatch(models.Model):
    """A batch of a run over the whole catalogue: the products to predict with ids in ``first_id``..``last_id``
    when it was queued. Queuing writes these rows only; the worker that takes a batch adopts its products
    into the run (``taken``), so starting a run never touches every product row."""

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="batches")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField(help_text="products to predict in the range when it was queued")
    taken = models.BooleanField(default=False, help_text="a worker has adopted its products into the run")

    class Meta:
        ordering = ["run", "first_id"]
        indexes = [models.Index(fields=["run", "taken"], name="runbatch_run_taken")]


class Worker(models.Model):
    """A live task worker, seen through its heartbeat (a row per worker process)."""

    name = models.CharField(max_length=255, unique=True, help_text="Celery node name")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Prediction(models.Model):
    """The pipeline's reading of one product image with one model version, for the garment region its
    category picked (never rewritten)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="predictions")
    image_checksum = models.CharField(max_length=64)
    model_version = models.CharField(max_length=200)
    config = models.JSONField(default=dict)
    predicted_color = models.CharField(max_length=64, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    family = models.CharField(max_length=32, blank=True)
    probabilities = models.JSONField(default=dict)
    dominant_colors = models.JSONField(default=list)
    region = models.CharField(max_length=16, blank=True)
    category_region = models.CharField(
        max_length=8, null=True, blank=True,
        help_text="the region the product's category picked when read (empty: none, the largest was read; "
                  "null: not recorded, read before it was kept)")
    garment_fraction = models.FloatField(default=0)
    flags = models.JSONField(default=list)
    error = models.TextField(blank=True)
    seconds = models.FloatField(default=0)
    mask = models.CharField(max_length=255, blank=True, help_text="mask PNG inside MEDIA_ROOT")
    run = models.ForeignKey(PipelineRun, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "image_checksum", "model_version", "category_region"],
                                    name="one_prediction_per_image_model_and_region"),
        ]
        indexes = [
            models.Index(fields=["image_checksum", "model_version"], name="prediction_image_version"),
            models.Index(fields=["-created_at", "-id"], name="prediction_newest"),
        ]


class Suggestion(models.Model):
    class Kind(models.TextChoices):
        IMPUTE = "impute", "imputation"
        MISLABEL = "mislabel", "mislabel"

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        CORRECTED = "corrected"
        SUPERSEDED = "superseded"

    #: the states a reviewer's decision leaves a suggestion in (a decision that stands)
    DECIDED = (Status.ACCEPTED, Status.REJECTED, Status.CORRECTED)

    class Severity(models.TextChoices):
        NONE = "", "—"
        FAMILY = "family", "different colour family"
        SHADE = "shade", "shade within the family"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="suggestions")
    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(max_length=10, choices=Kind.choices, db_index=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, blank=True, default="")
    tier = models.GeneratedField(
        expression=Case(When(severity="shade", then=Value(1)), default=Value(0)),
        output_field=models.PositiveSmallIntegerField(), db_persist=True,
        help_text="place in the review queue before the score: 0 first; shade flags are 1, after every other")
    queue_rank = models.GeneratedField(
        expression=F("score") - Case(When(severity="shade", then=Value(1.0)), default=Value(0.0)),
        output_field=models.FloatField(), db_persist=True,
        help_text="the review queue's sort key, highest first: the score, less 1 for a shade flag (its tier)")
    seller_color = models.CharField(max_length=100, blank=True, help_text="seller's tag when suggested")
    suggested_color = models.CharField(max_length=64)
    confidence = models.FloatField()
    score = models.FloatField(help_text="calibrated probability that the suggestion is right")
    expected_precision = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True, help_text="the threshold the score reached")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    final_color = models.CharField(max_length=100, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    bulk = models.ForeignKey("BulkApproval", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="the bulk approval that accepted it")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="reviewer whose screen shows it now")
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="the claim lapses by itself then")
    created_at = models.DateTimeField(auto_now_add=True)

    #: the review queue's order: shade flags after the others, then most certain first (one column, so that a
    #: page deep in the queue starts where an index does)
    QUEUE_ORDER = ("-queue_rank", "id")

    class Meta:
        ordering = ["-queue_rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product"], condition=Q(status="pending"),
                                    name="one_pending_suggestion_per_product"),
        ]
        # the review queue: shade flags last, then most certain first, within each filter; partial on what is open
        indexes = [
            models.Index(F("queue_rank").desc(), "id", condition=Q(status="pending"), name="suggestion_pending_queue"),
            models.Index("kind", F("queue_rank").desc(), "id", condition=Q(status="pending"),
                         name="suggestion_pending_kind_queue"),
            models.Index("suggested_color", F("queue_rank").desc(), "id", condition=Q(status="pending"),
                         name="suggestion_pending_color_queue"),
            models.Index("kind", "confidence", condition=Q(status="pending"), name="suggestion_pending_confidence"),
            models.Index(fields=["status", "-queue_rank", "id"], name="suggestion_status_queue"),
            models.Index(fields=["bulk", "status"], name="suggestion_bulk_status"),
            models.Index(fields=["claimed_until"], condition=Q(status="pending"), name="suggestion_pending_claims"),
        ]


class ReviewEvent(models.Model):
    """Append-only history of a product: every decision and every change of its final colour, with
    who or what, when, from, to, why and the model version. The database itself refuses to update
    or delete a row (triggers, see colorreview/history.py), and products, suggestions and users with
    events cannot be deleted."""

    class Action(models.TextChoices):
        IMPORT = "import", "imported"
        PREDICTED = "predicted"
        SUGGESTED = "suggested"
        ACCEPT = "accept", "accepted"
        REJECT = "reject", "rejected"
        CORRECT = "correct", "corrected"
        SUPERSEDE = "supersede", "superseded"
        UNDO = "undo", "undone"
        REOPEN = "reopen", "reopened"
        MANUAL = "manual", "set by hand"
        REMAP = "remap", "tag mapped anew"
        ARCHIVE = "archive", "archived"
        UNARCHIVE = "unarchive", "unarchived"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="events")
    suggestion = models.ForeignKey(Suggestion, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=10, choices=Action.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    from_color = models.CharField(max_length=100, blank=True)
    to_color = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("review events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("review events are append-only")


class CategoryThreshold(models.Model):
    """An admin's threshold for one kind of suggestion in one product category (else the global one)."""

    category = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Suggestion.Kind.choices)
    value = models.FloatField(help_text="calibrated probability, 0–1")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["category", "kind"], name="one_threshold_per_category_and_kind"),
            models.CheckConstraint(condition=Q(value__gte=0) & Q(value__lte=1), name="threshold_is_a_probability"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.kind} ≥ {self.value:.2f}"


class ModelVersion(models.Model):
    """A colour classifier fine-tuned on reviewers' decisions (``manage.py retrain``). The latest
    promoted one fine-tuned from the weights shipped now is the one the pipeline loads."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "being trained and judged"
        PROMOTED = "promoted"
        REFUSED = "refused", "refused (worse)"

    version = models.CharField(max_length=200, help_text="classifier version of its weights")
    base_version = models.CharField(max_length=200, help_text="the shipped classifier it was fine-tuned from")
    weights_dir = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    figures = models.JSONField(default=dict, blank=True,
                               help_text="{evaluation, before, after}: figures of the model in use and of this one")
    labels = models.JSONField(default=dict, blank=True, help_text="label counts by source")
    message = models.TextField(blank=True)
    pipeline_version = models.CharField(max_length=300, blank=True, help_text="the pipeline's model version with it")
    carried_versions = models.JSONField(default=list, blank=True,
                                        help_text="earlier pipeline versions whose predictions still stand")
    requeued = models.PositiveIntegerField(default=0)
    run = models.ForeignKey(PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # one retrain at a time, held by the database: two started at the same instant cannot both begin
        constraints = [models.UniqueConstraint(fields=["status"], condition=Q(status="candidate"),
                                               name="model_version_one_candidate")]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"


class BulkApproval(models.Model):
    """One bulk approval: what it selected, how far it got, and whether it was undone (as one batch)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        UNDONE = "undone"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=10, choices=Suggestion.Kind.choices)
    criteria = models.JSONField(default=dict, help_text="ids, min_confidence, color, category, q")
    note = models.TextField(blank=True)
    matched = models.PositiveIntegerField(default=0, help_text="pending suggestions it selected when started")
    accepted = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="last suggestion id handled (keyset)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)
    reverted = models.PositiveIntegerField(default=0, help_text="suggestions the undo put back in the queue")
    request_key = models.CharField(
        max_length=64, blank=True, default="",
        help_text="the confirmation's key (the page's form, or the API's Idempotency-Key header): "
                  "the same key from the same user is one approval, however often it is sent")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["created_by", "request_key"], condition=~Q(request_key=""),
                                               name="bulk_approval_request_key_once")]

    def __str__(self) -> str:
        return f"bulk approval {self.pk} ({self.kind}, {self.accepted} accepted)"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress(self) -> float:
        return self.accepted / self.matched if self.matched else float(not self.active)


class SuggestionTally(models.Model):
    """Suggestions by kind and status, kept on PostgreSQL by triggers on the suggestion table: each
    statement that adds, removes or changes suggestions appends its net change here (no row is updated
    in place, so concurrent writers never wait on each other), and the summary job folds the rows
    together. A count is the sum of ``n`` over its rows (``selectors.queue_counts``): no scan of the
    suggestions. SQLite, the embedded setup, counts the suggestions themselves."""

    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=16)
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["status", "kind"], name="suggestiontally_status_kind")]


class CatalogSummary(models.Model):
    """The dashboard's figures, computed in the background rather than on every view."""

    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    refresh_requested_at = models.DateTimeField(null=True, blank=True)


class FlagRules(models.Model):
    """Flag rules the open suggestions were judged by (the model card's thresholds, rule, shade families and
    outside colours, as the settings leave them), a row each time they changed. They are not part of the model
    version: when they change, every product is judged again from its latest reading."""

    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of ``rules``")
    rules = models.JSONField(default=dict)
    applied_at = models.DateTimeField()
    products = models.PositiveIntegerField(default=0, help_text="products judged again under them")
    changed = models.PositiveIntegerField(default=0, help_text="open suggestions opened, withdrawn or replaced")

    class Meta:
        ordering = ["-applied_at", "-id"]
        verbose_name_plural = "flag rules"

    def __str__(self) -> str:
        return f"flag rules applied {timezone.localtime(self.applied_at):%Y-%m-%d %H:%M}"


class DueWork(models.Model):
    """Work a migration leaves owed to the data (seller tags to map again), done once every migration has
    run, by the ``migrate`` that applied it or, if that one stopped short, by the next: the row is removed
    only when the work is done."""

    name = models.CharField(max_length=64, unique=True)
    reason = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "due work"

    def __str__(self) -> str:
        return self.name
