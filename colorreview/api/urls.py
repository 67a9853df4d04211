from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("predictions", views.PredictionViewSet, basename="prediction")
router.register("suggestions", views.SuggestionViewSet, basename="suggestion")
router.register("runs", views.PipelineRunViewSet, basename="run")

urlpatterns = router.urls
