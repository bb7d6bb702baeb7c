"""Log lines as data: one JSON object per line (``LOG_FORMAT=json``, the default), or an escaped one-line
text form for people reading a local terminal (``LOG_FORMAT=text``).

Caller input — a client_id, a path, a user agent — travels only as a field *value*, written by a JSON
encoder, so no value can end a line or pose as another field: ``client_id="x outcome=issued\\n..."`` stays
one string inside one line. Every string value, the message and any traceback included, is first cut to
a bounded length (``bfluence.scrub.truncate``) and then goes through the credential redaction, so whatever
a line quotes, no secret or token survives into it, and no value a caller sends makes a line costly.

No Django import here: gunicorn's master process uses these formatters before any Django code loads.
"""

import datetime
import json
import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from bfluence.scrub import FIELD_LIMIT, TRACEBACK_LIMIT, scrub_bounded

# Django attaches the request object (and runserver a preformatted time) to some records; their string
# forms repeat the whole URL, query string included. The message already says what happened.
_NOT_LOGGED = frozenset({"request", "server_time"})
_STANDARD_ATTRS = frozenset(RESERVED_ATTRS) | {"taskName"}
_PLAIN = (str, int, float, bool, type(None), datetime.datetime)
# Fields people read whole keep more than a caller's value does: a traceback, and the message.
_FIELD_LIMITS = {"exc_info": TRACEBACK_LIMIT, "stack_info": TRACEBACK_LIMIT, "message": 1000}
# Containers are walked this far (items per container): a caller cannot make one field a long list.
_MAX_ITEMS = 50


def loggable(value: Any, limit: int = FIELD_LIMIT) -> Any:
    """The value as it may be logged: strings cut to ``limit`` characters then redacted, containers
    walked (at most ``_MAX_ITEMS`` items each), anything else made a string (cut and redacted), since an
    object's ``str()`` could quote a secret."""
    if isinstance(value, str):
        return scrub_bounded(value, limit)
    if isinstance(value, dict):
        return {
            scrub_bounded(str(key), 100): loggable(item, limit)
            for key, item in list(value.items())[:_MAX_ITEMS]
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [loggable(item, limit) for item in list(value)[:_MAX_ITEMS]]
    if isinstance(value, _PLAIN):
        return value
    return scrub_bounded(str(value), limit)


def loggable_field(key: str, value: Any) -> Any:
    return loggable(value, _FIELD_LIMITS.get(key, FIELD_LIMIT))


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller passed with ``extra={...}``."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS and key not in _NOT_LOGGED and not key.startswith("_")
    }


class JsonLogFormatter(JsonFormatter):
    """``{"time", "level", "logger", "message", ...extra fields, "exc_info"?}`` — one object per line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("reserved_attrs", sorted(_STANDARD_ATTRS | _NOT_LOGGED))
        # ensure_ascii (the library's default) also escapes U+2028/U+0085: no character a log reader
        # might take for a line break ever appears raw.
        kwargs.setdefault("json_ensure_ascii", True)
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: loggable_field(key, value) for key, value in log_data.items()}


class TextLogFormatter(logging.Formatter):
    """``time LEVEL logger "message" key="value" ...`` for local runs.

    The message and every field value are JSON-quoted, so the text form cannot be forged either; a
    traceback, when there is one, follows on its own lines (redacted) because people read it.
    """

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            self.formatTime(record, "%Y-%m-%d %H:%M:%S"),
            record.levelname,
            record.name,
            _quoted(record.getMessage(), _FIELD_LIMITS["message"]),
        ]
        parts += [
            f"{key}={_quoted(value)}" for key, value in list(record_fields(record).items())[:_MAX_ITEMS]
        ]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + scrub_bounded(self.formatException(record.exc_info), TRACEBACK_LIMIT)
        return line


def _quoted(value: Any, limit: int = FIELD_LIMIT) -> str:
    # Readable accents, but every character that is not printable (U+2028, U+0085...) escaped.
    text = json.dumps(loggable(value, limit), ensure_ascii=False, default=str)
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)


FORMATTERS = {"json": JsonLogFormatter, "text": TextLogFormatter}


def configure(config: dict) -> None:
    """``LOGGING_CONFIG``: Django's dictConfig, plus Python warnings routed into logging, so a start-up
    warning is one JSON line like everything else instead of raw text in the stream."""
    import logging.config

    logging.captureWarnings(True)
    logging.config.dictConfig(config)
