"""Defence in depth for logs: whatever a log line quotes (a URL, a header, an exception), no token or
secret survives into it. Our own lines never contain them; this catches everybody else's."""

import logging
import re

_REDACTIONS = [
    # A JWT, whole or partial: header and payload are base64url JSON, so they start with "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"), "[redacted-token]"),
    (re.compile(r"bfl_sk_[A-Za-z0-9]*"), "bfl_sk_[redacted]"),
    (re.compile(r"(?i)\b(access_token|token|client_secret)=[^&\s\"']+"), r"\1=[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
