"""URL map of the Bfluence Partner API. A trailing slash is accepted on API paths, never required."""

from django.contrib import admin
from django.urls import path, re_path
from django.utils.translation import gettext_lazy as _

from bfluence.health import HealthView, ReadyView
from communities.views import MemberBflusView
from tokens.views import MeView, RevocationRequestView, RevokeView, TokenView

admin.site.site_header = _("Bfluence staff console")
admin.site.site_title = _("Bfluence staff console")
admin.site.index_title = _("Partner communities and their credentials")

handler400 = "bfluence.errors.handler400"
handler403 = "bfluence.errors.handler403"
handler404 = "bfluence.errors.handler404"
handler500 = "bfluence.errors.handler500"

urlpatterns = [
    re_path(r"^auth/token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^auth/revoke/?$", RevokeView.as_view(), name="auth-revoke"),
    re_path(r"^auth/revocation-requests/?$", RevocationRequestView.as_view(), name="auth-revocation-requests"),
    re_path(r"^auth/me/?$", MeView.as_view(), name="auth-me"),
    re_path(
        r"^communities/(?P<community>[^/]{1,100})/client/(?P<client>[^/]{1,100})/get-bflus/?$",
        MemberBflusView.as_view(),
        name="get-bflus",
    ),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
]
