"""The one check of text an outsider sends, before it reaches the database or a log (SPEC §2.1).

JSON and form fields, HTTP Basic credentials, and the claims and headers of client assertions and DPoP
proofs all go through ``text_refusal``: NUL and other control characters (C0, DEL, C1), lone surrogates
(JSON's ``"\\ud800"`` decodes to one; no database or UTF-8 encoder takes it) and values over their
field's length are refused. Free text (a ``reason``) may hold tabs and line breaks. What the caller gets
is the endpoint's usual refusal: ``invalid_request`` for a field of the body, ``invalid_client`` for
a claim read while authenticating a client; client-authenticated endpoints count either as a failure.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

# Built once: C0 controls, DEL, C1 controls, and every surrogate code point (a str holding one is
# never valid text: UTF-8 cannot encode it).
_NEVER_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NEVER_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

UNPRINTABLE = "unprintable"
TOO_LONG = "too_long"
# Validation codes that mean "no honest client sends this" (DRF's own for NUL and surrogates, ours, and
# the length cap): a client-authenticated endpoint counts them as a failed authentication.
HOSTILE_TEXT_CODES = frozenset(
    {UNPRINTABLE, "max_length", "null_characters_not_allowed", "surrogate_characters_not_allowed"}
)


def text_refusal(value: object, *, max_length: int, free_text: bool = False) -> str | None:
    """Why ``value`` is not acceptable text (``"unprintable"``, ``"too_long"``, or ``"not_text"``), or
    None. Linear in the value's length; the length is checked first, so an over-long value costs
    nothing more."""
    if not isinstance(value, str):
        return "not_text"
    if len(value) > max_length:
        return TOO_LONG
    pattern = _NEVER_IN_FREE_TEXT if free_text else _NEVER_IN_TEXT
    if pattern.search(value):
        return UNPRINTABLE
    return None


@deconstructible
class PrintableText:
    """The same check as a Django/DRF field validator (the length is the field's own ``max_length``)."""

    message = _("Must not contain control characters or invalid Unicode.")

    def __init__(self, *, free_text: bool = False) -> None:
        self.free_text = free_text

    def __call__(self, value: str) -> None:
        if text_refusal(value, max_length=len(value), free_text=self.free_text) == UNPRINTABLE:
            raise ValidationError(self.message, code=UNPRINTABLE)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrintableText) and other.free_text == self.free_text


def is_hostile_text_refusal(error: Exception) -> bool:
    """Whether ``error`` refused text no honest client sends: a field validation failing with one of
    ``HOSTILE_TEXT_CODES``, or an API error marked ``hostile_text``."""
    if isinstance(error, exceptions.ValidationError):
        return bool(HOSTILE_TEXT_CODES.intersection(_codes(error.get_codes())))
    return bool(getattr(error, "hostile_text", False))


def _codes(codes) -> list[str]:
    if isinstance(codes, dict):
        return [code for value in codes.values() for code in _codes(value)]
    if isinstance(codes, list):
        return [code for value in codes for code in _codes(value)]
    return [codes]
