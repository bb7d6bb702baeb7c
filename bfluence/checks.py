"""Deployment checks of our own, run by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def bench_endpoints_off(app_configs, **kwargs):
    if settings.BENCH_ENDPOINTS:
        return [Error("BENCH_ENDPOINTS is on: it serves member balances without authentication.",
                      hint="Unset BENCH_ENDPOINTS; it is for bench/ only.", id="bfluence.E001")]
    return []
