"""Per-category thresholds (admins) and the dashboard's charts."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render

from .. import roles
from ..services import ServiceError
from ..services.queue import QueueUnavailable, check_queue, send
from ..services.thresholds import KINDS, category_threshold_set, category_threshold_table, validation_by_category
from .common import role_required


def _percent(text: str) -> float | None:
    """'' -> None (use the global threshold); '92' -> 0.92. A number between 0 and 1 is refused: it is
    meant as a probability far more often than as a threshold under 1%."""
    text = text.strip().rstrip("%")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError as exc:
        raise ServiceError(f"'{text}' is not a percentage") from exc
    if 0 < number < 1:
        raise ServiceError(f"thresholds are percentages: {text} would be {text}%, which nearly every product "
                           f"reaches; for {number * 100:g}%, enter {number * 100:g}")
    return number / 100


@role_required(roles.ADMIN)
def thresholds(request):
    if request.method == "POST":
        category = request.POST.get("category", "").strip()
        try:
            check_queue()  # a change whose suggestions cannot be brought in line is not made
            values = {kind: _percent(request.POST.get(kind, "")) for kind in KINDS}
            with transaction.atomic():  # both thresholds of the form, or neither
                changed = [kind for kind in KINDS if category_threshold_set(
                    user=request.user, category=category, kind=kind, value=values[kind])]
        except (ServiceError, QueueUnavailable) as exc:
            messages.error(request, f"{category}: not changed: {exc}")
            return redirect("thresholds")
        if changed:
            from ..tasks import refresh_category_suggestions

            try:
                send(refresh_category_suggestions, category)
            except QueueUnavailable as exc:
                messages.warning(request, f"{category}: {' and '.join(changed)} threshold changed, but its suggestions "
                                          f"could not be brought in line: {exc}")
                return redirect("thresholds")
            messages.success(request, f"{category}: {' and '.join(changed)} threshold changed; its suggestions "
                                      "are being brought in line.")
        return redirect("thresholds")
    return render(request, "thresholds.html", {"rows": category_threshold_table(),
                                               "validation": validation_by_category()})
