from __future__ import annotations

import math

from django import template

from ..models import ColorName, Product

register = template.Library()


def _colors(context) -> dict[str, tuple[str, bool]]:
    """Every vocabulary colour's hex and whether it is active, read once per request."""
    request = context.get("request")
    cache = getattr(request, "_colors", None) if request else None
    if cache is None:
        cache = {name: (hex_, active) for name, hex_, active in ColorName.objects.values_list("name", "hex", "active")}
        if request is not None:
            request._colors = cache
    return cache


@register.simple_tag(takes_context=True)
def color_hex(context, name: str) -> str:
    """Reference hex of a vocabulary colour (cached per request), grey when unknown."""
    return _colors(context).get(name, ("#cccccc", False))[0]


@register.filter
def pct(value, digits: int = 0) -> str:
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def percent_number(value) -> str:
    """A probability as the percentage an admin typed, without rounding it away (0.925 -> 92.5): a form that
    sends it back unchanged changes nothing."""
    try:
        return f"{float(value) * 100:.6f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return ""


@register.filter
def pct_down(value, digits: int = 1) -> str:
    """A percentage cut (not rounded) to ``digits`` decimals: a threshold typed as shown selects the row."""
    try:
        scale = 10 ** int(digits)
        return f"{math.floor(float(value) * 100 * scale + 1e-6) / scale:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter(name="sure")
def _sure(p: float) -> str:
    """A probability in words that never rounds to a false certainty (0.9996 is not 100%)."""
    if p >= 0.9995:
        return "over 99.9%"
    if p < 0.0005:
        return "under 0.1%"
    return f"{p * 100:.1f}%" if p > 0.99 or p < 0.01 else f"{p * 100:.0f}%"


@register.simple_tag
def flag_reason(s) -> str:
    """Why a suggestion is in the queue, in a curator's words: what the flag rests on and the rule
    and threshold that raised it."""
    rule = f" It is shown because that reaches the threshold of {pct(s.threshold)}." if s.threshold is not None else ""
    if s.kind == "impute":
        return (f"The seller gave no usable colour. The model is {_sure(s.confidence)} sure the garment is "
                f"{s.suggested_color}.{rule}")
    probabilities = s.prediction.probabilities or {}
    if s.severity == "shade":
        own = probabilities.get(s.seller_color)
        gives = f" and gives {s.seller_color} only {_sure(own)}" if own is not None else ""
        return (f"The tag names another shade of the same colour family: the model reads {s.suggested_color} at "
                f"{_sure(s.confidence)}{gives}.{rule}")
    if probabilities and s.suggested_color not in probabilities:  # a colour only the KD-tree names
        return (f"{pct(s.score)} of the garment reads as {s.suggested_color}, a colour the classifier does not name "
                f"and sellers tag as different colours, so a {s.seller_color} tag is likely wrong (the classifier "
                f"reads {s.prediction.predicted_color}).{rule}")
    tag_family = s.product.seller_color.family if s.product.seller_color_id else s.seller_color
    reads = f"reads {s.suggested_color} at {pct(s.confidence)}.{rule}"
    own = probabilities.get(s.seller_color)
    if own is not None:  # one of the colours the classifier names
        return (f"{_sure(s.score)} probability that the tag is wrong: the model gives {s.seller_color} only "
                f"{_sure(own)}, and {reads}")
    return (f"{_sure(s.score)} probability that the tag is wrong: the model does not name {s.seller_color} itself, "
            f"so the tag is judged by its family; it gives only {_sure(1 - s.score)} to any {tag_family} colour, "
            f"and {reads}")


@register.simple_tag(takes_context=True)
def alternatives(context, s, limit: int = 2) -> list[tuple[str, float]]:
    """The colours the model reads next after the suggested one, for a one-click correction: at most ``limit``,
    each at 10% or more, never the seller's tag, nor a colour an admin took out of the vocabulary (a
    correction to it would be refused)."""
    colors = _colors(context)
    probabilities = s.prediction.probabilities or {}
    others = [(c, p) for c, p in probabilities.items()
              if c not in (s.suggested_color, s.seller_color) and p >= 0.10 and colors.get(c, ("", False))[1]]
    return sorted(others, key=lambda item: -item[1])[:int(limit)]


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def split(value: str) -> list[str]:
    return value.split()


@register.filter
def duration_words(value) -> str:
    """A timedelta in words: 15 minutes, 1 hour, 1 hour 30 minutes, 45 seconds."""
    seconds = int(value.total_seconds()) if hasattr(value, "total_seconds") else int(value or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, "hour"), (minutes, "minute")] + ([(seconds, "second")] if not hours and not minutes else [])
    return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n) or "a moment"


@register.filter
def swatches(dominant_colors, limit: int = 3) -> list[dict]:
    """The first dominant colours, each with a label: its catalogue colour, and its finer name where two
    of them share a catalogue colour (two shades of purple read "Purple (indigo)", "Purple (orchid)"); clusters
    of the same named colour make one swatch."""
    merged: dict[tuple, dict] = {}  # two clusters of one named colour are one swatch, their shares added
    for d in dominant_colors or []:
        key = (d.get("color"), d.get("name"))
        if key in merged:
            merged[key] = {**merged[key], "fraction": (merged[key].get("fraction") or 0) + (d.get("fraction") or 0)}
        else:
            merged[key] = dict(d)
    shown = sorted(merged.values(), key=lambda d: -(d.get("fraction") or 0))[:limit]
    repeated = {c for c in (d.get("color") for d in shown) if sum(d.get("color") == c for d in shown) > 1}
    return [{**d, "label": f"{d.get('color')} ({d.get('name')})" if d.get("color") in repeated and d.get("name")
             else d.get("color")} for d in shown]


@register.filter
def product_state(value: str) -> str:
    """A product state's words ("waiting for the pipeline", "no prediction"), not its stored key."""
    return dict(Product.Status.choices).get(value, value)


#: when a mislabel rule flags a tag, in words (see ``inference.suggest.Thresholds``)
MISLABEL_WORDS = {"family": "P(the tag's colour family wrong) {at}",
                  "tag": "P(tag wrong) {at} with the likeliest colour of another family",
                  "confident": "P(tag wrong) {at} with another colour above its own threshold"}


def _at_least(value) -> str:
    return f"≥ {percent_number(value)}%"


@register.filter
def flag_rules_words(rules) -> str:
    """Flag rules (``FlagRules.rules``, as ``current_flag_rules()`` gives them) in words: the thresholds and the
    rule, which colour families get shade flags, and the colours the classifier does not name that a garment's
    dominant colours flag."""
    rules = rules or {}
    rule = MISLABEL_WORDS.get(rules.get("rule"), MISLABEL_WORDS["family"])
    mislabel = rule.format(at=_at_least(rules.get("mislabel")))
    parts = [f"imputations at P(colour right) {_at_least(rules.get('impute'))}, mislabel flags at {mislabel}",
             _shade_words(rules)]
    if rules.get("outside"):
        parts.append(_outside_words(rules["outside"]))
    return "; ".join(parts)


def _shade_words(rules: dict) -> str:
    if rules.get("shade") is not None:
        return f"shade flags in every family (P(tag wrong) {_at_least(rules['shade'])})"
    if not rules.get("shade_families"):
        return "no shade flags"
    families = sorted(rules["shade_families"].items())
    return "shade flags in " + ", ".join(
        f"{name} ({'P(tag wrong) ' if i == 0 else ''}{_at_least(t)})" for i, (name, t) in enumerate(families))


def _outside_words(outside: dict[str, float]) -> str:
    """The colours named with the share of the garment each needs, those that need the same share together."""
    by_share: dict[float, list[str]] = {}
    for name, share in sorted(outside.items()):
        by_share.setdefault(share, []).append(name)
    return "colours the classifier does not name: " + ", ".join(
        f"{', '.join(names)} ({'garment ' if i == 0 else ''}{_at_least(share)})"
        for i, (share, names) in enumerate(by_share.items()))
