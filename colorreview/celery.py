"""The Celery application; configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorreview.settings")

app = Celery("colorreview")
app.config_from_object("django.conf:settings", namespace="CELERY")


def ensure_queue_folders() -> None:
    """The embedded (folder-backed) broker needs its folders to exist."""
    from django.conf import settings

    if settings.COLORREVIEW_EMBEDDED_QUEUE:
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)


app.autodiscover_tasks()
