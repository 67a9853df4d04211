"""The flag rules applied, and whether the next run start applies others, on the dashboard and in the Django
admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from colorreview.models import FlagRules
from colorreview.services.rejudge import current_flag_rules, rules_changed, rules_fingerprint
from colorreview.templatetags.colorreview import flag_rules_words

pytestmark = pytest.mark.django_db

#: a model card whose shade flags are confirmed for Blue and Red, and that knows Teal and Turquoise Blue as
#: colours the classifier does not name
CARD = {"rule": "tag", "impute": {"threshold": 0.64}, "mislabel": {"threshold": 0.86},
        "shade_families": {"families": {"Red": 0.75, "Blue": 0.75}},
        "outside": {"colours": {"Turquoise Blue": 0.75, "Teal": 0.75}}}
IN_WORDS = ("imputations at P(colour right) ≥ 64%, mislabel flags at P(tag wrong) ≥ 86% with the likeliest colour "
            "of another family; shade flags in Blue (P(tag wrong) ≥ 75%), Red (≥ 75%); colours the classifier does "
            "not name: Teal, Turquoise Blue (garment ≥ 75%)")


@pytest.fixture
def card(settings, monkeypatch):
    """The model card's calibration is ``card["now"]``; no setting overrides it."""
    settings.COLORREVIEW_IMPUTE_THRESHOLD = settings.COLORREVIEW_MISLABEL_THRESHOLD = None
    settings.COLORREVIEW_FLAG_RULE = settings.COLORREVIEW_SHADE_THRESHOLD = None
    settings.COLORREVIEW_SHADE_SUGGESTIONS = None
    holder = {"now": CARD}
    monkeypatch.setattr("colorreview.services.suggestions._card_calibration", lambda: holder["now"])
    return holder


def _applied(rules: dict, products: int = 120, changed: int = 7, day: int = 3) -> FlagRules:
    return FlagRules.objects.create(fingerprint=rules_fingerprint(rules), rules=rules, products=products,
                                    changed=changed, applied_at=datetime(2025, 3, day, 9, 30, tzinfo=UTC))


def _section(client) -> str:
    page = client.get("/").content.decode()
    return page[page.index('id="flag-rules"'):page.index("</section>", page.index('id="flag-rules"'))]


def test_flag_rules_read_in_words(card):
    assert flag_rules_words(current_flag_rules()) == IN_WORDS
    family = {"rule": "family", "impute": 0.8, "mislabel": 0.925, "shade": 0.9,
              "outside": {"Teal": 0.75, "Mustard": 0.8, "Turquoise Blue": 0.75}}
    assert flag_rules_words(family) == (
        "imputations at P(colour right) ≥ 80%, mislabel flags at P(the tag's colour family wrong) ≥ 92.5%; shade "
        "flags in every family (P(tag wrong) ≥ 90%); colours the classifier does not name: Mustard (garment ≥ 80%), "
        "Teal, Turquoise Blue (≥ 75%)")
    assert flag_rules_words({"rule": "confident", "impute": 0.8, "mislabel": 0.5}).endswith(
        "another colour above its own threshold; no shade flags")


def test_the_dashboard_says_which_flag_rules_were_applied_and_what_that_did(client, curator, card):
    _applied(current_flag_rules(), products=1, changed=7, day=1)
    _applied(current_flag_rules(), products=120, changed=1)  # the last applied
    client.force_login(curator)
    section = _section(client)
    assert "Flag rules applied 2025-03-03 09:30: 120 products judged again, 1 suggestion changed." in section
    assert IN_WORDS[0].upper() + IN_WORDS[1:] + "." in section
    assert not rules_changed() and "next run start" not in section


def test_the_dashboard_says_the_next_run_start_judges_again_when_the_rules_in_force_differ(client, curator, card):
    _applied(current_flag_rules())
    card["now"] = {**CARD, "shade_families": {"families": {"Blue": 0.8}}, "outside": {}}
    client.force_login(curator)
    section = _section(client)
    assert rules_changed() and "shade flags in Blue (P(tag wrong) ≥ 75%), Red (≥ 75%)" in section  # those applied
    changed = section[section.index('id="flag-rules-changed"'):]
    assert "The flag rules in force differ from these (model card or settings)" in changed
    assert "shade flags in Blue (P(tag wrong) ≥ 80%). The next run start will judge the products again." in changed
    assert "Teal" not in changed


def test_the_dashboard_says_when_no_flag_rules_were_applied_yet(client, curator, card):
    client.force_login(curator)
    section = _section(client)
    assert "No flag rules applied yet." in section
    assert f"The flag rules in force: {IN_WORDS}. The next run start will judge the products again." in section


def test_the_dashboard_reads_the_flag_rules_in_the_same_queries_however_many_were_applied(client, curator, card):
    _applied(current_flag_rules())
    client.force_login(curator)
    client.get("/")  # the summary is computed once, on the first view
    with CaptureQueriesContext(connection) as one:
        client.get("/")
    for day in range(4, 30):
        _applied({**current_flag_rules(), "mislabel": day / 100}, day=day)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_django_admin_shows_the_flag_rules_applied_read_only(client, admin_user, card):
    admin_user.is_staff = True  # as `assign_role USER admin` leaves it
    admin_user.save()
    applied = _applied(current_flag_rules())
    client.force_login(admin_user)
    listed = client.get("/admin/colorreview/flagrules/").content.decode()
    assert "Turquoise Blue (garment ≥ 75%)" in listed and ">120<" in listed
    page = client.get(f"/admin/colorreview/flagrules/{applied.pk}/change/")
    assert page.status_code == 200 and applied.fingerprint in page.content.decode()
    assert "<title>flag rules applied 2025-03-03 09:30 | View flag rules" in page.content.decode()
    assert b'name="products"' not in page.content and b'name="_save"' not in page.content
    assert client.get("/admin/colorreview/flagrules/add/").status_code == 403
    assert client.post(f"/admin/colorreview/flagrules/{applied.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/colorreview/flagrules/{applied.pk}/change/", {"products": "1"}).status_code == 403
    assert FlagRules.objects.get().products == 120
