from __future__ import annotations

from rest_framework.permissions import BasePermission

from .. import roles


class HasRole(BasePermission):
    """Signed in (session or token) and holding at least one reviewer role."""

    message = "this account has no ColorReview role (curator, merchandiser or admin)"

    def has_permission(self, request, view) -> bool:
        return bool(roles.roles_of(request.user))


class IsAdminRole(BasePermission):
    message = "this needs the admin role"

    def has_permission(self, request, view) -> bool:
        return roles.has_role(request.user, roles.ADMIN)
