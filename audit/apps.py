from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The audit trail: who did what, when, from where. The bottom layer: every app records into it, and
    it imports none of them (console > tokens > communities > audit; docs/architecture.md)."""

    name = "audit"
    verbose_name = _("Audit trail")
