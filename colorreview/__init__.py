"""ColorReview: review and correct the colour tags of a fashion catalogue."""

from .celery import app as celery_app

__all__ = ["celery_app"]
