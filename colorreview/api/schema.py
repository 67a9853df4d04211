"""What the OpenAPI schema says of every operation alike: the refusals its view's permissions and throttles can
answer, and, once the views' own answers are in, the 401 of a request without credentials."""

from __future__ import annotations

import copy

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse

from .serializers import DetailSerializer

#: DRF's answer to a request without credentials (or with a token it does not know): the first
#: authentication class, the token, names itself in the challenge
UNAUTHENTICATED = {
    "description": "no credentials, or a token that is not valid: send `Authorization: Token <key>` or sign in",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Token"]},
                                     "description": "how to authenticate: with a token"}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}},
}


def document_unauthenticated(result: dict, generator, request, public) -> dict:
    """A drf-spectacular postprocessing hook: every operation that needs credentials (no anonymous ``{}``
    among its security requirements) lists the 401 it answers without them."""
    needing = [operation for item in result.get("paths", {}).values() for operation in item.values()
               if operation.get("security") and {} not in operation["security"]]
    for operation in needing:
        operation["responses"].setdefault("401", copy.deepcopy(UNAUTHENTICATED))
    if needing:
        result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Detail", {
            "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]})
    # the 400 of a request DRF could not validate: one component, named
    invalid = [answer["content"]["application/json"] for item in result.get("paths", {}).values()
               for operation in item.values() for code, answer in operation["responses"].items()
               if code == "400" and answer.get("content", {}).get("application/json", {}).get("schema") == INVALID]
    for content in invalid:
        content["schema"] = {"$ref": "#/components/schemas/Invalid"}
    if invalid:
        result.setdefault("components", {}).setdefault("schemas", {})["Invalid"] = copy.deepcopy(INVALID)
    # a count is only a count: no full answer of bulk-accept matches it too (its answer is one of the two)
    count = result.get("components", {}).get("schemas", {}).get("BulkCount")
    if count is not None:
        count["additionalProperties"] = False
    return result


#: DRF's answer to a request it could not validate: each field or parameter's name with its errors
INVALID = {"type": "object", "additionalProperties": {}, "description": "each field or parameter that could not be "
           "taken, with a list of what is wrong with it; `detail` or `non_field_errors` for the request as a whole"}

#: DRF's answer to a caller over its rate: the body says in how many seconds to try again, and so does the header
THROTTLED_HEADERS = {"Retry-After": {"schema": {"type": "integer"},
                                     "description": "seconds to wait before trying again"}}


class AutoSchema(openapi.AutoSchema):
    """Each operation also lists the refusals its view's own checks can answer, unless it documents them
    itself: a 403 where a permission can refuse a caller who is signed in (or sent a token), in the words
    of those permissions, and a 429 where a throttle with a rate can refuse a caller (refused or not)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, answer in (("400", self._invalid()), ("403", self._refused()), ("404", self._not_found()),
                             ("429", self._throttled())):
            if answer is not None and code not in responses:
                responses[code] = self._get_response_for_code(answer, code, ("application/json",), direction)
        if "429" in responses and not responses["429"].get("headers"):
            responses["429"]["headers"] = copy.deepcopy(THROTTLED_HEADERS)
        return responses

    def _invalid(self) -> OpenApiResponse | None:
        """A body or query parameters the operation validates: DRF's 400 names each field it could not take."""
        filters = self.method == "GET" and getattr(self.view, "filterset_class", None) and self._is_list_view()
        if not (filters or (self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None)):
            return None
        return OpenApiResponse(INVALID, description="a field or query parameter that cannot be taken: each such "
                                                    "name with what is wrong with it (or `detail` in words); "
                                                    "nothing was changed")

    def _not_found(self) -> OpenApiResponse | None:
        if "{" in self.path:
            return OpenApiResponse(DetailSerializer, description="no such item (or not one the caller may see)")
        if self.method == "GET" and self._is_list_view() and getattr(self.view, "pagination_class", None):
            return OpenApiResponse(DetailSerializer, description="a cursor that no answer of this list gave")
        return None

    def _refused(self) -> OpenApiResponse | None:
        messages = [p.message for p in self.view.get_permissions() if getattr(p, "message", None)]
        if not messages:
            return None
        return OpenApiResponse(DetailSerializer, description="signed in, or a valid token, without the role this "
                                                             "needs; the detail says which: " + "; ".join(messages))

    def _throttled(self) -> OpenApiResponse | None:
        # a caller refused for its credentials or role counts against the throttles too (``throttling``)
        if not any(getattr(t, "rate", True) for t in self.view.get_throttles()):
            return None
        return OpenApiResponse(DetailSerializer, description="too many requests: the caller is over its rate; "
                                                             "try again after Retry-After seconds")
