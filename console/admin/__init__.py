"""The staff console's admin registrations (Django's autodiscovery imports this package)."""

from console.admin import (  # noqa: F401  (each module registers its screens)
    client_auth,
    communities,
    credentials,
    notifications,
    staff,
)
