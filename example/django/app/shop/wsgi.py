import os

from django.core.wsgi import get_wsgi_application

from shop import faults

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
# gunicorn runs with --preload, so this runs in the master: APP_FAULT=refuse ends the
# container before anything listens, as a release that cannot even start would.
faults.refuse_if_asked()
application = get_wsgi_application()
