"""Deployment checks of our own, run by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks.security import csrf

_CONSOLE_NEEDS = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)


def _console_middleware() -> list[str]:
    wrapped = "bfluence.middleware.ConsoleMiddleware" in settings.MIDDLEWARE
    return list(getattr(settings, "CONSOLE_MIDDLEWARE", ())) if wrapped else list(settings.MIDDLEWARE)


@register(Tags.security, Tags.admin)
def console_middleware_complete(app_configs, **kwargs):
    """What admin.E408-E410, security.W003 and axes.W002 would say (silenced: they look in MIDDLEWARE only)."""
    needed = [
        *_CONSOLE_NEEDS,
        *(["axes.middleware.AxesMiddleware"] if "axes" in settings.INSTALLED_APPS else []),
    ]
    found = _console_middleware()
    missing = [name for name in needed if name not in found]
    if missing or [name for name in found if name in needed] != needed:
        return [
            Error(
                "The staff console needs sessions, CSRF, authentication, messages (and sign-in lockout) "
                "middleware, in that order.",
                hint=f"Missing or out of order: {', '.join(missing) or 'order'}.",
                id="bfluence.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def console_csrf_cookie_secure(app_configs, **kwargs):
    """Django's security.W016, which it runs only when CSRF middleware is listed in MIDDLEWARE itself."""
    if "django.middleware.csrf.CsrfViewMiddleware" not in _console_middleware():
        return []
    return [] if settings.CSRF_USE_SESSIONS or settings.CSRF_COOKIE_SECURE else [csrf.W016]


@register(Tags.security, deploy=True)
def bench_settings_refused(app_configs, **kwargs):
    if (settings.SETTINGS_MODULE or "").startswith("bench."):
        return [
            Error(
                "Running with the benchmark's settings: they route a member read without authentication.",
                hint="Use bfluence.settings; bench.* settings are for bench/run.py only.",
                id="bfluence.E001",
            )
        ]
    return []
