"""Liveness and readiness probes for load balancers and orchestrators (SPEC §2.8)."""

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bfluence.cache import CacheUnavailable, breaker
from bfluence.views import NoStoreAPIView

# Reports an app adds to /readyz (its AppConfig.ready registers them: bfluence imports no app). They
# inform, they never make the server unready: a notification backlog is no reason to stop serving.
_REPORTS: dict[str, Callable[[], dict[str, Any]]] = {}


def register_report(name: str, report: Callable[[], dict[str, Any]]) -> None:
    _REPORTS[name] = report


def _reports() -> dict[str, Any]:
    reports: dict[str, Any] = {}
    for name, report in _REPORTS.items():
        try:
            reports[name] = report()
        except Exception:  # the probe must never 500; the database check says what is down
            reports[name] = None
    return reports


class HealthView(NoStoreAPIView):
    """``GET /healthz``: the process is alive and answering. Touches nothing else."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    http_method_names = ["get", "head"]

    @extend_schema(
        operation_id="healthz",
        tags=["operations"],
        auth=[],
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})},
    )
    def get(self, request):
        return Response({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means "not ready"; the probe must never 500
        return False


def _cache_ok() -> bool:
    """Through the breaker (bfluence/cache.py): a cache that failed moments ago is "down" at once, and a
    silent one costs at most its timeouts, so the probe answers within a second."""

    def probe() -> bool:
        cache.set("readyz-probe", "1", 5)
        return cache.get("readyz-probe") == "1"

    try:
        return breaker.call(probe)
    except CacheUnavailable:
        return False


READINESS = inline_serializer(
    "Readiness",
    {
        "status": serializers.CharField(),
        "checks": serializers.DictField(child=serializers.ChoiceField(choices=["ok", "down"])),
        "error": serializers.CharField(required=False),
        "notifications": serializers.DictField(required=False, child=serializers.IntegerField()),
        "error_description": serializers.CharField(required=False),
    },
)


class ReadyView(HealthView):
    """``GET /readyz``: the database and the cache answer; 503 naming what is down otherwise."""

    @extend_schema(
        operation_id="readyz", tags=["operations"], auth=[], responses={200: READINESS, 503: READINESS}
    )
    def get(self, request):
        checks = {"database": _database_ok(), "cache": _cache_ok()}
        ready = all(checks.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
        }
        if checks["database"]:
            body.update(_reports())
        if not ready:
            body.update(
                error="service_unavailable",
                error_description="; ".join(f"{name} is down" for name, ok in checks.items() if not ok),
            )
        return Response(body, status=200 if ready else 503)
