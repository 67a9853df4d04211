"""A cursor for the API's lists: keyset pages in each list's own order, no COUNT and no OFFSET."""

from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from ..paging import decode_cursor, keyset_page


class KeysetCursorPagination(BasePagination):
    """``?cursor=`` from a previous answer's ``next`` or ``previous``; a view names its order in
    ``keyset_ordering`` (the last field unique)."""

    page_size = 50
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        ordering = list(getattr(view, "keyset_ordering", ["-id"]))
        self.request = request
        cursor = request.query_params.get(self.cursor_query_param)
        decoded = decode_cursor(cursor)
        if cursor and (decoded is None or len(decoded[1]) != len(ordering)):  # as DRF's own cursors answer
            raise NotFound("Invalid cursor: take next, previous or first from an answer of this list")
        self.page = keyset_page(queryset, ordering=ordering, size=self.page_size, cursor=cursor)
        return self.page.items

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response({"next": self._link(self.page.next_cursor), "previous": self._link(self.page.prev_cursor),
                         "first": remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param),
                         "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {"type": "object", "required": ["results"],
                "properties": {"next": link, "previous": link, "first": link, "results": schema}}
