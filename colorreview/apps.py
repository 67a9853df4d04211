from django.apps import AppConfig


class ColorReviewConfig(AppConfig):
    name = "colorreview"
    verbose_name = "ColorReview"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .celery import ensure_queue_folders

        ensure_queue_folders()
