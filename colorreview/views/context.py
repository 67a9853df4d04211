from __future__ import annotations

from .. import roles


def roles_context(request) -> dict:
    user_roles = roles.roles_of(getattr(request, "user", None))
    return {
        "user_roles": sorted(user_roles),
        "is_admin_role": roles.ADMIN in user_roles,
        "can_review_mislabels": roles.can_decide(request.user, "mislabel") if hasattr(request, "user") else False,
        "can_review_imputations": roles.can_decide(request.user, "impute") if hasattr(request, "user") else False,
    }

