"""Bearer authentication for every private endpoint (SPEC §2.2, §2.3).

simplejwt's ``JWTAuthentication`` split into its steps; we override the ones that differ:
- ``get_raw_token``: exactly ``Bearer <token>`` (scheme case-insensitive), or a clear 400;
- ``get_validated_token``: our token class, and RFC 6750 errors that say *expired* or *invalid*;
- ``get_user``: the token must be recorded, not revoked, issued after the community's last "revoke
  all", and its community active. That is one indexed database read per request, on purpose: a
  revocation holds on the very next request on every process, whatever the cache backend.
"""

from dataclasses import dataclass
from datetime import datetime

from rest_framework import HTTP_HEADER_ENCODING
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from audit.services import log_auth_decision
from bfluence.errors import (
    BearerTokenWithoutRequiredDPoP,
    CallerOutsideAllowlist,
    DPoPChallenge,
    DPoPError,
    ExpiredToken,
    InvalidDPoPProof,
    InvalidDPoPToken,
    InvalidToken,
    MalformedAuthorization,
    RevokedToken,
    RevokedTokenOfDeactivatedCommunity,
    TokenInBody,
)
from bfluence.source_ip import request_source_ip
from communities.selectors import MemberBalance, is_member_reference
from tokens.dpop import ProofRejected
from tokens.jwt import PartnerAccessToken
from tokens.selectors import live_token_get
from tokens.services import api_call_refused, dpop_proof_accept

_TOKEN_PARAMETERS = ("access_token", "token")


@dataclass(frozen=True)
class PartnerPrincipal:
    """The authenticated partner behind a request: ``request.user`` on private endpoints."""

    community_id: int
    client_id: str
    community_name: str
    permissions: frozenset[str]
    jti: str
    issued_at: datetime
    expires_at: datetime

    # get-bflus's member, read in the same query as the token (see MemberBflusView.prefetch_member_kwarg).
    member_prefetched: bool = False
    member: MemberBalance | None = None

    is_authenticated = True
    is_anonymous = False

    def has_permission(self, code: str) -> bool:
        return code in self.permissions


class _Denied(Exception):
    """Internal: why a token was refused, with what is known of it, for the one log line."""

    def __init__(self, error, reason: str, *, client_id: str = "", jti: str = "") -> None:
        super().__init__(reason)
        self.error, self.reason, self.client_id, self.jti = error, reason, client_id, jti


class BearerTokenAuthentication(JWTAuthentication):
    www_authenticate_realm = "bfluence"

    def __init__(self, *args, **kwargs) -> None:
        # No user model involved: the principal is the community behind the token.
        super(JWTAuthentication, self).__init__(*args, **kwargs)

    def authenticate(self, request):
        """One decision, one log line: accepted or denied, with client_id, jti, reason and IP."""
        source_ip = request_source_ip(request)
        try:
            result = self._authenticate(request, source_ip)
        except _Denied as denied:
            log_auth_decision(
                outcome="denied",
                reason=denied.reason,
                client_id=denied.client_id,
                jti=denied.jti,
                source_ip=source_ip,
                kind="bearer",
            )
            error = denied.error
            if (
                isinstance(error, InvalidToken)
                and not isinstance(error, DPoPError)
                and self._dpop_scheme(request)
            ):
                error = DPoPChallenge(error)
            raise error from None
        if result is not None:
            principal = result[0]
            log_auth_decision(
                outcome="accepted",
                client_id=principal.client_id,
                jti=principal.jti,
                source_ip=source_ip,
                kind="bearer",
            )
        return result

    def _dpop_scheme(self, request) -> bool:
        parts = (self.get_header(request) or b"").split()
        return bool(parts) and parts[0].lower() == b"dpop"

    def _authenticate(self, request, source_ip: str | None):
        # A token in the URL would sit in access logs and browser history: refuse it, even beside a header.
        if any(name in request.query_params for name in _TOKEN_PARAMETERS):
            raise _Denied(TokenInBody(), "token_in_url")
        header = self.get_header(request)
        if not header:
            return None  # DRF answers 401 unauthorized with our challenge
        scheme, raw_token = self.get_scheme_and_token(header)
        validated = self.get_validated_token(raw_token)
        bound_to = validated.dpop_jkt
        # RFC 9449 §7.2: a key-bound token never works as a plain Bearer token, and the DPoP scheme
        # carries only key-bound tokens. Cheap checks on the signed claims, before any database work.
        if scheme == b"bearer" and bound_to is not None:
            raise _Denied(InvalidDPoPToken(), "dpop_token_as_bearer", jti=validated["jti"])
        if scheme == b"dpop" and bound_to is None:
            raise _Denied(InvalidDPoPToken(), "bearer_token_as_dpop", jti=validated["jti"])
        try:
            principal = self.get_user(
                validated,
                member_reference=self._member_to_prefetch(request),
                source_ip=source_ip,
                dpop_bound=bound_to is not None,
            )
        except _Denied as denied:
            if bound_to is not None and isinstance(denied.error, CallerOutsideAllowlist):
                self._outside_allowlist_said_only_with_the_proof(request, raw_token, bound_to, denied)
            raise
        if bound_to is not None:
            self.check_dpop_proof(
                request, raw_token, bound_to, client_id=principal.client_id, jti=principal.jti
            )
        return principal, validated

    def _outside_allowlist_said_only_with_the_proof(
        self, request, raw_token: bytes, bound_to: str, denied: _Denied
    ) -> None:
        """A key-bound token alone is no credential (a stolen one is useless): without a good proof the
        refusal stays the plain "invalid", so a thief learns nothing about the token or the allowlist."""
        try:
            self.check_dpop_proof(request, raw_token, bound_to, client_id=denied.client_id, jti=denied.jti)
        except _Denied:
            denied.error = InvalidToken()

    @staticmethod
    def check_dpop_proof(request, raw_token: bytes, bound_to: str, *, client_id: str, jti: str) -> None:
        """A fresh proof for this method and URL, signed by the token's key, used once (RFC 9449 §7.1)."""
        proof = request.headers.get("DPoP")
        if proof is None:
            raise _Denied(InvalidDPoPProof(), "dpop_proof_missing", client_id=client_id, jti=jti)
        try:
            verified = dpop_proof_accept(
                proof=proof,
                method=request.method,
                url=request.build_absolute_uri(request.path),
                access_token=raw_token.decode("ascii"),
            )
        except ProofRejected as rejected:
            raise _Denied(
                InvalidDPoPProof(), f"dpop_{rejected.reason}", client_id=client_id, jti=jti
            ) from None
        if verified.jkt != bound_to:
            raise _Denied(InvalidDPoPProof(), "dpop_other_key", client_id=client_id, jti=jti)

    @staticmethod
    def _member_to_prefetch(request) -> str | None:
        """The member reference the view will read, if it asked for it to be read with the token."""
        context = getattr(request, "parser_context", None) or {}
        kwarg = getattr(context.get("view"), "prefetch_member_kwarg", None)
        reference = context.get("kwargs", {}).get(kwarg) if kwarg else None
        return reference if reference is not None and is_member_reference(reference) else None

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'

    def get_scheme_and_token(self, header: bytes) -> tuple[bytes, bytes]:
        """``Bearer <token>`` or ``DPoP <token>`` (schemes case-insensitive), or a clear 400."""
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() not in (b"bearer", b"dpop"):
            raise _Denied(MalformedAuthorization(), "malformed_header")
        return parts[0].lower(), parts[1]

    def get_raw_token(self, header: bytes) -> bytes:
        return self.get_scheme_and_token(header)[1]

    def get_validated_token(self, raw_token: bytes) -> PartnerAccessToken:
        try:
            return PartnerAccessToken(raw_token.decode(HTTP_HEADER_ENCODING))
        except ExpiredTokenError as error:
            raise _Denied(ExpiredToken(), "expired") from error
        except (TokenError, UnicodeDecodeError) as error:
            raise _Denied(InvalidToken(), "invalid_token") from error

    def get_user(
        self,
        validated_token: PartnerAccessToken,
        member_reference: str | None = None,
        source_ip: str | None = None,
        dpop_bound: bool = False,
    ) -> PartnerPrincipal:
        jti = validated_token["jti"]
        record = live_token_get(jti=jti, member_reference=member_reference)
        if record is None or record.client_id != validated_token["community"]:
            raise _Denied(InvalidToken(), "unknown_jti", jti=jti)
        cut_off = record.tokens_revoked_before
        if record.revoked_at is not None or (cut_off is not None and record.issued_at < cut_off):
            # Deactivation revokes every token, and a new one is refused until reactivation: say so.
            revoked = RevokedToken() if record.community_is_active else RevokedTokenOfDeactivatedCommunity()
            raise _Denied(revoked, "revoked", client_id=record.client_id, jti=jti)
        if not record.community_is_active:
            raise _Denied(InvalidToken(), "community_inactive", client_id=record.client_id, jti=jti)
        policy = record.policy
        if not policy.admits_api_call(source_ip):
            api_call_refused(
                community_id=record.community_id,
                client_id=record.client_id,
                jti=jti,
                source_ip=source_ip,
                reason="ip_not_allowed",
            )
            # Named only when it is the one thing wrong: a token DPoP would refuse too gets the plain text.
            refused_for_dpop_too = policy.dpop == "required" and not dpop_bound
            error = InvalidToken() if refused_for_dpop_too else CallerOutsideAllowlist()
            raise _Denied(error, "ip_not_allowed", client_id=record.client_id, jti=jti)
        if policy.dpop == "required" and not dpop_bound:
            raise _Denied(
                BearerTokenWithoutRequiredDPoP(), "dpop_required", client_id=record.client_id, jti=jti
            )
        return PartnerPrincipal(
            community_id=record.community_id,
            client_id=record.client_id,
            community_name=record.community_name,
            # Permissions withdrawn by staff stop working at once, even in tokens already issued.
            permissions=frozenset(validated_token["permissions"]).intersection(record.community_permissions),
            jti=jti,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            member_prefetched=member_reference is not None,
            member=record.member,
        )
