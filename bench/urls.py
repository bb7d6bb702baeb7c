"""The production URL map plus the bench twin of get-bflus (bench settings only)."""

from django.urls import path

from bench.twin import BenchMemberBflusView
from bfluence.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

urlpatterns = [
    *urlpatterns,
    path(
        "bench/communities/<int:community_id>/client/<str:client>/bflus",
        BenchMemberBflusView.as_view(),
        name="bench-bflus",
    ),
]
