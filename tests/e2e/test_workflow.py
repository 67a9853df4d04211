"""End-to-end: the review workflow by keyboard, undo, skip, the colour picker, claims between two
curators, reopening, a colour set by hand and the audit trail, on a desktop and a phone screen."""

from __future__ import annotations

import pytest

from colorreview.models import Product, ReviewEvent, Suggestion
from tests.conftest import ROOT, jpeg_bytes
from tests.e2e.conftest import login
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory, probabilities

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ARTIFACTS = ROOT / "test-results"


@pytest.fixture
def flags(settings):
    """Three mislabel flags, surest first, with real image files; the stock logins."""
    image = settings.MEDIA_ROOT / "images/aa/test.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(jpeg_bytes((40, 80, 200), size=(600, 800)))
    for role in ("curator", "merchandiser", "admin"):
        UserFactory(username=role, password="pw", roles=[role])
    UserFactory(username="curator2", password="pw", roles=["curator"])
    return [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku=f"F{i}", tag="Red"),
                                                           predicted_color="Blue"), kind="mislabel", score=score)
            for i, score in enumerate((0.99, 0.98, 0.97))]


def _page(browser, width=1400, height=900):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    return page


def _selected(page) -> str:
    return page.evaluate("document.activeElement.id")


def _wait_selected(page, suggestion, seconds=10.0) -> None:
    """Poll from outside: the page's CSP forbids the eval that wait_for_function needs."""
    for _ in range(int(seconds * 20)):
        if _selected(page) == f"suggestion-{suggestion.pk}":
            return
        page.wait_for_timeout(50)
    assert _selected(page) == f"suggestion-{suggestion.pk}"


def test_a_curator_reviews_by_keyboard_undoes_skips_and_corrects(live_server, browser, flags):
    first, second, third = flags
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/review/")
    assert _selected(page) == f"suggestion-{first.pk}"  # the surest card is selected at once
    assert "99% probability that the tag is wrong" in page.locator(f"#suggestion-{first.pk} .why").inner_text()

    page.keyboard.press("a")
    page.locator(f"#suggestion-{first.pk} .decided").wait_for()
    _wait_selected(page, second)
    assert "2 mislabel flags" in page.locator("#queue-counts").inner_text()  # the count followed
    assert page.locator("select[name=kind] option[value=mislabel]").inner_text() == "Mislabels (2)"  # and the filter's
    assert f"{first.product.sku}: Accepted by curator" in page.locator("#announce").inner_text()

    page.keyboard.press("u")
    page.locator(f"#suggestion-{first.pk} button.accept").wait_for()
    assert Suggestion.objects.get(pk=first.pk).status == "pending"
    assert _selected(page) == f"suggestion-{first.pk}"

    page.keyboard.press("s")
    page.locator(f"#suggestion-{first.pk}").wait_for(state="detached")
    assert Suggestion.objects.get(pk=first.pk).claimed_by is None  # handed back to the others
    _wait_selected(page, second)

    page.keyboard.press("c")
    page.keyboard.type("navy")
    page.keyboard.press("Enter")
    page.locator(f"#suggestion-{second.pk} .decided").wait_for()
    assert "Corrected by curator → Navy Blue" in page.locator(f"#suggestion-{second.pk}").inner_text()

    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#keys-help").is_visible()
    page.screenshot(path=str(ARTIFACTS / "review-keyboard.png"), full_page=True)

    actions = list(ReviewEvent.objects.filter(actor__username="curator").values_list("action", flat=True))
    assert actions == ["accept", "undo", "correct"]
    assert Product.objects.get(pk=second.product_id).final_color == "Navy Blue"
    assert Product.objects.get(pk=first.product_id).final_color == "Red"
    assert page.csp_errors == []


def test_two_curators_on_one_queue_never_get_the_same_card(live_server, browser, flags, monkeypatch):
    monkeypatch.setattr("colorreview.views.review.PAGE_SIZE", 2)
    one, two = _page(browser), _page(browser)
    login(one, live_server.url, "curator")
    login(two, live_server.url, "curator2")
    shown = []
    for page in (one, two):
        page.goto(f"{live_server.url}/review/")
        shown.append({c.get_attribute("id") for c in page.locator("article.card").all()})
    assert len(shown[0]) == 2 and len(shown[1]) == 1 and not shown[0] & shown[1]
    # the second curator's counts leave out what the first holds, and say so
    assert "1 mislabel flag (2 more held by other reviewers" in two.locator("#queue-counts").inner_text()
    assert two.locator("select[name=kind] option[value=mislabel]").inner_text() == "Mislabels (1)"
    # a card held by the other curator cannot be decided, and the card says who holds it
    held = Suggestion.objects.get(pk=int(next(iter(shown[0])).split("-")[1]))
    response = two.request.post(f"{live_server.url}/review/{held.pk}/accept/",
                                headers={"HX-Request": "true", "X-CSRFToken": two.evaluate(
                                    "JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")})
    assert "This card is being reviewed by curator (until" in response.text()
    assert Suggestion.objects.get(pk=held.pk).status == "pending"


def test_a_filter_change_leaves_the_focus_on_the_filter(live_server, browser, flags):
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/review/")
    assert _selected(page) == f"suggestion-{flags[0].pk}"
    page.focus("select[name=status]")
    page.select_option("select[name=status]", "accepted")
    page.locator("#queue-list p.empty").wait_for()
    assert page.evaluate("document.activeElement.name") == "status"
    page.select_option("select[name=status]", "pending")
    page.locator(f"#suggestion-{flags[0].pk}.selected").wait_for()  # the first card is selected again...
    assert page.evaluate("document.activeElement.name") == "status"  # ...and the focus stays on the filter
    page.locator(f"#suggestion-{flags[0].pk}").focus()  # back on the queue, the keys act on the cards
    page.keyboard.press("a")
    page.locator(f"#suggestion-{flags[0].pk} .decided").wait_for()


def test_an_admin_reopens_sets_a_colour_by_hand_and_reads_the_trail(live_server, browser, flags):
    first = flags[0]
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("r")
    page.locator(f"#suggestion-{first.pk} .decided").wait_for()
    page.get_by_role("button", name="Sign out").click()

    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/review/?status=rejected")
    page.locator(f"#suggestion-{first.pk}").get_by_role("button", name="Reopen").click()
    page.locator(f"#suggestion-{first.pk} button.accept").wait_for()
    assert Suggestion.objects.get(pk=first.pk).status == "pending"

    page.goto(f"{live_server.url}/products/{first.product.sku}/")
    page.select_option("#manual-color select[name=color]", "Black")
    page.fill("#manual-color input[name=note]", "checked the <b>sample</b>")
    page.get_by_role("button", name="Set colour").click()
    page.wait_for_load_state()
    assert page.locator("#final-color").inner_text() == "Black"
    trail = page.locator("#history").inner_text()
    for words in ("Rejected", "Reopened", "Set by hand", "checked the <b>sample</b>", "curator", "admin"):
        assert words in trail  # the note is shown as text, not markup
    assert page.csp_errors == []


def test_archiving_a_product_takes_its_colour_form_away_until_it_is_unarchived(live_server, browser, flags):
    page = _page(browser)
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/products/F0/")
    page.locator("#archive-panel").get_by_role("button", name="Archive", exact=True).click()
    page.locator("#archive-panel.archived").wait_for()
    page.locator("#manual-color").wait_for(state="detached")
    page.locator("#archive-panel").get_by_role("button", name="Unarchive", exact=True).click()
    page.locator("#archive-panel:not(.archived)").wait_for()
    page.select_option("#manual-color select[name=color]", "Black")
    page.fill("#manual-color input[name=note]", "back in the range")
    page.get_by_role("button", name="Set colour").click()
    page.wait_for_load_state()
    assert page.locator("#final-color").inner_text() == "Black" and page.csp_errors == []


@pytest.mark.parametrize("path", ["/review/", "/products/F0/", "/imputations/", "/", "/thresholds/"])
def test_pages_fit_a_phone_screen(live_server, browser, flags, path):
    page = _page(browser, width=390, height=844)
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}{path}")
    page.screenshot(path=str(ARTIFACTS / f"phone{path.replace('/', '-').rstrip('-')}.png"), full_page=True)
    wide = page.evaluate("Array.from(document.querySelectorAll('main *')).filter(e => e.getBoundingClientRect()"
                         ".right > 391).map(e => e.tagName + '.' + e.className).slice(0, 5)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide


def test_the_thresholds_page_keeps_each_percent_sign_beside_its_box_on_a_phone(live_server, browser, flags):
    page = _page(browser, width=390, height=844)
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/thresholds/")
    beside = page.evaluate("""Array.from(document.querySelectorAll('#thresholds td > label')).map(label => {
        const sign = document.createRange(); sign.selectNodeContents(label.nextSibling);
        const box = label.querySelector('input').getBoundingClientRect(), at = sign.getBoundingClientRect();
        return at.left >= box.right && at.top < box.bottom; })""")
    assert beside == [True, True]  # the imputation and mislabel boxes of the one category


def test_the_api_docs_page_works_under_the_content_security_policy(live_server, browser, flags):
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() >= 10
    assert "/api/suggestions/{id}/accept/" in page.locator(".swagger-ui").inner_text()
    assert page.csp_errors == []


CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                                 if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const out = {};
  for (const sel of ["button.accept", "button.reject", "button.skip", ".note", ".why", ".sku a", ".label", "nav a",
                     ".conf", ".who", "#queue-counts", ".keys"]) {
    const el = document.querySelector(sel);
    if (!el) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    out[sel] = Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100;
  }
  return out;
}"""


def test_text_on_the_queue_meets_wcag_aa_contrast(live_server, browser, flags):
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/review/")
    ratios = page.evaluate(CONTRAST)
    assert len(ratios) >= 10 and {sel: r for sel, r in ratios.items() if r < 4.5} == {}
    labels = page.evaluate("Array.from(document.querySelectorAll('main input:not([type=hidden]), main select'))"
                           ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length")
    assert labels == 0  # every input and select has a label


NAV = {"curator": ["Dashboard", "Review", "Products"],
       "merchandiser": ["Dashboard", "Review", "Imputations", "Products"],
       "admin": ["Dashboard", "Review", "Imputations", "Products", "Import", "Thresholds", "Export", "Admin"]}


@pytest.mark.parametrize("role", sorted(NAV))
def test_each_role_signs_in_and_sees_its_own_pages(live_server, browser, flags, role):
    page = _page(browser)
    login(page, live_server.url, role)
    assert [a.inner_text() for a in page.locator("header nav a").all()] == NAV[role]
    page.goto(f"{live_server.url}/import/")
    assert (page.locator("#forbidden").count() == 0) == (role == "admin")
    assert page.csp_errors == []


def test_the_imputations_table_shows_colour_and_confidence_on_a_phone(live_server, browser, flags):
    SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="PHONE-1", tag="", title="A long title "
                                                                          "that would push the columns off the screen"),
                                                   predicted_color="Navy Blue", confidence=0.91), kind="impute")
    page = _page(browser, width=390, height=844)
    login(page, live_server.url, "merchandiser")
    page.goto(f"{live_server.url}/imputations/")
    scroll = page.locator(".table-scroll").first
    page.screenshot(path=str(ARTIFACTS / "phone-imputations-row.png"), full_page=True)
    widths = scroll.evaluate("e => [e.scrollWidth, e.clientWidth, Array.from(e.querySelectorAll('tbody tr:first-child td'))"
                             ".map(td => Math.round(td.getBoundingClientRect().width))]")
    assert widths[0] <= widths[1], f"the table scrolls sideways on a phone: {widths}"
    assert page.get_by_text("91.0%").is_visible() and page.get_by_text("Navy Blue").first.is_visible()


def test_a_curator_corrects_to_the_models_next_reading_with_one_key(live_server, browser, flags):
    for flag in flags:
        Suggestion.objects.filter(pk=flag.pk).update(status="rejected")
    product = ProductFactory(sku="NEXT-1", tag="Cream")
    reading = PredictionFactory(product=product, predicted_color="Black", family="Black", confidence=0.5,
                                probabilities=probabilities(Black=0.5, Charcoal=0.3, Cream=0.01))
    flag = SuggestionFactory(prediction=reading, kind="mislabel", score=0.99)
    page = _page(browser)
    login(page, live_server.url, "curator")
    page.goto(f"{live_server.url}/review/")
    _wait_selected(page, flag)
    assert "Charcoal 30%" in page.locator(f"#suggestion-{flag.pk} .alts").inner_text()
    page.keyboard.press("1")
    page.locator(f"#suggestion-{flag.pk} .decided").wait_for()
    assert "Corrected by curator → Charcoal" in page.locator(f"#suggestion-{flag.pk}").inner_text()
    assert Product.objects.get(pk=product.pk).final_color == "Charcoal"
    assert page.csp_errors == []
