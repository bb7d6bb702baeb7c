"""Deployment checks of our own, run by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def bench_settings_refused(app_configs, **kwargs):
    if (settings.SETTINGS_MODULE or "").startswith("bench."):
        return [Error("Running with the benchmark's settings: they route a member read without authentication.",
                      hint="Use bfluence.settings; bench.* settings are for bench/run.py only.",
                      id="bfluence.E001")]
    return []
