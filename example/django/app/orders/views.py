import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.http import JsonResponse

from orders.models import Order
from orders.tasks import process_order

_redis = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)


def _reply(body, status=200):
    response = JsonResponse(body, status=status)
    response["X-Deploy-Color"] = settings.DEPLOY_COLOR
    return response


def _who():
    return {"color": settings.DEPLOY_COLOR, "release": settings.CALMSWAP_RELEASE, "schema": settings.APP_SCHEMA}


def place_order(request):
    fields = {"release": settings.CALMSWAP_RELEASE}
    if settings.APP_SCHEMA >= 2:
        fields["note"] = f"placed on {settings.DEPLOY_COLOR}"
    # Autocommit (no ATOMIC_REQUESTS): the row is committed before the task can look for it.
    order = Order.objects.create(**fields)
    process_order.delay(order.id)
    return _reply({**_who(), "order": order.id})


def health(request):
    # Cheap on purpose: calmswap polls it during a deploy. No write; one round trip that
    # proves the database answers (the connection is kept, CONN_MAX_AGE).
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return _reply({"ok": True, **_who()})


def stats(request):
    unprocessed = Count("id", filter=Q(processed_at__isnull=True))
    totals = Order.objects.aggregate(total=Count("id"), unprocessed=unprocessed)
    per_release = {
        row["release"]: {"total": row["total"], "unprocessed": row["unprocessed"]}
        for row in Order.objects.values("release").annotate(total=Count("id"), unprocessed=unprocessed).order_by("release")
    }
    per_color = {
        row["processed_by_color"]: row["n"]
        for row in Order.objects.exclude(processed_at=None).values("processed_by_color").annotate(n=Count("id")).order_by()
    }
    ticks = _redis.get("calmswap:ticks")
    return _reply({
        **_who(),
        "orders": totals["total"],
        "unprocessed": totals["unprocessed"],
        "per_release": per_release,
        "processed_by_color": per_color,
        "beat_ticks": int(ticks or 0),
    })
