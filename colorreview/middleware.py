"""Request guards that must act before Django reads a request body."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme


class UploadLimitMiddleware:
    """Refuse a request whose declared body is over the upload limit, before any of it is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.COLORREVIEW_MAX_UPLOAD_BYTES
        if length > limit:
            message = (f"The upload is {length / 2**20:,.1f} MB; the limit is {limit / 2**20:,.1f} MB. "
                       "Split the catalogue, or import it on the server with python manage.py import_catalog.")
            html = render_to_string("forbidden.html", {"message": message, "title": "Upload too large"},
                                    request=request)
            return HttpResponse(html, status=413)
        return self.get_response(request)


class LoginRedirectMiddleware:
    """A request sent after the session ended that the sign-in page could not send back to as it is. A page
    fragment sends the whole window to the sign-in page (instead of the sign-in page being swapped into the
    fragment's place); a form sent with POST (or another method than GET) comes back, after signing in, to
    the page the form was on, since a GET of the URL it was sent to would be refused. Either way the sign-in
    page says that what was just done was not saved."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        login = resolve_url(settings.LOGIN_URL)
        if not _asks_to_sign_in(response, login):
            return response
        if request.headers.get("HX-Request"):
            redirect = HttpResponse(status=200)
            redirect["HX-Redirect"] = _sign_in_url(login, _local_path(request.headers.get("HX-Current-URL", "")))
            return redirect
        if request.method in ("GET", "HEAD"):
            return response
        return HttpResponseRedirect(_sign_in_url(login, _form_page(request)))


def _asks_to_sign_in(response, login: str) -> bool:
    """A redirect to the sign-in page that carries the page to come back to (signing out redirects there too,
    without one)."""
    if response.status_code not in (301, 302):
        return False
    target = urlsplit(response.get("Location", ""))
    return target.path == login and REDIRECT_FIELD_NAME in parse_qs(target.query)


def _sign_in_url(login: str, here: str) -> str:
    return f"{login}?{urlencode({REDIRECT_FIELD_NAME: here, 'expired': '1'})}"


def _local_path(url: str) -> str:
    """The path and query of ``url``, "/" when it has no path."""
    page = urlsplit(url)
    return page.path + (f"?{page.query}" if page.query else "") if page.path.startswith("/") else "/"


def _form_page(request) -> str:
    """The page a form was sent from: its Referer when that is one of this site's pages, else the dashboard."""
    referer = request.headers.get("Referer", "")
    here = _local_path(referer) if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()) else ""
    return here if url_has_allowed_host_and_scheme(here, allowed_hosts=None) else resolve_url("dashboard")
