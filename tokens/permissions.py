"""Each private endpoint names the one permission code it needs (SPEC §3)."""

from rest_framework.permissions import BasePermission

from bfluence.errors import InsufficientScope


def requires_permission(required_code: str) -> type[BasePermission]:
    """A DRF permission class: authenticated (else 401) and holding ``code`` (else 403 insufficient_scope)."""

    class RequiresPermission(BasePermission):
        code = required_code  # the OpenAPI schema lists it (tokens/schema.py)

        def has_permission(self, request, view) -> bool:
            principal = request.user
            if not getattr(principal, "is_authenticated", False):
                return False
            if not principal.has_permission(self.code):
                raise InsufficientScope(needed=self.code)
            return True

    RequiresPermission.__name__ = RequiresPermission.__qualname__ = f"Requires[{required_code}]"
    return RequiresPermission
