from django.apps import AppConfig


class BfluenceConfig(AppConfig):
    name = "bfluence"
    verbose_name = "Bfluence"

    def ready(self) -> None:
        from bfluence import checks  # noqa: F401  (registers the deployment checks)
