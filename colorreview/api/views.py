from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import selectors
from ..models import BulkApproval, PipelineRun, Prediction, Suggestion
from ..roles import RoleError
from ..services import AlreadyDecided, ServiceError
from ..services.archive import ArchiveConflict, product_archive, product_unarchive
from ..services.bulk import bulk_approval_count, bulk_approval_start, bulk_approval_undo
from ..services.claims import ClaimedByOther
from ..services.export import ARCHIVED_OPTIONS, KIND_OPTIONS, STATUS_OPTIONS, export_response
from ..services.review import (
    NothingToUndo,
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestion_reopen,
    suggestion_undo_last,
)
from ..services.runs import (
    ModelUnavailable,
    QueueUnavailable,
    RunAlreadyActive,
    nothing_to_run,
    pipeline_run_cancel,
    pipeline_run_start,
    run_resume,
)
from ..services.suggestions import products_with_readings
from .filters import PredictionFilter, ProductFilter, SuggestionFilter
from .permissions import HasRole, IsAdminRole
from .serializers import (
    BulkAcceptResultSerializer,
    BulkAcceptSerializer,
    BulkApprovalSerializer,
    BulkCountSerializer,
    CorrectionSerializer,
    DecisionSerializer,
    DetailSerializer,
    PipelineRunSerializer,
    PredictionSerializer,
    ProductSerializer,
    RunActiveSerializer,
    RunResumedSerializer,
    SuggestionSerializer,
)


def _detail(why: str) -> OpenApiResponse:
    """An answer of the schema whose body only says why: ``{"detail": ...}``."""
    return OpenApiResponse(DetailSerializer, description=why)


QUEUE_DOWN = _detail("the task queue is down; nothing was started")


#: the 403 of an action whose service also checks the role against what is decided
NOT_A_DECIDER = _detail("signed in, or a valid token, without a role that decides this kind of suggestion "
                        "(mislabel: curator or admin; impute: merchandiser or admin), or without any ColorReview role")


def _decision_schema(request=DecisionSerializer, conflict: str = "decided already, or held by another reviewer",
                     refused: OpenApiResponse = NOT_A_DECIDER):
    return extend_schema(request=request, responses={200: SuggestionSerializer, 403: refused, 409: _detail(conflict)})


def _answer(act) -> Response:
    """Run a decision service; its refusals become 403, 409 (taken or decided by someone else, nothing to
    undo) or 400."""
    try:
        return Response(SuggestionSerializer(act()).data)
    except RoleError as exc:
        raise PermissionDenied(str(exc)) from exc
    except (AlreadyDecided, ClaimedByOther, NothingToUndo) as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    except ServiceError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """Products; filters: status, category, q (sku/title), seller_color, unmapped, archived (the list leaves
    archived products out unless ``archived`` says otherwise; a single product is found either way), open
    (what is open on a product, of the kinds the caller may decide). POST
    ``archive`` or ``unarchive`` (admin, with an optional ``note``) changes it."""

    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    keyset_ordering = ["sku"]
    lookup_field = "sku"
    lookup_value_regex = ".+"  # a SKU may hold '/' (see urls.Router)

    def get_queryset(self):
        listing = self.action == "list" and "archived" not in self.request.query_params
        return selectors.product_list(archived=False if listing else None)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is None:
            return None
        return products_with_readings(page, kinds=selectors.visible_kinds(self.request.user))  # three queries

    def get_permissions(self):
        return [HasRole(), IsAdminRole()] if self.action in ("archive", "unarchive") else [HasRole()]

    def http_method_not_allowed(self, request, *args, **kwargs):
        """A read of an action's route, ``GET products/A/archive/``, is the product whose SKU is ``A/archive``
        (a SKU may hold '/'; see urls.Router): it is answered as the detail route would answer it."""
        if not self.detail or request.method not in ("GET", "HEAD") or "get" in self.action_map:
            return super().http_method_not_allowed(request, *args, **kwargs)
        suffix = getattr(self, next(iter(self.action_map.values()))).url_path
        self.action, self.kwargs["sku"] = "retrieve", f"{kwargs['sku']}/{suffix}"
        return self.retrieve(request)

    def _change(self, request, change):
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            product = change(product=self.get_object(), user=request.user, **data.validated_data)
        except RoleError as exc:
            raise PermissionDenied(str(exc)) from exc
        except ArchiveConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ProductSerializer(product, context=self.get_serializer_context()).data)

    @extend_schema(request=DecisionSerializer, responses={200: ProductSerializer, 409: _detail("archived already")})
    @action(detail=True, methods=["post"])
    def archive(self, request, sku=None):
        """Archive the product: its pending suggestions are withdrawn; 409 when it is archived already."""
        return self._change(request, product_archive)

    @extend_schema(request=DecisionSerializer, responses={200: ProductSerializer, 409: _detail("not archived")})
    @action(detail=True, methods=["post"])
    def unarchive(self, request, sku=None):
        """Bring the product back: its latest prediction is judged again; 409 when it is not archived."""
        return self._change(request, product_unarchive)


class PredictionViewSet(viewsets.ReadOnlyModelViewSet):
    """Predictions; filters: sku, model_version, predicted_color."""

    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    keyset_ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return Prediction.objects.select_related("product").order_by("-created_at", "-id")


class SuggestionViewSet(viewsets.ReadOnlyModelViewSet):
    """Suggestions of the kinds the caller may decide; the list shows pending ones unless ``status`` says
    otherwise, in the review queue's order (shade flags, ``tier`` 1, after the others, then the highest score
    first); a single suggestion is found in any state."""

    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilter
    keyset_ordering = list(Suggestion.QUEUE_ORDER)

    def get_queryset(self):
        listing = self.action == "list" and "status" not in self.request.query_params
        return selectors.suggestion_queue(user=self.request.user, status="pending" if listing else "")

    def _decide(self, request, pk, decide, serializer_class=DecisionSerializer):
        try:  # any suggestion, not only the caller's queue: deciding one of another kind answers 403, not 404
            suggestion = get_object_or_404(Suggestion.objects.select_related("product", "prediction"), pk=pk)
        except Http404:  # also a pk that is not a number
            raise NotFound("no such suggestion") from None
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(lambda: decide(suggestion=suggestion, user=request.user, **data.validated_data))

    @_decision_schema(conflict="the caller has no decision left to undo")
    @action(detail=False, methods=["post"])
    def undo(self, request):
        """Take back the caller's latest decision still standing; the suggestion is pending again, unless the
        product changed since (its tag, its reading, the flag rules): then it is ``superseded`` at once, its
        history says why, and what applies now is opened."""
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(lambda: suggestion_undo_last(user=request.user, **data.validated_data))

    @_decision_schema(conflict="not decided, or changed meanwhile",
                      refused=_detail("signed in, or a valid token, without the admin role"))
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """An admin puts a decided suggestion back to pending (``superseded`` at once if it no longer applies,
        as with ``undo``)."""
        return self._decide(request, pk, suggestion_reopen)

    @_decision_schema()
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, pk, suggestion_accept)

    @_decision_schema()
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, pk, suggestion_reject)

    @_decision_schema(CorrectionSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        return self._decide(request, pk, suggestion_correct, CorrectionSerializer)

    @extend_schema(request=BulkAcceptSerializer, responses={
        200: PolymorphicProxySerializer(component_name="BulkAcceptAnswer", resource_type_field_name=None,
                                        serializers=[BulkAcceptResultSerializer, BulkCountSerializer]),
        202: OpenApiResponse(BulkApprovalSerializer, description="a large selection, approved in the background"),
        403: NOT_A_DECIDER, 503: QUEUE_DOWN})
    @action(detail=False, methods=["post"], url_path="bulk-accept")
    def bulk_accept(self, request):
        """Accept every pending suggestion of a kind that matches ``ids`` or ``min_confidence``; with
        ``count_only`` only say how many would be accepted. A large selection runs in the background:
        follow it at ``/api/bulk-approvals/{id}/``, undo it with ``/api/bulk-approvals/{id}/undo/``.
        With an ``Idempotency-Key`` header, a request sent again with the same key (a retry after a lost
        answer) returns the approval the first one made instead of starting another. The answer is the bulk
        approval as ``/api/bulk-approvals/{id}/`` gives it; one that ran at once adds which suggestions it
        accepted (``accepted_ids``) and which of the ``ids`` it left (``skipped``)."""
        data = BulkAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        criteria = {"ids": v.get("ids"), "min_confidence": v.get("min_confidence")}
        try:
            if v["count_only"]:
                return Response({"matched": bulk_approval_count(user=request.user, kind=v["kind"], **criteria)})
            approval = bulk_approval_start(user=request.user, kind=v["kind"], note=v["note"],
                                           request_key=request.headers.get("Idempotency-Key", ""), **criteria)
        except RoleError as exc:
            raise PermissionDenied(str(exc)) from exc
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        except ServiceError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if approval.active:
            return Response(BulkApprovalSerializer(approval).data, status=status.HTTP_202_ACCEPTED)
        return Response(BulkAcceptResultSerializer(approval).data)


class BulkApprovalViewSet(viewsets.ReadOnlyModelViewSet):
    """Bulk approvals of the caller (all of them for an admin), with their progress; POST ``undo`` puts a
    whole batch back in the queue."""

    serializer_class = BulkApprovalSerializer
    permission_classes = [HasRole]

    queryset = BulkApproval.objects.none()  # for the schema; the real one depends on the caller

    def get_queryset(self):
        qs = BulkApproval.objects.order_by("-id")
        if getattr(self, "swagger_fake_view", False):
            return qs
        return selectors.bulk_approvals_of(self.request.user).order_by("-id")

    @extend_schema(request=None, responses={
        200: BulkApprovalSerializer, 409: _detail("still running, or undone already"), 503: QUEUE_DOWN,
        403: _detail("signed in, or a valid token, without a ColorReview role, or as neither the merchandiser who "
                     "approved the batch nor an admin")})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        try:
            approval = bulk_approval_undo(approval=self.get_object(), user=request.user)
        except RoleError as exc:
            raise PermissionDenied(str(exc)) from exc
        except ServiceError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(BulkApprovalSerializer(approval).data)


class PipelineRunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Pipeline runs; POST starts one over every product without a current prediction (admin)."""

    serializer_class = PipelineRunSerializer
    queryset = PipelineRun.objects.all()

    def get_permissions(self):
        return [HasRole(), IsAdminRole()] if self.action in ("create", "resume", "cancel") else [HasRole()]

    @extend_schema(request=None, responses={
        201: PipelineRunSerializer, 200: _detail("nothing to read: every product has a prediction of the model"),
        409: OpenApiResponse(RunActiveSerializer, description="a run of the model version is active already"),
        503: _detail("the task queue is down, or the weights do not match their card")})
    def create(self, request, *args, **kwargs):
        try:
            run = pipeline_run_start(user=request.user)
        except RunAlreadyActive as exc:
            return Response({"detail": str(exc), "run": PipelineRunSerializer(exc.run).data},
                            status=status.HTTP_409_CONFLICT)
        except (QueueUnavailable, ModelUnavailable) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if run is None:
            return Response({"detail": nothing_to_run()}, status=status.HTTP_200_OK)
        return Response(PipelineRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RunResumedSerializer, 409: _detail("the run has ended"),
                                            503: QUEUE_DOWN})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue the run's unfinished products again (a stalled run); 409 when the run has ended, which stays
        as it ended."""
        run = self.get_object()
        if not run.active:
            return Response({"detail": f"run {run.pk} has ended ({run.status}); nothing to resume"},
                            status=status.HTTP_409_CONFLICT)
        try:
            queued = run_resume(run=run)
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        run.refresh_from_db()
        return Response({"queued": queued, "run": PipelineRunSerializer(run).data})

    @extend_schema(request=None, responses={200: PipelineRunSerializer, 409: _detail("the run has ended already")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the run: its products not yet read go back to waiting, and its figures are final (a batch a worker
        had started is finished but not counted); 409 when the run has ended already, which stays as it ended."""
        run = self.get_object()
        if not pipeline_run_cancel(run=run):
            run.refresh_from_db()
            return Response({"detail": f"run {run.pk} has ended already ({run.status}); nothing to cancel"},
                            status=status.HTTP_409_CONFLICT)
        run.refresh_from_db()
        return Response(PipelineRunSerializer(run).data)


class CsvRenderer(BaseRenderer):
    """``text/csv``: the export writes its file itself; a refusal (credentials, role, rate) is its detail in words."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "detail" in data:
            return f"{data['detail']}\n".encode()
        return str(data or "").encode()


class ExportView(APIView):
    """The corrected tags as CSV (admins), the same file as the *Export* page's: one row per product, streamed.
    An unknown parameter or filter value answers 400 and exports nothing."""

    permission_classes = [HasRole, IsAdminRole]
    renderer_classes = [JSONRenderer, CsvRenderer]  # ``format=csv`` names the file's own format

    @extend_schema(
        parameters=[OpenApiParameter("kind", enum=KIND_OPTIONS, description="products with a suggestion of this kind"),
                    OpenApiParameter("status", enum=STATUS_OPTIONS, description="... in this review state"),
                    OpenApiParameter("category", description="one category (any case)"),
                    OpenApiParameter("changed", enum=("0", "1"),
                                     description="1: only products whose final colour differs from the tag"),
                    OpenApiParameter("archived", enum=ARCHIVED_OPTIONS,
                                     description="archived products: left out unless included or only them"),
                    OpenApiParameter("bom", enum=("0", "1"),
                                     description="1: start the file with a UTF-8 byte-order mark, for Excel "
                                                 "(default 0)")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the CSV file"),
                   (400, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="an unknown filter value")})
    def get(self, request):
        # byte-stable: no byte-order mark unless asked for; DRF reads ``format`` itself
        return export_response(request.query_params, bom=False,
                               accepted={api_settings.URL_FORMAT_OVERRIDE} - {None})


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (YAML unless ``format=json``); a refusal is JSON, ``{"detail": ...}``, as everywhere
    in the API, not the schema's YAML."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response
