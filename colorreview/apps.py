from django.apps import AppConfig


class ColorReviewConfig(AppConfig):
    name = "colorreview"
    verbose_name = "ColorReview"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .celery import ensure_queue_folders
        from .history import guard_after_migrate
        from .services.due_work import due_work_after_migrate

        ensure_queue_folders()
        # SQLite rebuilds a table on most schema changes, dropping its triggers: put the guard back
        post_migrate.connect(guard_after_migrate, sender=self)
        # then the work a migration left owed to the data, once every migration has run
        post_migrate.connect(due_work_after_migrate, sender=self)
