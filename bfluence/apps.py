from django.apps import AppConfig
from django.db.models.signals import pre_save


def _scrub_admin_log_entry(sender, instance, **kwargs) -> None:
    """The console writes staff reasons into Django's own admin log too: scrub them like every other
    free-text field (bfluence.scrub), whatever screen wrote them."""
    from bfluence.scrub import scrub

    instance.change_message = scrub(instance.change_message or "")
    instance.object_repr = scrub(instance.object_repr or "")


class BfluenceConfig(AppConfig):
    name = "bfluence"
    verbose_name = "Bfluence"

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry

        from bfluence import checks  # noqa: F401  (registers the deployment checks)

        pre_save.connect(_scrub_admin_log_entry, sender=LogEntry, dispatch_uid="bfluence-scrub-admin-log")
