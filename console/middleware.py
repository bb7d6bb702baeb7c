"""Staff read times in their own zone (``CONSOLE_TIME_ZONE``, default America/Sao_Paulo); the API keeps UTC."""

import zoneinfo

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
