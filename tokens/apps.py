from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = _("Credentials and tokens")

    def ready(self) -> None:
        from bfluence.precompiled import install_planned_once
        from tokens import (
            schema,  # noqa: F401  (registers the OpenAPI security scheme extension)
            selectors,  # noqa: F401  (its reads are planned once per connection after migrate)
        )

        post_migrate.connect(install_planned_once, sender=self, dispatch_uid="tokens-planned-once")
