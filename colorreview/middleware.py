"""Request guards that must act before Django reads a request body."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string


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


class HtmxLoginRedirectMiddleware:
    """A page fragment asked for after the session ended: the whole window goes to the sign-in page (saying
    that the action was not saved), instead of the sign-in page being swapped into the fragment's place."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        login = resolve_url(settings.LOGIN_URL)
        if not request.headers.get("HX-Request") or response.status_code not in (301, 302) \
                or not response.get("Location", "").startswith(login):
            return response
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        here = page.path + (f"?{page.query}" if page.query else "") if page.path.startswith("/") else "/"
        redirect = HttpResponse(status=200)
        redirect["HX-Redirect"] = f"{login}?{urlencode({'next': here, 'expired': '1'})}"
        return redirect
