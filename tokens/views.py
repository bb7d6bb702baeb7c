"""The ``/auth/*`` endpoints: one view per operation, each a thin caller of ``tokens.services``."""

from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from audit.services import Actor
from bfluence.conf import app_settings
from bfluence.errors import (
    InvalidClient,
    InvalidRequest,
    RateLimited,
    ServiceUnavailable,
    UnsupportedGrantType,
)
from bfluence.http import BoundedFormParser, StrictJSONParser
from bfluence.views import NoStoreAPIView
from tokens import schema
from tokens.client_auth_limits import ClientAuthThrottle
from tokens.credentials import ClientCredentialsInput, StrictCharField, client_credentials
from tokens.discovery import issuer_url
from tokens.request_info import client_ip
from tokens.services import (
    AuthenticatedClient,
    ClientOutdated,
    client_authenticate,
    revocation_request_open,
    token_binding_for,
    token_issue,
    token_revoke_presented,
)

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class ClientAuthenticatedView(NoStoreAPIView):
    """Endpoints where the partner authenticates with its client credentials, not a token."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (ClientAuthThrottle,)
    # Whether an authenticated request counts against its client_id's THROTTLE_TOKEN_CLIENT (SPEC §2.1).
    counts_against_client_limit = True
    parser_classes = (StrictJSONParser, BoundedFormParser)
    http_method_names = ["post"]

    def perform_authentication(self, request) -> None:
        """Nothing to do: these endpoints authenticate the client from its credentials, in the view. DRF's
        step would only make an anonymous user nobody reads (~1.5% of a token request's CPU, py-spy);
        ``request.user`` stays lazy, as DRF's documentation describes for this override."""

    def initial(self, request, *args, **kwargs) -> None:
        # Worked out once: the audit rows, the log line and the token record all record it.
        request.source_ip = client_ip(request)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        # Answered before the credentials' outcome was counted (bad input, 405, 413, 415, …): still an
        # attempt from this address, counted now; 429 instead when the address may not try (503 with the
        # cache down).
        limits = getattr(self.request, "client_auth_limits", None)
        if limits is not None and not limits.counted:
            try:
                limits.record_attempt()
            except (RateLimited, ServiceUnavailable) as refused:
                exc = refused
        return super().handle_exception(exc)

    @staticmethod
    def partner_actor(request, client: AuthenticatedClient) -> Actor:
        return Actor.partner(client.community.client_id, request.source_ip)

    @staticmethod
    def assertion_audiences(request) -> tuple[str, ...]:
        """What a client assertion's ``aud`` may be here: our token endpoint's URL (RFC 7523 §3), the
        URL of this endpoint (what clients put when they sign for the endpoint they call), our issuer."""
        return tuple(
            dict.fromkeys(
                [
                    request.build_absolute_uri(reverse("auth-token")),
                    request.build_absolute_uri(request.path).rstrip("/"),
                    issuer_url(request),
                    app_settings().issuer,
                ]
            )
        )

    def authenticate_client(
        self,
        request,
        *,
        provisional_ok: bool = False,
        validated: Mapping[str, Any] | None = None,
        again: bool = False,
    ) -> AuthenticatedClient:
        """The client check, then its one count: the attempt per IP, and a failure per IP and client_id + IP
        or a success per client_id.

        ``again``: the request was authenticated provisionally, from a secret this process kept, and
        its success counted; the kept state proved out of date (``ClientOutdated``), or the count
        refused it. Checked now from the database: refused, its success is taken back and the failure
        counted (only the partner's own requests use up its limit); passed, it is not counted twice."""
        credentials = client_credentials(
            request, audiences=lambda: self.assertion_audiences(request), validated=validated
        )
        limits = request.client_auth_limits  # not already refused by ClientAuthThrottle
        try:
            client = client_authenticate(
                credentials=credentials,
                source_ip=request.source_ip,
                provisional_ok=provisional_ok,
                afresh=again,
            )
        except InvalidClient:
            limits.record_failure(take_back_success=again)
            raise
        if not again:
            try:
                limits.record_success(
                    client_id=client.community.client_id, counted=self.counts_against_client_limit
                )
            except RateLimited:
                if client.provisional:  # the partner's limit: only once the database says it is the partner
                    self.authenticate_client(request, validated=validated, again=True)
                raise
        return client

    @staticmethod
    def dpop_binding(request, client: AuthenticatedClient) -> str | None:
        """The DPoP key to bind the token to (RFC 9449 §5); a bad proof fails like a bad secret (counted
        after the success was: a second round trip, only for a caller that holds the secret)."""
        proof = request.headers.get("DPoP")
        try:
            return token_binding_for(
                client=client,
                proof=proof,
                via_basic=client.via_basic,
                # Only a proof is checked against the URL: building it is ~1.5% of a token request.
                url="" if proof is None else request.build_absolute_uri(request.path),
                source_ip=request.source_ip,
            )
        except InvalidClient:
            request.client_auth_limits.record_failure()
            raise


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
        grant_type = fields.validated_data.get("grant_type")
        if grant_type is None and request.content_type.startswith(FORM_MEDIA_TYPE):
            raise InvalidRequest(_("grant_type is required: use grant_type=client_credentials."))
        if grant_type is not None and grant_type != "client_credentials":
            raise UnsupportedGrantType()
        requested_scope = None
        if "scope" in fields.validated_data:
            requested_scope = fields.validated_data["scope"].split()
            if not requested_scope:
                raise InvalidRequest(_("scope must list at least one permission."))
        validated = fields.validated_data
        # A DPoP proof is spent once (its jti): a request carrying one is never checked twice.
        client = self.authenticate_client(
            request, provisional_ok="DPoP" not in request.headers, validated=validated
        )
        try:
            issued = self.issue(request, client, requested_scope)
        except ClientOutdated:  # what this process kept of the secret changed since: check it afresh
            client = self.authenticate_client(request, validated=validated, again=True)
            issued = self.issue(request, client, requested_scope)
        return Response(
            {
                "access_token": issued.access_token,
                "token_type": issued.token_type,
                "expires_in": issued.expires_in,
                "scope": " ".join(issued.permissions),
            }
        )

    def issue(self, request, client: AuthenticatedClient, requested_scope: list[str] | None):
        dpop_jkt = self.dpop_binding(request, client)
        return token_issue(
            client=client, requested_scope=requested_scope, source_ip=request.source_ip, dpop_jkt=dpop_jkt
        )


class RevokeView(ClientAuthenticatedView):
    """``POST /auth/revoke`` (RFC 7009): always 200 for an authenticated client."""

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
        client = self.authenticate_client(request)
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

    class Input(serializers.Serializer):
        reason = StrictCharField(max_length=2000)

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
        client = self.authenticate_client(request)
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
