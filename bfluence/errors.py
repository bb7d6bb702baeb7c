"""The one error shape of the API: ``{"error": "<stable code>", "error_description": "<human text>"}``.

Every failure, whether raised by our code, by DRF or by Django itself, is rendered here. ``error`` is a
stable English identifier partners can switch on; ``error_description`` is translated (pt-BR by
default, English on ``Accept-Language: en``).
"""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from bfluence import metrics

REALM = "bfluence"
_log = logging.getLogger("bfluence.errors")


class ApiError(exceptions.APIException):
    """Base of our errors: ``default_code`` is the SPEC's ``error`` code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"
    default_detail = _("The request is not valid.")
    # Refused for text no honest client sends (bfluence/text.py): counted as a failed authentication
    # where a client is being authenticated.
    hostile_text = False

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(ApiError):
    default_detail = _("The request is not valid.")


class RequestTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")


class LengthRequired(ApiError):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = _(
        "Send the body with a Content-Length header; chunked transfer encoding is not accepted."
    )


class UnsupportedGrantType(ApiError):
    default_code = "unsupported_grant_type"
    default_detail = _("Only grant_type=client_credentials is supported.")


class InvalidScope(ApiError):
    default_code = "invalid_scope"
    default_detail = _("The requested scope is not granted to this client.")


class InvalidClient(ApiError):
    """One response for every client-authentication failure, so nothing tells them apart."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_client"
    default_detail = _("Client authentication failed.")

    def __init__(self, *, via_basic: bool = False) -> None:
        super().__init__()
        self.via_basic = via_basic

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{REALM}"'} if self.via_basic else {}


class NotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = _("Not found.")


class BearerError(ApiError):
    """Errors of RFC 6750 Bearer authentication: each carries its ``WWW-Authenticate`` challenge.

    ``header_description`` is plain ASCII English, as RFC 6750 §3 requires of the header; the body's
    ``error_description`` is translated.
    """

    header_description = ""
    header_scope = ""

    def headers(self) -> dict[str, str]:
        parts = [f'Bearer realm="{REALM}"']
        if self.default_code != "unauthorized":
            parts.append(f'error="{self.default_code}"')
        if self.header_description:
            parts.append(f'error_description="{self.header_description}"')
        if self.header_scope:
            parts.append(f'scope="{self.header_scope}"')
        return {"WWW-Authenticate": ", ".join(parts)}


class Unauthorized(BearerError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "unauthorized"
    default_detail = _("Authentication credentials were not provided: send Authorization: Bearer <token>.")


class MalformedAuthorization(BearerError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"
    default_detail = _("The Authorization header must be 'Bearer <token>'.")
    header_description = "The Authorization header must be Bearer followed by one token"


class TokenInBody(MalformedAuthorization):
    default_detail = _("Send the access token in the Authorization header, never in the URL or body.")
    header_description = "Send the access token in the Authorization header only"


class InvalidToken(BearerError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_token"
    default_detail = _("The access token is invalid.")
    header_description = "The access token is invalid"


class ExpiredToken(InvalidToken):
    default_detail = _("The access token has expired: request a new one at /auth/token.")
    header_description = "The access token expired"


class RevokedToken(InvalidToken):
    default_detail = _("The access token has been revoked: request a new one at /auth/token.")
    header_description = "The access token was revoked"


class RevokedTokenOfDeactivatedCommunity(RevokedToken):
    """A token that verifies, revoked with its community's deactivation (SPEC §4.1): a new token is refused
    while the community is deactivated, so the description does not invite one."""

    default_detail = _("The access token was revoked: the community is deactivated; contact Bfluence.")
    header_description = "The access token was revoked: the community is deactivated; contact Bfluence"


class CallerOutsideAllowlist(InvalidToken):
    """A working token, called from an address the community's allowlist refuses for API calls (SPEC
    §4.1). Said only once the token (and, if key-bound, its proof) checked out, so it tells nothing to
    anyone without a working token; the allowlist itself is never named."""

    default_detail = _(
        "The access token is valid, but this call comes from an IP address outside the community's list "
        "of allowed IPs."
    )
    header_description = (
        "The access token is valid, but this call comes from an IP address outside the community's list "
        "of allowed IPs"
    )


class BearerTokenWithoutRequiredDPoP(InvalidToken):
    """A working plain Bearer token whose community has since switched DPoP to required (SPEC §4.1): a new
    token, requested with a DPoP proof, is the fix. Said only once the token checked out (not forged,
    expired, revoked, its community active) and the allowlist, if any, admits the call."""

    default_detail = _(
        "The access token was issued without DPoP, and the community now requires DPoP: request a new "
        "token with a DPoP proof."
    )
    header_description = (
        "The access token was issued without DPoP, and the community now requires DPoP: request a new "
        "token with a DPoP proof"
    )


# The algorithms DPoP proofs may use (clients.keys.SIGNING_ALGORITHMS; a test keeps the two equal).
DPOP_ALGORITHMS = "ES256 RS256 PS256 EdDSA"


class DPoPError(BearerError):
    """Errors at calls made with a DPoP-bound token (RFC 9449 §7.1): the challenge names the DPoP
    scheme and the proof algorithms we accept."""

    status_code = status.HTTP_401_UNAUTHORIZED

    def headers(self) -> dict[str, str]:
        parts = [f'DPoP realm="{REALM}"', f'error="{self.default_code}"']
        if self.header_description:
            parts.append(f'error_description="{self.header_description}"')
        parts.append(f'algs="{DPOP_ALGORITHMS}"')
        return {"WWW-Authenticate": ", ".join(parts)}


class InvalidDPoPProof(DPoPError):
    default_code = "invalid_dpop_proof"
    default_detail = _(
        "This token is bound to a key (DPoP): send a fresh DPoP proof for this request, signed with that key."
    )
    header_description = "A fresh DPoP proof for this request is required"


class InvalidDPoPToken(DPoPError):
    default_code = "invalid_token"
    default_detail = _("The access token is not valid with this authorization scheme.")
    header_description = "The access token is invalid for this scheme"


class DPoPChallenge(DPoPError):
    """A token error (expired, revoked, …) on a call made with the DPoP scheme: the same code and
    texts, under a ``DPoP`` challenge instead of a ``Bearer`` one (RFC 9449 §7.1)."""

    def __init__(self, error: BearerError) -> None:
        super().__init__(detail=error.detail)
        self.default_code = error.default_code
        self.header_description = error.header_description


class InsufficientScope(BearerError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "insufficient_scope"
    default_detail = _("The access token lacks the permission this endpoint needs.")
    header_description = "The access token lacks the required permission"

    def __init__(self, *, needed: str) -> None:
        super().__init__()
        self.header_scope = needed


class RateLimited(ApiError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"
    default_detail = _("Too many requests: wait and retry after the time in Retry-After.")
    # Which limit was reached (SPEC §2.1), said without telling anything about a tenant: the
    # per-client_id limit counts only requests that authenticated as that client.
    scope_details = {
        "token_ip": _("Too many requests from this address: retry after the time in Retry-After."),
        "token_failures": _(
            "Too many failed authentications from this address: check the client credentials, then "
            "retry after the time in Retry-After."
        ),
        "token_client": _("Too many requests for this client: retry after the time in Retry-After."),
        "api": _("Too many calls for this community: retry after the time in Retry-After."),
    }

    def __init__(self, *, wait: float | None, scope: str | None = None) -> None:
        super().__init__(detail=self.scope_details.get(scope or ""))
        self.wait = wait
        self.scope = scope

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.wait or 1)))}


class MethodNotAllowed(ApiError):
    status_code = status.HTTP_405_METHOD_NOT_ALLOWED
    default_code = "method_not_allowed"
    default_detail = _("This method is not allowed here.")


class UnsupportedMediaType(ApiError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = _("Send the body as application/json or application/x-www-form-urlencoded.")


class NotAcceptable(ApiError):
    status_code = status.HTTP_406_NOT_ACCEPTABLE
    default_code = "not_acceptable"
    default_detail = _("This endpoint answers in application/json only.")


class Forbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"
    default_detail = _("You do not have permission to do this.")


class ServiceUnavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = _("The service is temporarily unavailable: retry shortly.")
    retry_after_seconds = 5

    def __init__(self, *, retry_after: int | None = None) -> None:
        super().__init__()
        if retry_after is not None:
            self.retry_after_seconds = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


def _as_api_error(exc: Exception) -> ApiError | None:
    """Translate DRF's and Django's exceptions into ours; ``None`` for anything unexpected."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable or restarting: the transaction was rolled back, nothing is
        # half-written, and the caller may simply retry.
        _log.error("database unavailable: %s", type(exc).__name__)
        metrics.backend_error("database")
        return ServiceUnavailable()
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return NotFound()
    if isinstance(exc, exceptions.NotAuthenticated):
        return Unauthorized()
    if isinstance(exc, exceptions.AuthenticationFailed):
        return InvalidToken()
    if isinstance(exc, exceptions.Throttled):
        return RateLimited(wait=exc.wait)  # type: ignore[attr-defined]  # set in Throttled.__init__
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, exceptions.NotAcceptable):
        return NotAcceptable()
    if isinstance(exc, exceptions.ParseError):
        return InvalidRequest(_("The request body could not be parsed."))
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return Forbidden()
    return None


def _field_errors(detail) -> dict[str, list[str]]:
    return {field: [str(message) for message in messages] for field, messages in detail.items()}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error leaves through here, in the one shape."""
    if isinstance(exc, exceptions.ValidationError):
        body: dict[str, object] = {
            "error": "invalid_request",
            "error_description": str(_("Some fields are not valid.")),
        }
        if isinstance(exc.detail, dict):
            body["fields"] = _field_errors(exc.detail)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    error = _as_api_error(exc)
    if error is None:
        return None  # a real bug: Django's handler500 answers with a JSON 500 and logs it
    body = {"error": error.default_code, "error_description": str(error.detail)}
    return Response(body, status=error.status_code, headers=error.headers())


def _json_error(code: str, description, status_code: int) -> JsonResponse:
    return JsonResponse(
        {"error": code, "error_description": str(description)},
        status=status_code,
        content_type="application/json; charset=utf-8",
    )


# Django-level handlers (outside DRF views: unknown URLs, CSRF, crashes) keep the same shape.
def handler400(request, exception=None):
    return _json_error("invalid_request", _("The request is not valid."), 400)


def handler403(request, exception=None):
    return _json_error("forbidden", _("You do not have permission to do this."), 403)


def handler404(request, exception=None):
    return _json_error("not_found", _("Not found."), 404)


def handler500(request):
    return _json_error("server_error", _("Internal error: it has been logged; please retry later."), 500)
