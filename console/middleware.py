"""The console's own middleware: staff read times in their own zone (``CONSOLE_TIME_ZONE``, default
America/Sao_Paulo; the API keeps UTC), and a mistyped path under a record is a missing page."""

import zoneinfo

from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from bfluence.conf import app_settings


def console_prefix() -> str:
    return reverse("admin:index")


class StaffTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = None  # known once the URLconf is loaded

    def __call__(self, request):
        if self.prefix is None:
            self.prefix = console_prefix()
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        timezone.activate(zoneinfo.ZoneInfo(app_settings().console_time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class MistypedPathUnderRecord:
    """``…/community/1/end-old-secret/`` is no page: answer 404, not "community with ID
    “1/end-old-secret” does not exist" (for every admin, Django's own included).

    The admin's URLs take a record's key as ``<path:object_id>``, so an unknown path under a record
    lands in Django's catch-all, which reads the whole rest as the key. The admin writes a slash inside
    a key as ``_2F`` in its links, so a key holding a slash only ever comes from a mistyped address.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.resolver_match.namespace == "admin" and "/" in str(view_kwargs.get("object_id", "")):
            raise Http404("No such page under this record.")
        return None
