"""What the OpenAPI document says about our API (drf-spectacular): security schemes, error responses,
and the request/response shapes of the endpoints whose bodies are not plain serializers.

Texts are gettext_lazy: the schema is served in the caller's language (pt-BR by default, English with
``Accept-Language: en`` or ``?lang=en``).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from communities.models import CLIENT_ID_PATTERN

ERROR_CODES = {
    400: ("invalid_request", "unsupported_grant_type", "invalid_scope"),
    401: ("invalid_client", "unauthorized", "invalid_token", "invalid_dpop_proof"),
    403: ("insufficient_scope",),
    404: ("not_found",),
    405: ("method_not_allowed",),
    413: ("invalid_request",),
    415: ("invalid_request",),
    429: ("rate_limited",),
    503: ("service_unavailable",),
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Private endpoints: a Bearer JWT, which Swagger UI can also fetch itself (client credentials)."""

    target_class = "tokens.authentication.BearerTokenAuthentication"
    name = ["bearerAuth", "clientCredentials"]

    def get_security_requirement(self, auto_schema):
        needed = [
            permission.code
            for permission in auto_schema.view.permission_classes
            if hasattr(permission, "code")
        ]
        return [{"bearerAuth": []}, {"clientCredentials": needed}]

    def get_security_definition(self, auto_schema):
        from bfluence.conf import app_settings

        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": str(_("The access_token from POST /auth/token.")),
            },
            {
                "type": "oauth2",
                "description": str(_("OAuth 2.0 client credentials (RFC 6749 §4.4).")),
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "/auth/token",
                        "scopes": {code: code for code in app_settings().permission_catalogue},
                    }
                },
            },
        ]


ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": serializers.CharField(help_text=_("Stable code to switch on, e.g. invalid_token.")),
        "error_description": serializers.CharField(help_text=_("Human text, in pt-BR or English.")),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text=_("Per-field messages, for invalid_request."),
        ),
    },
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation can give, each listing its possible ``error`` codes."""
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description=", ".join(ERROR_CODES[status]),
            examples=[
                OpenApiExample(code, value={"error": code, "error_description": "…"}, status_codes=[status])
                for code in ERROR_CODES[status]
            ],
        )
        for status in statuses
    }


# What bfluence/text.py accepts, said in the published schema: no control characters (tabs and line
# breaks in free text only).
PRINTABLE = r"^[^\u0000-\u001f\u007f-\u009f]+$"
FREE_TEXT = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]+$"


def _client_fields(required: bool) -> dict:
    return {
        "client_id": serializers.RegexField(
            CLIENT_ID_PATTERN,
            required=required,
            max_length=64,
            help_text=_("Your community's client_id (or use HTTP Basic)."),
        ),
        "client_secret": serializers.RegexField(
            r"^bfl_sk_[A-Za-z0-9]{49}$",
            required=required,
            help_text=_("Your bfl_sk_… secret (or use HTTP Basic)."),
        ),
    }


SCOPE = serializers.RegexField(
    r"^[a-z0-9:_.-]+( [a-z0-9:_.-]+)*$",
    required=False,
    max_length=1000,
    help_text=_("Optional: a space-separated subset of your permissions."),
)

# Component names: drf-spectacular adds "Request" to request bodies (COMPONENT_SPLIT_REQUEST), so these
# become TokenRequest, TokenFormRequest, RevokeRequest and NewRevocationRequest.

# The seed's JSON form: credentials in the body.
TokenRequest = inline_serializer(
    "Token",
    {
        "grant_type": serializers.ChoiceField(
            choices=["client_credentials"], required=False, help_text=_("Optional in JSON.")
        ),
        **_client_fields(required=True),
        "scope": SCOPE,
    },
)

# The OAuth 2.0 form (RFC 6749 §4.4): grant_type required; the client in the form (or in HTTP Basic).
TokenForm = inline_serializer(
    "TokenForm",
    {
        "grant_type": serializers.ChoiceField(choices=["client_credentials"]),
        **_client_fields(required=True),
        "scope": SCOPE,
    },
)

TokenResponse = inline_serializer(
    "TokenResponse",
    {
        "access_token": serializers.CharField(help_text=_("The JWT to send as Authorization: Bearer.")),
        "token_type": serializers.ChoiceField(
            choices=["Bearer", "DPoP"], help_text=_("DPoP when the token is bound to your DPoP key.")
        ),
        "expires_in": serializers.IntegerField(help_text=_("Seconds until it expires.")),
        "scope": serializers.CharField(help_text=_("The permissions in the token, space-separated.")),
    },
)


def client_authenticated_bodies(name: str, fields: dict) -> dict:
    """JSON or form, the credentials in the body. (HTTP Basic instead of the two fields also works, as
    the descriptions say; OpenAPI cannot express "these two fields, or that header".)"""
    body = inline_serializer(name, {**_client_fields(required=True), **fields})
    return {"application/json": body, "application/x-www-form-urlencoded": body}


REVOKE_BODIES = client_authenticated_bodies(
    "Revoke",
    {
        "token": serializers.RegexField(
            PRINTABLE, max_length=8192, help_text=_("The access token to revoke.")
        ),
        "token_type_hint": serializers.RegexField(PRINTABLE, required=False, max_length=100),
    },
)

Revoked = inline_serializer("Revoked", {})

REVOCATION_REQUEST_BODIES = client_authenticated_bodies(
    "NewRevocation",
    {
        "reason": serializers.RegexField(
            FREE_TEXT, max_length=2000, help_text=_("What happened, for Bfluence staff.")
        ),
    },
)

RevocationRequestAccepted = inline_serializer(
    "RevocationRequestAccepted",
    {
        "id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=["pending"]),
        "tokens_revoked": serializers.IntegerField(),
        "secrets_suspended": serializers.IntegerField(),
    },
)

Me = inline_serializer(
    "Me",
    {
        "client_id": serializers.CharField(),
        "community_name": serializers.CharField(),
        "permissions": serializers.ListField(child=serializers.CharField()),
        "jti": serializers.CharField(),
        "issued_at": serializers.DateTimeField(),
        "expires_at": serializers.DateTimeField(),
    },
)

MemberBflus = inline_serializer(
    "MemberBflus",
    {
        "community": serializers.CharField(help_text=_("Your client_id.")),
        "client": serializers.CharField(help_text=_("The member's reference in your community.")),
        "bflus": serializers.IntegerField(min_value=0),
        "updated_at": serializers.DateTimeField(),
    },
)

BOTH_FORMS = {"application/json": TokenRequest, "application/x-www-form-urlencoded": TokenForm}


# Stronger client authentication, opt-in per community (SPEC §4.1). OpenAPI cannot say "these two
# fields, or those two", so the alternative to client_id/client_secret is described in words.
STRONG_AUTH_NOTE = _(
    "Communities set up for it may instead authenticate with private_key_jwt (RFC 7523): the form fields "
    "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion, a "
    "JWT signed with your private key (ES256, RS256, PS256 or EdDSA; iss = sub = client_id; aud = this "
    "endpoint's URL; exp at most one hour ahead; a jti used once). With DPoP (RFC 9449) send a DPoP proof "
    "header: the token comes back with token_type DPoP and must then be used as Authorization: DPoP <token> "
    "with a fresh proof on every call. See GET /.well-known/oauth-authorization-server."
)

DPOP_PROOF_HEADER = OpenApiParameter(
    "DPoP",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=_("Optional DPoP proof (RFC 9449) for this request: binds the token to your key."),
)
