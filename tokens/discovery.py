"""``GET /.well-known/oauth-authorization-server`` (RFC 8414): so standard clients configure themselves."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from bfluence.conf import app_settings
from bfluence.views import NoStoreAPIView, issuer_url
from clients.keys import SIGNING_ALGORITHMS

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


_strings = serializers.ListField(child=serializers.CharField())
Metadata = inline_serializer(
    "AuthorizationServerMetadata",
    {
        "issuer": serializers.URLField(),
        "token_endpoint": serializers.URLField(),
        "revocation_endpoint": serializers.URLField(),
        "grant_types_supported": _strings,
        "response_types_supported": _strings,
        "scopes_supported": _strings,
        "token_endpoint_auth_methods_supported": _strings,
        "token_endpoint_auth_signing_alg_values_supported": _strings,
        "revocation_endpoint_auth_methods_supported": _strings,
        "revocation_endpoint_auth_signing_alg_values_supported": _strings,
        "dpop_signing_alg_values_supported": _strings,
        "service_documentation": serializers.URLField(),
    },
)


class AuthorizationServerMetadataView(NoStoreAPIView):
    """RFC 8414 metadata: endpoints, client authentication methods, algorithms, DPoP."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    http_method_names = ["get", "head"]

    @extend_schema(
        operation_id="oauth_authorization_server_metadata",
        tags=["auth"],
        auth=[],
        responses={200: Metadata},
        summary="OAuth 2.0 authorization server metadata (RFC 8414)",
    )
    def get(self, request):
        algorithms = list(SIGNING_ALGORITHMS)
        return Response(
            {
                "issuer": issuer_url(request),
                "token_endpoint": request.build_absolute_uri(reverse("auth-token")),
                "revocation_endpoint": request.build_absolute_uri(reverse("auth-revoke")),
                "grant_types_supported": ["client_credentials"],
                "response_types_supported": [],
                "scopes_supported": list(app_settings().permission_catalogue),
                "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
                "token_endpoint_auth_signing_alg_values_supported": algorithms,
                "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
                "revocation_endpoint_auth_signing_alg_values_supported": algorithms,
                "dpop_signing_alg_values_supported": algorithms,
                "service_documentation": request.build_absolute_uri(reverse("api-docs")),
            }
        )
