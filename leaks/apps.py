from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeaksConfig(AppConfig):
    name = "leaks"
    verbose_name = _("Leak response")
