"""Judging every product again when the flag rules change and the model does not: a model card shipped with
other thresholds, rule, shade families or outside colours (or settings that override them). Each product is
judged from its latest reading; no image is read again."""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..models import FlagRules, Product, Suggestion
from . import suggestions
from .suggestions import active_thresholds, flag_rules, latest_pairs, products_lock, suggestions_refresh_batch

log = logging.getLogger(__name__)

#: products judged again per transaction
REJUDGE_BATCH = 2000
#: a rejudge queued for the same rules is not queued again for this long (seconds)
QUEUED_FOR = 15 * 60
#: the PostgreSQL advisory lock of a pass over every product
LOCK_KEY = 0x636F6C72  # "colr"
#: what the history says of a suggestion the new rules no longer make
WHY = "the flag rules changed"


def current_flag_rules() -> dict:
    """The global flag rules now, as plain JSON: what the suggestions read from the model card's calibration
    (thresholds, rule, per-colour thresholds, shade flags, outside colours; not its curves or figures), as
    the settings leave it. Per-category thresholds are not in it: changing one re-judges its category."""
    calibration = suggestions._card_calibration()
    return json.loads(json.dumps(asdict(flag_rules(active_thresholds(calibration), calibration)), sort_keys=True))


def rules_fingerprint(rules: dict) -> str:
    return hashlib.sha256(json.dumps(rules, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Rejudged:
    """What judging every product again did; ``reason``: "changed", "first" (no rules recorded before) or
    "forced" (the same rules, judged again on demand)."""

    products: int
    opened: int
    withdrawn: int
    replaced: int
    reason: str

    @property
    def changed(self) -> int:
        return self.opened + self.withdrawn + self.replaced

    def __str__(self) -> str:
        lead = {"changed": "the flag rules changed (model card or settings)",
                "first": "the flag rules were not recorded yet",
                "forced": "judged again under the same flag rules"}[self.reason]
        detail = (f" ({self.opened} opened, {self.withdrawn} withdrawn, {self.replaced} replaced)"
                  if self.changed else "")
        return f"{lead}: {self.products} products judged again, {self.changed} suggestions changed{detail}"


@dataclass(frozen=True)
class RulesState:
    """The flag rules applied last (None: never) and those in force now."""

    applied: FlagRules | None
    in_force: dict

    @property
    def changed(self) -> bool:
        """Whether the rules in force differ from those applied last: the next run start applies them."""
        return self.applied is None or self.applied.fingerprint != rules_fingerprint(self.in_force)


def flag_rules_state() -> RulesState:
    return RulesState(FlagRules.objects.first(), current_flag_rules())


def suggestions_rejudge_all(*, batch: int = REJUDGE_BATCH, state: RulesState | None = None) -> Rejudged:
    """Bring every product's open suggestion in line with the flag rules now, from its latest reading, a
    ``batch`` of products a transaction; record the rules unless they are those recorded last. What people
    decided stays decided (see ``suggestions_refresh_batch``). A second call changes nothing. ``state``: the
    rules' state, when the caller read it already."""
    state = state or flag_rules_state()
    counts, last = [0, 0, 0, 0], 0
    while ids := list(Product.objects.filter(pk__gt=last, archived_at__isnull=True).exclude(image_checksum="")
                      .order_by("pk").values_list("pk", flat=True)[:batch]):
        counts = [a + b for a, b in zip(counts, _rejudge_batch(ids))]
        last = ids[-1]
    reason = "first" if state.applied is None else "changed" if state.changed else "forced"
    if reason != "forced":
        FlagRules.objects.create(fingerprint=rules_fingerprint(state.in_force), rules=state.in_force,
                                 applied_at=timezone.now(), products=counts[0], changed=sum(counts[1:]))
    result = Rejudged(*counts, reason=reason)
    if result.products or result.reason != "first":  # a new database has nothing to judge: nothing to say
        log.info("%s", result)
    return result


def rules_changed() -> bool:
    """Whether the flag rules differ from those recorded last (or none are recorded)."""
    return flag_rules_state().changed


def suggestions_rejudge_if_changed() -> Rejudged | None:
    """``suggestions_rejudge_all`` when the flag rules changed (see ``rules_changed``); None when they did not,
    or when another process is judging every product already (one at a time, on PostgreSQL)."""
    with _alone() as alone:
        state = flag_rules_state() if alone else None
        return suggestions_rejudge_all(state=state) if state and state.changed else None


@contextmanager
def _alone():
    """On PostgreSQL, a session advisory lock: True when this process holds it, False when another does (whose
    pass judges the products by the same rules). Other databases write one transaction at a time: True."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def suggestions_rejudge_later() -> bool:
    """Queue ``suggestions_rejudge_all`` as a background job when the flag rules changed: a run start over the
    whole catalogue answers at once, whatever its size. True when queued. A broker that cannot be reached is
    only logged: the rules stay unrecorded, so the next run start tries again."""
    from ..tasks import rejudge_suggestions
    from .queue import QueueUnavailable, send

    state = flag_rules_state()
    if not state.changed:
        return False
    # once per set of rules applied last (each application is a new row) and rules in force
    applied = state.applied.pk if state.applied else ""
    queued = f"colorreview:rejudge-queued:{applied}:{rules_fingerprint(state.in_force)}"
    if not cache.add(queued, True, QUEUED_FOR):  # queued already for these rules (another start, a click again)
        return False
    try:
        send(rejudge_suggestions, on_failure=lambda exc: cache.delete(queued))
    except QueueUnavailable as exc:
        log.warning("flag rules changed, not judged again yet: %s", exc)
        return False
    return True


def _rejudge_batch(ids: list[int]) -> tuple[int, int, int, int]:
    """(products judged, suggestions opened, withdrawn, replaced) of one batch of product ids."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                # locked first, as a worker storing a reading locks them: the readings read next are the newest
                products_lock(ids)
                pairs = latest_pairs(ids)
                before = _pending(ids)
                suggestions_refresh_batch(pairs=pairs, why=WHY)
                after = _pending(ids)
            break
        except IntegrityError:  # a worker opened a suggestion for one of them meanwhile: judge them again
            if attempt == 2:
                raise
    replaced = sum(1 for pk in before.keys() & after.keys() if before[pk] != after[pk])
    return len(pairs), len(after.keys() - before.keys()), len(before.keys() - after.keys()), replaced


def _pending(product_ids: list[int]) -> dict[int, int]:
    """Product id -> id of its open suggestion."""
    return dict(Suggestion.objects.filter(product_id__in=product_ids, status=Suggestion.Status.PENDING)
                .values_list("product_id", "id"))
