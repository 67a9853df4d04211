from django.urls import path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import views


class Router(DefaultRouter):
    """A detail action is tried before the plain detail route, so that a lookup value may hold '/': a
    product's SKU may (``products/A/B/archive/`` is the archive action of SKU ``A/B``)."""

    routes = [*DefaultRouter.routes[:2], DefaultRouter.routes[3], DefaultRouter.routes[2]]


router = Router()
router.register("products", views.ProductViewSet, basename="product")
router.register("predictions", views.PredictionViewSet, basename="prediction")
router.register("suggestions", views.SuggestionViewSet, basename="suggestion")
router.register("runs", views.PipelineRunViewSet, basename="run")
router.register("bulk-approvals", views.BulkApprovalViewSet, basename="bulk-approval")

urlpatterns = [
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("export/", views.ExportView.as_view(), name="api-export"),
    *router.urls,
]
