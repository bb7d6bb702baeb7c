"""The ``/auth/*`` endpoints: one view per operation, each a thin caller of ``tokens.services``."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from bfluence.errors import InvalidClient, InvalidRequest, UnsupportedGrantType
from bfluence.views import NoStoreAPIView
from clients.credentials import ClientCredentialsInput, StrictCharField
from clients.services import AuthenticatedClient, client_authenticate, failures_counted_by
from clients.views import ClientAuthenticatedView
from tokens import schema
from tokens.services import revocation_request_open, token_binding_for, token_issue, token_revoke_presented

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
CLIENT_AUTH_ERRORS = (400, 401, 405, 413, 415, 429, 503)


class TokenView(ClientAuthenticatedView):
    """``POST /auth/token``: client credentials in, a short-lived access token out (SPEC §2.1)."""

    class Input(ClientCredentialsInput):  # the credentials' fields too: the body validated once
        grant_type = StrictCharField(required=False, max_length=100)
        scope = StrictCharField(required=False, max_length=1000)

    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        auth=[],
        request=schema.BOTH_FORMS,
        responses={200: schema.TokenResponse, **schema.error_responses(*CLIENT_AUTH_ERRORS)},
        summary=_("Get an access token"),
        description=format_lazy(
            "{} {}",
            _(
                "Exchange client_id + client_secret for a Bearer token. Call it from your server, never "
                "from a browser. JSON body, or the OAuth 2.0 form with the client in the body or in HTTP "
                "Basic. When the token expires (401 invalid_token), simply ask again."
            ),
            schema.STRONG_AUTH_NOTE,
        ),
        parameters=[schema.DPOP_PROOF_HEADER],
    )
    def post(self, request):
        fields = self.Input(data=request.data)
        fields.is_valid(raise_exception=True)
        requested_scope = self.requested_scope(request, fields.validated_data)
        credentials = self.credentials(request, fields.validated_data)
        try:
            with failures_counted_by(request.client_auth_limits.count_failure):
                client = client_authenticate(credentials=credentials, source_ip=request.source_ip)
                dpop_jkt = self.dpop_binding(request, client)
        except InvalidClient:
            # A refusal that wrote no row (a malformed secret) is counted here, off the audit allowance;
            # one ``client_refuse`` already counted is not counted again.
            request.client_auth_limits.count_failure(spends_audit_allowance=False)
            raise
        self.count_success(request, client)
        issued = token_issue(
            client=client, requested_scope=requested_scope, source_ip=request.source_ip, dpop_jkt=dpop_jkt
        )
        return Response(
            {
                "access_token": issued.access_token,
                "token_type": issued.token_type,
                "expires_in": issued.expires_in,
                "scope": " ".join(issued.permissions),
            }
        )

    @staticmethod
    def requested_scope(request, validated) -> list[str] | None:
        """The grant type checked, and the permissions asked for (``None``: all the community's)."""
        grant_type = validated.get("grant_type")
        if grant_type is None and request.content_type.startswith(FORM_MEDIA_TYPE):
            raise InvalidRequest(_("grant_type is required: use grant_type=client_credentials."))
        if grant_type is not None and grant_type != "client_credentials":
            raise UnsupportedGrantType()
        if "scope" not in validated:
            return None
        requested_scope = validated["scope"].split()
        if not requested_scope:
            raise InvalidRequest(_("scope must list at least one permission."))
        return requested_scope

    @staticmethod
    def dpop_binding(request, client: AuthenticatedClient) -> str | None:
        """The DPoP key to bind the token to (RFC 9449 §5); a bad proof fails like a bad secret."""
        proof = request.headers.get("DPoP")
        return token_binding_for(
            client=client,
            proof=proof,
            url="" if proof is None else request.build_absolute_uri(request.path),
            source_ip=request.source_ip,
        )


class RevokeView(ClientAuthenticatedView):
    """``POST /auth/revoke`` (RFC 7009): always 200 for an authenticated client."""

    works_without_cache = True  # a partner can always pull the brake (SPEC §2.7)

    class Input(serializers.Serializer):
        token = StrictCharField(max_length=8192)
        token_type_hint = StrictCharField(required=False, max_length=100)

    @extend_schema(
        operation_id="auth_revoke",
        tags=["auth"],
        auth=[],
        request=schema.REVOKE_BODIES,
        responses={200: schema.Revoked, **schema.error_responses(*CLIENT_AUTH_ERRORS)},
        summary=_("Revoke a token (RFC 7009)"),
        description=_(
            "Always 200 for an authenticated client, also for unknown or already revoked tokens. "
            "The token is refused from the very next request."
        ),
    )
    def post(self, request):
        fields = self.Input(data=request.data)
        fields.is_valid(raise_exception=True)
        client = self.authenticate_client(request, self.credentials(request))
        token_revoke_presented(
            community=client.community,
            raw_token=fields.validated_data["token"],
            actor=self.partner_actor(request, client),
        )
        return Response({})


class RevocationRequestView(ClientAuthenticatedView):
    """``POST /auth/revocation-requests``: "our credentials are compromised" (SPEC §2.7)."""

    # Must always get through for a valid secret: a thief holding the leaked secret can spend the
    # client_id's allowance from anywhere, so the report is not checked against it (the per-IP limits
    # still apply, and the report suspends the secret it was made with).
    counts_against_client_limit = False
    works_without_cache = True  # a partner can always pull the brake (SPEC §2.7)

    class Input(serializers.Serializer):
        reason = StrictCharField(max_length=2000, free_text=True)

    @extend_schema(
        operation_id="auth_revocation_request",
        tags=["auth"],
        auth=[],
        request=schema.REVOCATION_REQUEST_BODIES,
        responses={202: schema.RevocationRequestAccepted, **schema.error_responses(*CLIENT_AUTH_ERRORS)},
        summary=_("Report compromised credentials"),
        description=_(
            "Revokes every outstanding token of your community and suspends every current secret at "
            "once (the leaked one can mint nothing more), and asks Bfluence staff for a new secret; "
            "they hand it to you out of band."
        ),
    )
    def post(self, request):
        fields = self.Input(data=request.data)
        fields.is_valid(raise_exception=True)
        client = self.authenticate_client(request, self.credentials(request))
        revocation = revocation_request_open(
            community=client.community,
            reason=fields.validated_data["reason"],
            actor=self.partner_actor(request, client),
        )
        return Response(
            {
                "id": revocation.pk,
                "status": revocation.status,
                "tokens_revoked": revocation.tokens_revoked,
                "secrets_suspended": revocation.secrets_suspended,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class MeView(NoStoreAPIView):
    """``GET /auth/me``: what the presented token is (SPEC §2.5)."""

    permission_classes = (IsAuthenticated,)
    http_method_names = ["get"]

    @extend_schema(
        operation_id="auth_me",
        tags=["auth"],
        responses={200: schema.Me, **schema.error_responses(400, 401, 429, 503)},
        summary=_("Describe the presented token"),
    )
    def get(self, request):
        principal = request.user
        return Response(
            {
                "client_id": principal.client_id,
                "community_name": principal.community_name,
                "permissions": sorted(principal.permissions),
                "jti": principal.jti,
                "issued_at": principal.issued_at.isoformat(),
                "expires_at": principal.expires_at.isoformat(),
            }
        )
