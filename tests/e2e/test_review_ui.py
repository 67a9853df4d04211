"""End-to-end: reviewers use the real UI in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import predict_products
from tests.conftest import DEMO, ROOT
from tests.e2e.conftest import login as _login
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ARTIFACTS = ROOT / "test-results"


@pytest.fixture
def catalogue(tmp_path, thresholds):
    thresholds.COLORREVIEW_IMPUTE_THRESHOLD = 0.5
    for role in ("curator", "merchandiser", "admin"):
        UserFactory(username=role, password="pw", roles=[role])
    csv_path = tmp_path / "catalog.csv"
    csv_path.write_text("sku,title,category,image,seller_color\n"
                        f"E1,Polo,Tshirts,{DEMO / 'images/19557.jpg'},Red\n"
                        f"E2,Shirt,Shirts,{DEMO / 'images/13760.jpg'},\n")
    import_catalog(csv_bytes=csv_path.read_bytes(), source_name="catalog.csv", csv_dir=tmp_path)
    predict_products(product_ids=list(Product.objects.values_list("pk", flat=True)))
    return Suggestion.objects.get(product__sku="E1"), Suggestion.objects.get(product__sku="E2")


def test_reviewers_decide_in_the_browser(live_server, browser, catalogue):
    mislabel, imputation = catalogue
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)

    _login(page, base, "curator")
    page.goto(f"{base}/review/?kind=mislabel")
    card = page.locator(f"#suggestion-{mislabel.pk}")
    assert "Should be" in card.inner_text() and card.locator("img.mask").count() == 1
    page.evaluate("window.__noReload = 'still here'")
    card.get_by_role("button", name="Accept").click()
    assert "Accepted by curator" in page.locator(f"#suggestion-{mislabel.pk} .decided").inner_text()
    assert page.evaluate("window.__noReload") == "still here"  # swapped by HTMX, no page load
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()

    _login(page, base, "merchandiser")
    page.goto(f"{base}/imputations/")
    page.check(f"input[name=ids][value='{imputation.pk}']")
    page.get_by_role("button", name="Approve selected").click()
    page.get_by_role("button", name="Approve 1").click()  # after the count is shown
    page.locator("#bulk-result").wait_for()
    assert "Accepted 1" in page.locator("#bulk-result").inner_text()
    # the list and the recent batches are read again: the approved row leaves, the batch is listed
    page.locator(f"#bulk-list input[name=ids][value='{imputation.pk}']").wait_for(state="detached")
    page.locator("#recent-approvals").get_by_text("1 accepted").wait_for()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Undo this batch").click()
    page.locator(f"#bulk-list input[name=ids][value='{imputation.pk}']").wait_for()  # back in the list
    page.locator("#recent-approvals").get_by_text("undone (1 back in the queue)").wait_for()
    page.check(f"input[name=ids][value='{imputation.pk}']")
    page.get_by_role("button", name="Approve selected").click()
    page.get_by_role("button", name="Approve 1").click()
    page.locator("#bulk-result").wait_for()
    page.get_by_role("button", name="Sign out").click()

    _login(page, base, "admin")
    page.get_by_role("link", name="Export", exact=True).click()
    page.get_by_label("Suggestion", exact=True).select_option("impute")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.url.endswith("/export.csv?kind=impute&status=&category=&changed=&archived=exclude&bom=1")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeffsku,")  # the page's file is made for Excel
    assert [r["sku"] for r in csv.DictReader(io.StringIO(text[1:]))] == ["E2"]
    page.get_by_label("Suggestion", exact=True).select_option("")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = {r["sku"]: r for r in csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig")))}

    assert Suggestion.objects.get(pk=mislabel.pk).status == "accepted"
    assert ReviewEvent.objects.filter(action="accept").count() == 3  # the imputation accepted, undone, accepted
    assert (rows["E1"]["review_status"], rows["E1"]["final_color"], rows["E1"]["reviewed_by"]) == \
        ("accepted", mislabel.suggested_color, "curator")
    assert (rows["E2"]["suggestion"], rows["E2"]["final_color"]) == ("impute", imputation.suggested_color)


def test_enter_in_the_percentage_box_approves_by_threshold(live_server, browser, catalogue):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server.url, "merchandiser")
    page.goto(f"{live_server.url}/imputations/")
    box = page.get_by_label("lowest confidence to approve, in %")
    box.fill("1")
    box.press("Enter")
    page.locator("#bulk-confirm").wait_for()
    text = page.locator("#bulk-confirm-text").inner_text()
    assert "at or above 1%" in text and "selected" not in text


def test_an_outsider_sees_nothing(live_server, browser, catalogue):
    UserFactory(username="nobody", password="pw")
    page = browser.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    assert "no role yet" in page.content()
    page.goto(f"{live_server.url}/review/")
    assert page.locator("#forbidden").count() == 1


def test_the_queue_can_be_worked_from_the_keyboard(live_server, browser, catalogue):
    mislabel, imputation = catalogue
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("j")  # focus the first card: the most certain suggestion
    first = page.evaluate("document.activeElement.id")
    page.keyboard.press("r")
    page.locator(f"#{first} .decided").wait_for()
    assert "Rejected by admin" in page.locator(f"#{first}").inner_text()
    decided = Suggestion.objects.get(pk=int(first.split("-")[1]))
    assert decided.status == "rejected" and decided.pk in (mislabel.pk, imputation.pk)


def test_a_note_written_from_the_keyboard_goes_with_the_decision_the_next_key_takes(live_server, browser, catalogue):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("j")
    card = page.evaluate("document.activeElement.id")
    page.keyboard.press("n")
    page.keyboard.type("checked on the sample")
    page.keyboard.press("Escape")  # back to the card: the next key decides it, not the note
    assert page.evaluate("document.activeElement.id") == card
    page.keyboard.press("a")
    page.locator(f"#{card} .decided").wait_for()
    decided = Suggestion.objects.get(pk=int(card.split("-")[1]))
    assert decided.status == "accepted"
    assert decided.events.get(action="accept").note == "checked on the sample"


def test_a_bulk_approval_cancelled_leaves_the_ticks_and_the_percentage_as_they_were(live_server, browser, catalogue):
    _, imputation = catalogue
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server.url, "merchandiser")
    page.goto(f"{live_server.url}/imputations/")
    page.get_by_label("select E2").check()
    page.get_by_role("button", name="Approve selected").click()
    page.locator("#bulk-confirm").wait_for()
    assert page.get_by_label("select E2").is_checked()  # kept under the confirmation
    page.locator("#bulk-confirm").get_by_role("link", name="Cancel").click()
    page.locator("#bulk-confirm").wait_for(state="detached")
    assert page.get_by_label("select E2").is_checked()
    assert Suggestion.objects.get(pk=imputation.pk).status == "pending"


def test_the_products_list_applies_a_filter_as_soon_as_it_is_chosen(live_server, browser, catalogue):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/products/")
    with page.expect_navigation():
        page.get_by_label("Open suggestion").select_option("impute")
    assert "open=impute" in page.url
    rows = page.locator("table.bulk tbody").inner_text()
    assert "E2" in rows and "E1" not in rows
