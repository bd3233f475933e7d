"""Settings of the calmswap Django example. Everything comes from the environment, as in
cookiecutter-django's production settings (.envs/.production/.django and .postgres)."""
import os
from urllib.parse import unquote, urlsplit

env = os.environ.get

SECRET_KEY = env("DJANGO_SECRET_KEY") or "insecure-example-key-set-DJANGO_SECRET_KEY"
DEBUG = env("DJANGO_DEBUG", "False").lower() in ("1", "true", "yes")
# calmswap's health check calls 127.0.0.1:<port>: keep 127.0.0.1 here, or set
# CALMSWAP_HEALTH_HOST to one of these names.
ALLOWED_HOSTS = [h.strip() for h in env("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]

DEPLOY_COLOR = env("DEPLOY_COLOR", "none")
CALMSWAP_RELEASE = env("CALMSWAP_RELEASE", "dev")

# Schema releases without a second repository. APP_SCHEMA=2 is the next release of this
# code: Order gets a nullable `note` (orders/models.py) and its migration 0002 lives in
# orders/migrations_schema2/, which also holds schema 1's 0001. Expand/contract:
#  - the new migration only adds a nullable column, so it runs while schema-1 code serves:
#    schema-1 code never names `note` (its inserts leave it NULL, the worker updates only
#    the columns it sets), so it keeps working against a schema-2 database;
#  - schema-1 code's `migrate` ignores the applied 0002 it does not know, so a rollback
#    of the code needs no rollback of the database;
#  - dropping or renaming a column would be a later "contract" release, once no running
#    code reads it.
APP_SCHEMA = int(env("APP_SCHEMA", "1"))
if APP_SCHEMA not in (1, 2):
    raise ValueError(f"APP_SCHEMA={APP_SCHEMA}: this example knows schemas 1 and 2")
MIGRATION_MODULES = {"orders": "orders.migrations_schema2"} if APP_SCHEMA == 2 else {}

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_celery_beat",
    "orders",
]
MIDDLEWARE = [
    "shop.faults.FaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"


def _database():
    url = env("DATABASE_URL")
    if url:
        u = urlsplit(url)
        return {
            "NAME": unquote(u.path.lstrip("/")),
            "USER": unquote(u.username or ""),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
        }
    return {
        "NAME": env("POSTGRES_DB", "shop"),
        "USER": env("POSTGRES_USER", "shop"),
        "PASSWORD": env("POSTGRES_PASSWORD", ""),
        "HOST": env("POSTGRES_HOST", "postgres"),
        "PORT": env("POSTGRES_PORT", "5432"),
    }


DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        **_database(),
        "CONN_MAX_AGE": int(env("CONN_MAX_AGE", "60")),
        "OPTIONS": {"connect_timeout": 5},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Without DEBUG, Django sends a 500's traceback to ADMINS by mail only: print it.
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Celery (the CELERY_ prefix is stripped by shop/celery.py)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://redis:6379/0")
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_IGNORE_RESULT = True
# Ack after the task ran, so a worker killed mid-task gives it back to the queue (after
# the visibility timeout below) instead of losing it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery's default of 4 reserved tasks per process, on purpose: with 1, the Celery 5.2 /
# kombu 5.2 of Debian bookworm fetch the next task only when a timer wakes the worker
# (one task every 2-5 s; celery#4378, #7718). Reserved tasks are not lost at a stop:
# the warm shutdown hands them back, and with late acks a killed worker's come back
# after the visibility timeout.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(env("VISIBILITY_TIMEOUT", "3600"))}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
