from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunitiesConfig(AppConfig):
    name = "communities"
    # "Parceiros › Comunidades", not "Comunidades › Comunidades" in the console's breadcrumbs.
    verbose_name = _("Partners")
