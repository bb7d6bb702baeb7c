"""Moved to the ``audit`` app (``audit.services``); kept so code written against the old home still runs.

New code imports ``from audit.services import Actor, audit_record, log_auth_decision``.
"""

from audit.services import Actor, audit_record, log_auth_decision, loggable_client_id, printable_client_id

__all__ = ["Actor", "audit_record", "log_auth_decision", "loggable_client_id", "printable_client_id"]
