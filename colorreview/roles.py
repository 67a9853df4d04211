"""The three reviewer roles and what each may do.

curator: reviews mislabel flags. merchandiser: approves imputed colours (also in bulk).
admin: everything, including import, pipeline runs and export. A user without a role
(an outsider) may sign in but sees nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

CURATOR, MERCHANDISER, ADMIN = "curator", "merchandiser", "admin"
ROLES = (CURATOR, MERCHANDISER, ADMIN)

#: suggestion kind -> roles that may decide it
DECIDERS = {"mislabel": {CURATOR, ADMIN}, "impute": {MERCHANDISER, ADMIN}}


class RoleError(PermissionError):
    """The user's role does not allow this action."""


def roles_of(user: AbstractBaseUser | AnonymousUser | None) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    cached = getattr(user, "_colorreview_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._colorreview_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def can_decide(user, kind: str) -> bool:
    return bool(roles_of(user) & DECIDERS.get(kind, set()))


def require(user, *roles: str, action: str) -> None:
    if not has_role(user, *roles):
        raise RoleError(f"{action} needs the role {' or '.join(roles)}")


def require_decider(user, kind: str) -> None:
    if not can_decide(user, kind):
        allowed = " or ".join(sorted(DECIDERS.get(kind, set())))
        raise RoleError(f"deciding {kind} suggestions needs the role {allowed}")
