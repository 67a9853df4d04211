from __future__ import annotations

from django import template

from ..models import ColorName

register = template.Library()


@register.simple_tag(takes_context=True)
def color_hex(context, name: str) -> str:
    """Reference hex of a vocabulary colour (cached per request), grey when unknown."""
    request = context.get("request")
    cache = getattr(request, "_color_hex", None) if request else None
    if cache is None:
        cache = dict(ColorName.objects.values_list("name", "hex"))
        if request is not None:
            request._color_hex = cache
    return cache.get(name, "#cccccc")


@register.filter
def pct(value) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "—"
