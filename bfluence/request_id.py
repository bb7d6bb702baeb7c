"""Request ids: one id per request, in every log line the request causes and in its response.

nginx sets ``X-Request-ID`` on every request it passes on (deploy/nginx/bfluence.conf) and logs it in its
access log, so a line of nginx's and the app's lines of the same request share it. The header is believed
only from ``TRUSTED_PROXIES`` (as ``X-Forwarded-For``) and only when it is 1-64 letters, digits and
dashes; anything else is replaced by a fresh id, so a caller can neither forge another request's id nor
put text of their choosing into the logs. The response echoes the id, to be quoted in a support ticket.

No Django model import: the log filter also runs for records logged before the apps are ready.
"""

import contextvars
import logging
import re
import uuid

from bfluence.source_ip import peer_is_trusted

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9-]{1,64}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("bfluence_request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def request_id_from(meta: dict, proxies) -> str:
    """The request's id: the trusted proxy's when it is well-formed, else a new one (32 hex digits)."""
    sent = meta.get("HTTP_X_REQUEST_ID")
    if sent and _VALID.fullmatch(sent) and peer_is_trusted(meta, proxies):
        return sent
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First of all middleware: the id is known to every line logged while the request is handled."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from bfluence.conf import app_settings  # settings.py names this module while it loads

        request_id = request_id_from(request.META, app_settings().trusted_proxies)
        request.request_id = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


class AddRequestId(logging.Filter):
    """A log handler's filter: the record carries ``request_id`` while a request is being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class OneLineWarning(logging.Filter):
    """A logger's filter: its records become one WARNING line, without the traceback.

    Django logs every ``DisallowedHost`` (a Host not in ALLOWED_HOSTS) at ERROR with the whole traceback;
    scanners send such requests all day. nginx refuses unknown hosts before they arrive here
    (deploy/nginx/bfluence.conf), so one that does arrive is worth a line, not a page of the error log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True
