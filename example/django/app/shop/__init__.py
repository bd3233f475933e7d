# Loaded with Django, so that .delay() in a view uses this app's broker settings.
from .celery import app as celery_app

__all__ = ("celery_app",)
