from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.template.loader import render_to_string

from .. import roles


def role_required(*allowed: str):
    """Login required, and one of ``allowed`` roles (403 with a readable page otherwise)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not roles.has_role(request.user, *allowed):
                return forbidden(request, f"This page needs the role {' or '.join(allowed)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def forbidden(request, message: str) -> HttpResponseForbidden:
    html = render_to_string("forbidden.html", {"message": message}, request=request)
    return HttpResponseForbidden(html)


ANY_ROLE = roles.ROLES
