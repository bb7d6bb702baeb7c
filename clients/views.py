"""The base of every endpoint where a partner authenticates with its client credentials, not a token."""

from django.urls import reverse

from audit.services import Actor, log_auth_decision
from bfluence.conf import app_settings
from bfluence.errors import InvalidClient, RateLimited, ServiceUnavailable
from bfluence.http import BoundedFormParser, StrictJSONParser, UnlabelledBodyParser
from bfluence.source_ip import request_source_ip
from bfluence.text import is_hostile_text_refusal
from bfluence.views import NoStoreAPIView, issuer_url
from clients.credentials import client_credentials
from clients.limits import ClientAuthThrottle
from clients.services import (
    AuthenticatedClient,
    ClientAssertion,
    ClientCredentials,
    client_authenticate,
    failures_counted_by,
)


class ClientAuthenticatedView(NoStoreAPIView):
    """Client-authenticated endpoints: the attempt is counted by the throttle step, the outcome by
    ``authenticate_client`` (SPEC §2.1, clients/limits.py)."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (ClientAuthThrottle,)
    parser_classes = (StrictJSONParser, BoundedFormParser, UnlabelledBodyParser)
    http_method_names = ["post"]
    # Whether an authenticated request counts against its client_id's THROTTLE_TOKEN_CLIENT.
    counts_against_client_limit = True
    # Whether the endpoint keeps answering, its limits counted in this process, when the shared cache
    # cannot (SPEC §2.7: the brake works without the cache); otherwise 503 (clients/limits.py).
    works_without_cache = False

    def handle_exception(self, exc):
        """Text no honest client sends (bfluence/text.py) is refused as usual and counted as a failed
        authentication (SPEC §2.1): past the failure limit, 429 instead."""
        limits = getattr(self.request, "client_auth_limits", None)
        if limits is not None and is_hostile_text_refusal(exc):
            log_auth_decision(
                outcome="denied",
                reason="unacceptable_text",
                client_id=limits.client_id or "",
                source_ip=getattr(self.request, "source_ip", None),
            )
            try:
                limits.count_failure(spends_audit_allowance=False)  # it writes no audit row
            except (RateLimited, ServiceUnavailable) as counted:
                exc = counted
        return super().handle_exception(exc)

    def perform_authentication(self, request) -> None:
        """Nothing to do: these endpoints authenticate the client from its credentials, in the view
        (``request.user`` stays lazy, as DRF documents for this override)."""

    def initial(self, request, *args, **kwargs) -> None:
        # Worked out once: the audit rows, the log line and the token record all record it.
        request.source_ip = request_source_ip(request)
        super().initial(request, *args, **kwargs)

    def credentials(self, request, validated=None) -> ClientCredentials | ClientAssertion:
        return client_credentials(
            request, audiences=lambda: self.assertion_audiences(request), validated=validated
        )

    def authenticate_client(self, request, credentials) -> AuthenticatedClient:
        """Who is calling, then the outcome counted: a failure per IP and client_id + IP (429 instead of
        401 past the limit), a success against the client_id's own limit."""
        try:
            with failures_counted_by(request.client_auth_limits.count_failure):
                client = client_authenticate(credentials=credentials, source_ip=request.source_ip)
        except InvalidClient:
            # A refusal that wrote no row (a malformed secret) is counted here, off the audit allowance;
            # one ``client_refuse`` already counted is not counted again.
            request.client_auth_limits.count_failure(spends_audit_allowance=False)
            raise
        self.count_success(request, client)
        return client

    def count_success(self, request, client: AuthenticatedClient) -> None:
        if self.counts_against_client_limit:
            request.client_auth_limits.count_success(client_id=client.community.client_id)

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
