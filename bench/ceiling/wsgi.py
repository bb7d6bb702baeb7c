"""WSGI entry point of the plain ceiling (gunicorn bench.ceiling.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ceiling.settings"

application = get_wsgi_application()
