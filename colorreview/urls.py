from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from .views import pages, review, thresholds

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("review/", review.queue, name="queue"),
    path("review/undo/", review.undo, name="undo"),
    path("review/<int:pk>/<str:action>/", review.decide, name="decide"),
    path("imputations/", review.bulk, name="bulk"),
    path("imputations/bulk/<int:pk>/", review.bulk_progress, name="bulk-progress"),
    path("products/", pages.product_list, name="products"),
    path("products/<path:sku>/color/", pages.product_color, name="product-color"),
    path("products/<path:sku>/archive/", pages.product_archive_view, name="archive-product"),
    path("products/<path:sku>/unarchive/", pages.product_unarchive_view, name="unarchive-product"),
    path("products/<path:sku>/", pages.product_detail, name="product"),
    path("import/", pages.import_page, name="import"),
    path("import/<int:pk>/", pages.import_detail, name="import-detail"),
    path("import/<int:pk>/cancel/", pages.import_cancel_view, name="import-cancel"),
    path("thresholds/", thresholds.thresholds, name="thresholds"),
    path("runs/start/", pages.run_start, name="run-start"),
    path("runs/<int:pk>/progress/", pages.run_progress, name="run-progress"),
    path("runs/<int:pk>/resume/", pages.run_resume_view, name="resume-run"),
    path("runs/<int:pk>/cancel/", pages.run_cancel_view, name="cancel-run"),
    path("healthz", pages.healthz, name="healthz"),
    path("export/", pages.export_page, name="export-page"),
    path("export.csv", pages.export_csv, name="export"),
    path("api/", include("colorreview.api.urls")),
    path("admin/", admin.site.urls),
    re_path(r"^media/(?P<path>(images|masks)/.*)$", pages.media, name="media"),
]
