from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Partner notifications")

    def ready(self) -> None:
        # /readyz reports the outbox (bfluence imports no app: the app registers itself there).
        from bfluence import health
        from notifications.selectors import outbox_health

        health.register_report("notifications", outbox_health)
