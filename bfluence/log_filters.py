"""Defence in depth for logs: whatever a log line quotes (a URL, a header, an exception), no token or
secret survives into it. Our own lines never contain them; this catches everybody else's.

The patterns live in ``bfluence.scrub``: the very scrubber that cleans free text before it is stored.
"""

import logging

from bfluence.scrub import scrub as redact

__all__ = ["RedactCredentials", "redact"]


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
