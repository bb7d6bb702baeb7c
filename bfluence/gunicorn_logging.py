"""gunicorn's own logs in the project's format, through the project's redaction.

gunicorn writes two logs of its own, outside Django's ``LOGGING``: the error log, which quotes whole
request lines and URIs (``Invalid request from ip=…: Invalid HTTP request line: 'GET /x?client_secret=…'``,
``Error handling request GET /x?client_secret=…``), and the access log. ``gunicorn.conf.py`` names one
of these classes as ``logger_class``; both logs then carry one JSON object per line (or the escaped text
form), with the same credential redaction as every other line.

No Django import: this runs in gunicorn's master before any Django code loads.
"""

import logging

from gunicorn.glogging import Logger

from bfluence.log_filters import RedactCredentials
from bfluence.log_format import JsonLogFormatter, TextLogFormatter


class JsonGunicornLogger(Logger):
    formatter_class: type[logging.Formatter] = JsonLogFormatter

    def setup(self, cfg) -> None:
        super().setup(cfg)
        formatter = self.formatter_class()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                if not any(isinstance(existing, RedactCredentials) for existing in handler.filters):
                    handler.addFilter(RedactCredentials())

    def access(self, resp, req, environ, request_time) -> None:
        """One access record as fields. The path is logged without its query string: a token or
        secret a partner wrongly put in a URL never reaches the access log, redaction or not."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "request",
            extra={
                "remote_addr": atoms["h"],
                "method": atoms["m"],
                "path": atoms["U"],
                "protocol": atoms["H"],
                "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
                "bytes": atoms["B"],
                "duration_ms": atoms["M"],
                "user_agent": atoms["a"],
                # The id the app answered with (bfluence/request_id.py), as nginx's line has it too.
                "request_id": atoms.get("{x-request-id}o"),
            },
        )


class TextGunicornLogger(JsonGunicornLogger):
    formatter_class = TextLogFormatter
