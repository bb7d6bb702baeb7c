from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The staff console: admin screens that combine communities, credentials and the audit trail.

    It sits on top of every other app (console > tokens > communities), so the apps below never import
    a screen, and screens that need several apps have one home.
    """

    name = "console"
    verbose_name = _("Staff console")

    def ready(self) -> None:
        from console import signin  # noqa: F401  (connects the staff sign-in audit receivers)
        from console import sudo  # noqa: F401  (signing in counts as typing the password)
