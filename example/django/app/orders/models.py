from django.conf import settings
from django.db import models


class Order(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processed_by_color = models.CharField(max_length=16, blank=True, default="")
    release = models.CharField(max_length=64, blank=True, default="")
    # Schema 2 only (see APP_SCHEMA in shop/settings.py): schema-1 code must not know the
    # column, so that it runs unchanged before and after migration 0002.
    if settings.APP_SCHEMA >= 2:
        note = models.TextField(null=True, blank=True)
