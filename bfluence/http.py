"""HTTP plumbing shared by every endpoint: the JSON renderer and strict, bounded parsers."""

import json

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import renderers
from rest_framework.parsers import BaseParser

from bfluence.conf import app_settings
from bfluence.errors import InvalidRequest, RequestTooLarge, UnsupportedMediaType


class JSONUTF8Renderer(renderers.JSONRenderer):
    """``application/json; charset=utf-8``, as the SPEC promises partners."""

    charset = "utf-8"


def _read_bounded(stream) -> bytes:
    """Read the body, refusing early (flat memory) when it is larger than we ever need."""
    if stream is None:
        return b""
    limit = app_settings().max_request_body_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise RequestTooLarge()
    return data


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidRequest(_("The JSON body repeats a key."))
    return dict(pairs)


def _reject_constant(name: str) -> None:
    raise InvalidRequest(_("The JSON body is not valid JSON."))


class StrictJSONParser(BaseParser):
    """JSON objects only: no duplicate keys, no NaN/Infinity, bounded size and nesting."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_bounded(stream)
        try:
            data = json.loads(
                raw.decode("utf-8"),
                object_pairs_hook=_reject_duplicate_keys,
                parse_constant=_reject_constant,
            )
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise InvalidRequest(_("The JSON body is not valid JSON.")) from error
        if not isinstance(data, dict):
            raise InvalidRequest(_("The JSON body must be an object."))
        return data


def _refuse_unlabelled_json(raw: bytes) -> None:
    """A body that looks like JSON but is not labelled as JSON: say which header is missing."""
    if raw.lstrip()[:1] in (b"{", b"["):
        raise InvalidRequest(
            _("The body looks like JSON: send it with the header Content-Type: application/json.")
        )


class BoundedFormParser(BaseParser):
    """``application/x-www-form-urlencoded`` as OAuth 2.0 clients send it.

    A field given twice comes out as a list, which every field we read refuses as "not a string"
    (RFC 6749 §3.2: parameters must not be repeated); fields we do not read are ignored either way.
    """

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_bounded(stream)
        # curl -d '{…}' and requests.post(url, data=…) send form's content type by default.
        _refuse_unlabelled_json(raw)
        try:
            form = QueryDict(raw.decode("utf-8"), encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRequest(_("The form body is not valid UTF-8.")) from error
        return {key: values[0] if len(values) == 1 else values for key, values in form.lists()}


class UnlabelledBodyParser(BaseParser):
    """Last in line: a body with no ``Content-Type`` (``requests.post(url, data=json_text)``) or another
    one. JSON gets the advice to label it; anything else stays the 415 it always was."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        _refuse_unlabelled_json(_read_bounded(stream))
        raise UnsupportedMediaType()
