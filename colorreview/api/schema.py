"""What the OpenAPI schema says of every operation alike, added once the views' own answers are in."""

from __future__ import annotations

import copy

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
    return result
