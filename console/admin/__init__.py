"""The staff console's admin registrations (Django's autodiscovery imports this package)."""

from console.admin import client_auth, communities, credentials, notifications  # noqa: F401  (each module registers its screens)
