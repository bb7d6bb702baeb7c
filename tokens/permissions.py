"""Each private endpoint names the one permission code it needs (SPEC §3)."""

from rest_framework.permissions import BasePermission

from bfluence.errors import InsufficientScope


def requires_permission(code: str) -> type[BasePermission]:
    """A DRF permission class: authenticated (else 401) and holding ``code`` (else 403 insufficient_scope)."""

    class RequiresPermission(BasePermission):
        def has_permission(self, request, view) -> bool:
            principal = request.user
            if not getattr(principal, "is_authenticated", False):
                return False
            if not principal.has_permission(code):
                raise InsufficientScope(needed=code)
            return True

    RequiresPermission.__name__ = RequiresPermission.__qualname__ = f"Requires[{code}]"
    RequiresPermission.code = code
    return RequiresPermission
