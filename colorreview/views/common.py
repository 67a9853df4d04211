from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from .. import roles
from ..selectors import TEXT_FILTER_MAX


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


def redirect_back(request, fallback: str) -> HttpResponseRedirect:
    """Back to the page the request came from when it is one of this site's pages, else to ``fallback``."""
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = resolve_url(fallback)
    return HttpResponseRedirect(target)


def query_without_page(request) -> str:
    """The request's query string without ``page``, for paging links that carry the filters once."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def text_param(request, name: str) -> str | None:
    """A text filter of the query string, cut to ``TEXT_FILTER_MAX`` characters (with a word) if longer."""
    value = request.GET.get(name) or None
    if value and len(value) > TEXT_FILTER_MAX:
        messages.warning(request, f"The filter '{name}' was cut to its first {TEXT_FILTER_MAX} characters.")
        value = value[:TEXT_FILTER_MAX]
    return value
