"""URL map of the Bfluence Partner API. A trailing slash is accepted on API paths, never required."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from bfluence.docs import DocsView, SchemaView
from bfluence.health import HealthView, ReadyView
from leaks.views import SecretScanningView
from tokens.discovery import AuthorizationServerMetadataView
from tokens.member_views import MemberBflusView
from tokens.views import MeView, RevocationRequestView, RevokeView, TokenView

handler400 = "bfluence.errors.handler400"
# Inside /admin/ the console answers with its own pages; elsewhere, the API's JSON errors.
handler403 = "console.views.handler403"
handler404 = "console.views.handler404"
handler500 = "bfluence.errors.handler500"


def api_path(route: str, view, name: str) -> list:
    """The canonical path, plus the same with a trailing slash (accepted, never advertised)."""
    return [path(route, view, name=name), path(f"{route}/", view)]


urlpatterns = [
    *api_path("auth/token", TokenView.as_view(), "auth-token"),
    *api_path("auth/revoke", RevokeView.as_view(), "auth-revoke"),
    *api_path("auth/revocation-requests", RevocationRequestView.as_view(), "auth-revocation-requests"),
    *api_path("auth/me", MeView.as_view(), "auth-me"),
    *api_path(
        "communities/<str:community>/client/<str:client>/get-bflus", MemberBflusView.as_view(), "get-bflus"
    ),
    *api_path("security/secret-scanning", SecretScanningView.as_view(), "security-secret-scanning"),
    path(
        ".well-known/oauth-authorization-server",
        AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="api-docs"),
    path("admin/console/webauthn/", include("console.webauthn_urls")),  # passkeys (django-otp-webauthn)
    path("admin/console/", include("console.urls")),
    path("admin/", include("console.admin_urls")),  # the admin's own pages this project audits
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="api-docs"), name="home"),
]
