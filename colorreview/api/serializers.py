from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import selectors
from ..models import BulkApproval, PipelineRun, Prediction, Product, Suggestion
from ..services import NOTE_MAX


class ProductReadingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["id", "predicted_color", "confidence", "family", "model_version", "created_at"]


class ProductOpenSuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suggestion
        fields = ["id", "kind", "severity", "tier", "suggested_color", "score"]


class ProductSerializer(serializers.ModelSerializer):
    seller_color = serializers.CharField(source="seller_color_raw")
    seller_color_mapped = serializers.CharField(source="seller_color.name", default=None, allow_null=True,
                                                help_text="the vocabulary colour the tag maps to (null: none)")
    seller_color_unmapped = serializers.BooleanField()
    archived_by = serializers.CharField(source="archived_by.username", default=None, allow_null=True,
                                        help_text="who archived it (null: not archived, or by the command line)")

    reading = serializers.SerializerMethodField(
        help_text="the model's current reading of the product's image, for the region its category picks (null: "
                  "none yet)")
    open_suggestion = serializers.SerializerMethodField(
        help_text="its pending suggestion of a kind the caller may decide (null: none)")

    class Meta:
        model = Product
        fields = ["id", "sku", "title", "category", "seller_color", "seller_color_mapped",
                  "seller_color_unmapped", "final_color", "status", "status_detail", "image_error",
                  "image_checksum", "attributes", "archived_at", "archived_by", "reading", "open_suggestion",
                  "created_at", "updated_at"]

    def _read(self, product: Product) -> Product:
        """A list's page comes with its readings (``products_with_readings``); a single product reads its own."""
        if not hasattr(product, "reading"):
            from ..services.suggestions import products_with_readings

            request = self.context.get("request")
            products_with_readings([product], kinds=selectors.visible_kinds(request.user) if request else None)
        return product

    @extend_schema_field(ProductReadingSerializer(allow_null=True))
    def get_reading(self, product: Product):
        reading = self._read(product).reading
        return _READING.to_representation(reading) if reading is not None else None

    @extend_schema_field(ProductOpenSuggestionSerializer(allow_null=True))
    def get_open_suggestion(self, product: Product):
        suggestion = self._read(product).open_suggestion
        return _OPEN.to_representation(suggestion) if suggestion is not None else None


# one instance each, its fields built once: a page of products does not build them again for every product
_READING, _OPEN = ProductReadingSerializer(), ProductOpenSuggestionSerializer()


class PredictionSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")

    class Meta:
        model = Prediction
        fields = ["id", "sku", "product", "image_checksum", "model_version", "predicted_color", "confidence",
                  "family", "probabilities", "dominant_colors", "region", "category_region", "garment_fraction",
                  "flags", "error", "seconds", "config", "created_at"]


class SuggestionSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    model_version = serializers.CharField(source="prediction.model_version")

    class Meta:
        model = Suggestion
        fields = ["id", "sku", "product", "prediction", "kind", "severity", "tier", "seller_color", "suggested_color",
                  "confidence", "score", "expected_precision", "status", "final_color", "decided_by",
                  "decided_at", "model_version", "created_at"]


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class CorrectionSerializer(DecisionSerializer):
    color = serializers.CharField()


#: the most suggestions a bulk approval names one by one (a selection larger than that is a threshold's)
BULK_IDS_MAX = 10_000


class BulkAcceptSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Suggestion.Kind.choices, default="impute")
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=BULK_IDS_MAX,
                                help_text=f"at most {BULK_IDS_MAX:,}; for more, approve by min_confidence")
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)
    count_only = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if "ids" not in attrs and "min_confidence" not in attrs:
            raise serializers.ValidationError("give ids or min_confidence")
        return attrs


class BulkCountSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="pending suggestions a bulk approval would accept (count_only)")


class DetailSerializer(serializers.Serializer):
    """An answer that says in words why nothing was done."""

    detail = serializers.CharField()


class PipelineRunSerializer(serializers.ModelSerializer):
    stalled = serializers.SerializerMethodField(help_text="no progress for a while and no worker alive")

    class Meta:
        model = PipelineRun
        fields = ["id", "status", "stalled", "model_version", "total", "done", "failed", "error", "created_at",
                  "finished_at"]

    def get_stalled(self, run: PipelineRun) -> bool:
        from ..services.runs import run_stalled

        return run_stalled(run)


class RunActiveSerializer(DetailSerializer):
    run = PipelineRunSerializer(help_text="the run of this model version that is active")


class RunResumedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="products queued again")
    run = PipelineRunSerializer()


class BulkApprovalSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = BulkApproval
        fields = ["id", "kind", "criteria", "status", "matched", "accepted", "reverted", "created_by", "created_at",
                  "finished_at", "undone_at", "error"]
        read_only_fields = fields


class SkippedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()


class BulkAcceptResultSerializer(BulkApprovalSerializer):
    """A bulk approval that ran at once: the counts of any bulk approval, and which suggestions it took."""

    accepted_ids = serializers.SerializerMethodField(help_text="the suggestions it accepted")
    skipped = serializers.SerializerMethodField(help_text="the ids asked for that it did not accept, and why")

    class Meta(BulkApprovalSerializer.Meta):
        fields = [*BulkApprovalSerializer.Meta.fields, "accepted_ids", "skipped"]
        read_only_fields = fields

    def get_accepted_ids(self, approval: BulkApproval) -> list[int]:
        return selectors.bulk_approval_accepted_ids(approval)

    @extend_schema_field(SkippedSerializer(many=True))
    def get_skipped(self, approval: BulkApproval) -> list[dict]:
        left = set(approval.criteria.get("ids") or ()) - set(selectors.bulk_approval_accepted_ids(approval))
        return [{"id": i, "reason": "not a pending suggestion of that kind you may take"} for i in sorted(left)]
