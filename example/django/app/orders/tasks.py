import redis
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from orders.models import Order
from shop import faults

_redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)


@shared_task(name="orders.tasks.process_order")
def process_order(order_id):
    faults.crash_worker_if_asked()
    # update(), not save(): only these two columns are written, so a worker of either
    # schema leaves the other release's columns alone.
    Order.objects.filter(id=order_id).update(processed_at=timezone.now(), processed_by_color=settings.DEPLOY_COLOR)


@shared_task(name="orders.tasks.tick")
def tick():
    """Run by beat every 2 s (the PeriodicTask of migration 0001): tests count the ticks."""
    faults.crash_worker_if_asked()
    _redis.incr("calmswap:ticks")
