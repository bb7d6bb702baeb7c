"""Reading client credentials off a request, in every form SPEC §2.1 accepts.

1. JSON ``{"client_id", "client_secret"}`` (the seed's form);
2. OAuth 2.0 form fields ``client_id`` / ``client_secret``;
3. HTTP Basic (RFC 6749 §2.3.1: both parts form-urlencoded, then base64).
Never two at once: a secret in the body beside Basic, or a different client_id, is refused.
"""

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from bfluence.errors import InvalidRequest
from bfluence.text import PrintableText, text_refusal
from clients.assertions import ASSERTION_TYPE, MAX_ASSERTION_LENGTH, assertion_client_id_hint
from clients.services.authentication import ClientAssertion, ClientCredentials

MAX_CLIENT_ID = 100
MAX_SECRET = 200


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers, booleans, lists and objects instead of coercing them, and
    text no honest client sends (``bfluence.text``: control characters, lone surrogates; tabs and line
    breaks only in ``free_text``)."""

    default_error_messages = {"invalid": _("Must be a string.")}

    def __init__(self, *, free_text: bool = False, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators.append(PrintableText(free_text=free_text))

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ClientCredentialsInput(serializers.Serializer):
    """The credentials part of a body; all optional here because HTTP Basic may carry them instead."""

    client_id = StrictCharField(required=False, max_length=MAX_CLIENT_ID)
    client_secret = StrictCharField(required=False, max_length=MAX_SECRET)
    client_assertion_type = StrictCharField(required=False, max_length=200)
    client_assertion = StrictCharField(required=False, max_length=MAX_ASSERTION_LENGTH)


class HostileText(ValueError):
    """Basic credentials no honest client sends (counted as a failed authentication)."""


def _basic_credentials(request, *, strict: bool) -> tuple[str, str] | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, encoded = header.strip().partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError("not Basic")
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        client_id, separator, secret = decoded.partition(":")
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if not separator or not client_id or not secret:
            raise ValueError("incomplete")
        if text_refusal(client_id, max_length=MAX_CLIENT_ID) or text_refusal(secret, max_length=MAX_SECRET):
            raise HostileText("too long, control characters or invalid Unicode")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        if strict:
            refusal = InvalidRequest(
                _("The Authorization header must be HTTP Basic with client_id:client_secret.")
            )
            # Counted as a failure: too long, control characters, bytes that are not UTF-8.
            refusal.hostile_text = isinstance(error, (HostileText, UnicodeDecodeError))
            raise refusal from error
        return None
    return client_id, secret


def client_id_hint(request) -> str | None:
    """The client_id a request claims to be, for rate limiting only: never raises on odd input."""
    basic = _basic_credentials(request, strict=False)
    if basic:
        return basic[0]
    try:
        client_id = request.data.get("client_id")
        if client_id is None and "client_assertion" in request.data:
            client_id = assertion_client_id_hint(request.data.get("client_assertion"))
    except AttributeError:
        return None
    return client_id if isinstance(client_id, str) and client_id else None


def _client_assertion(
    request, fields: Mapping[str, Any], *, audiences: Callable[[], tuple[str, ...]]
) -> ClientAssertion:
    """RFC 7523 §2.2: both assertion fields, and nothing else that authenticates."""
    if fields.get("client_secret") is not None or request.headers.get("Authorization") is not None:
        raise InvalidRequest(_("Send the client credentials once: a client assertion or a secret, not both."))
    if fields.get("client_assertion_type") != ASSERTION_TYPE or not fields.get("client_assertion"):
        raise InvalidRequest(
            _("private_key_jwt needs client_assertion_type=%(type)s and client_assertion.")
            % {"type": ASSERTION_TYPE}
        )
    return ClientAssertion(
        client_id=fields.get("client_id"), assertion=fields["client_assertion"], audiences=audiences()
    )


def client_credentials(
    request,
    *,
    audiences: Callable[[], tuple[str, ...]] = tuple,
    validated: Mapping[str, Any] | None = None,
) -> ClientCredentials | ClientAssertion:
    """The one set of credentials the request carries; ``invalid_request`` if none, partial or two.

    ``audiences``: works out what a client assertion's ``aud`` may be at this endpoint (see
    ``ClientAssertion``); called only for an assertion.
    ``validated``: the body, already validated by the view's serializer (extending
    ``ClientCredentialsInput``), so that it is validated once.
    """
    if validated is None:
        fields = ClientCredentialsInput(data=request.data)
        fields.is_valid(raise_exception=True)
        validated = fields.validated_data
    if "client_assertion" in validated or "client_assertion_type" in validated:
        return _client_assertion(request, validated, audiences=audiences)
    body_id = validated.get("client_id")
    body_secret = validated.get("client_secret")
    basic = _basic_credentials(request, strict=True)
    if basic is not None:
        if body_secret is not None or (body_id is not None and body_id != basic[0]):
            raise InvalidRequest(
                _("Send the client credentials once: in HTTP Basic or in the body, not both.")
            )
        return ClientCredentials(client_id=basic[0], client_secret=basic[1], via_basic=True)
    if not body_id or not body_secret:
        raise InvalidRequest(_("client_id and client_secret are required."))
    return ClientCredentials(client_id=body_id, client_secret=body_secret)
