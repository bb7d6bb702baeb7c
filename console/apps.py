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
        from django.contrib import admin

        from console import (
            signin,  # noqa: F401  (connects the staff sign-in audit receivers)
            sudo,  # noqa: F401  (signing in counts as typing the password)
        )
        from console.signin import ConsoleAuthenticationForm

        admin.site.login_form = ConsoleAuthenticationForm  # says how many attempts are left
        admin.site.site_header = _("Bfluence staff console")
        admin.site.site_title = _("Bfluence staff console")
        admin.site.index_title = _("Partner communities and their credentials")
        admin.site.site_url = None  # no "view site": the partners' site is in English, not for staff
        # The lists need the width at 1280 px; the home page and the breadcrumbs lead everywhere.
        admin.site.enable_nav_sidebar = False
        admin.site.empty_value_display = "—"  # nothing, as the console's own cells say it
