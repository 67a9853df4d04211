"""Throttles that also count the requests refused before them. DRF checks a view's throttles after its
authentication and permissions, so a caller with a wrong token, or without credentials or a role, was never
throttled: a token could be guessed as fast as the server answers. Here such a refusal is counted against the
view's throttles (the anonymous rate by address, the user rate by account) and, over the rate, answered 429."""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied, Throttled
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

#: set on a request once its view's throttles have counted it
CHECKED = "_colorreview_throttles_checked"


class _Counted:
    def allow_request(self, request, view) -> bool:
        setattr(request, CHECKED, True)
        return super().allow_request(request, view)


class AnonThrottle(_Counted, AnonRateThrottle):
    """The anonymous rate (``anon``), by client address; refusals before the throttles count too."""


class UserThrottle(_Counted, UserRateThrottle):
    """The rate of a signed-in caller (``user``), by account; refusals before the throttles count too."""


def exception_handler(exc, context):
    """DRF's handler, after counting a refusal of authentication or permission that came before the view's
    throttles against them: over the rate it becomes a 429 that says when to try again."""
    request, view = context.get("request"), context.get("view")
    refused_early = isinstance(exc, (AuthenticationFailed, NotAuthenticated, PermissionDenied))
    if refused_early and request is not None and view is not None and not getattr(request, CHECKED, False):
        try:
            view.check_throttles(request)
        except Throttled as throttled:
            exc = throttled
    return drf_exception_handler(exc, context)
