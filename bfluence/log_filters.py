"""Defence in depth for logs: whatever a log line quotes (a URL, a header, an exception), no token or
secret survives into it. Our own lines never contain them; this catches everybody else's.

The patterns live in ``bfluence.scrub``: the very scrubber that cleans free text before it is stored. A
long message is cut first (``truncate``), so the redaction's work is bounded whatever a caller sends.
"""

import logging

from bfluence.scrub import TRACEBACK_LIMIT, scrub_bounded

__all__ = ["RedactCredentials", "redact"]


def redact(message: str) -> str:
    """A log message bounded (a traceback's allowance: gunicorn's messages quote whole request lines),
    then redacted."""
    return scrub_bounded(message, TRACEBACK_LIMIT)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
