from __future__ import annotations

import pytest
from django.core.management import call_command

from colorreview.models import FlagRules, Prediction, Product, ReviewEvent, Suggestion
from colorreview.services import rejudge, storage
from colorreview.services.predictions import pipeline_run_create
from colorreview.services.rejudge import current_flag_rules, suggestions_rejudge_all, suggestions_rejudge_if_changed
from colorreview.services.review import suggestion_accept, suggestion_reject
from colorreview.services.runs import pipeline_run_start
from tests.factories import PredictionFactory, ProductFactory, probabilities

pytestmark = pytest.mark.django_db

TEAL = [{"color": "Teal", "hex": "#1f7a7a", "fraction": 0.83, "family": "Blue", "name": "teal", "delta_e": 3.0},
        {"color": "White", "hex": "#f7f7f7", "fraction": 0.17, "family": "White", "name": "white", "delta_e": 1.0}]
#: card A flags a Red tag read as Blue at 93% (P(Red family wrong) 0.95 >= 0.9); card B does not (0.97), and it
#: flags a Green tag on a garment that reads 83% Teal, which A does not know as an outside colour
CARD_A = {"rule": "family", "impute": {"threshold": 0.8}, "mislabel": {"threshold": 0.9, "curve": [[0.9, 0.8, 0.5]]}}
CARD_B = {**CARD_A, "mislabel": {"threshold": 0.97}, "outside": {"colours": {"Teal": 0.75}}}


@pytest.fixture
def card(thresholds, monkeypatch):
    """The model card's calibration, swapped by assigning ``card["now"]``; its thresholds are the card's own."""
    thresholds.COLORREVIEW_IMPUTE_THRESHOLD = thresholds.COLORREVIEW_MISLABEL_THRESHOLD = None
    thresholds.COLORREVIEW_FLAG_RULE = None
    holder = {"now": CARD_A}
    monkeypatch.setattr("colorreview.services.suggestions._card_calibration", lambda: holder["now"])
    return holder


@pytest.fixture
def no_reading(monkeypatch):
    """Reading an image fails the test; the model version is the one the test predictions carry."""
    def read(*args, **kwargs):
        raise AssertionError("an image was read again")

    monkeypatch.setattr("colorreview.services.predictions.current_pipeline", read)
    for module in ("predictions", "runs"):
        monkeypatch.setattr(f"colorreview.services.{module}.model_version", lambda *a: "test-model")


@pytest.fixture
def catalogue(card):
    """Judged under card A: a flag B drops, a Teal garment B flags, a rejected flag, an accepted one."""
    def flagged_under_a(tag="Red"):
        product = ProductFactory(tag=tag)
        PredictionFactory(product=product, predicted_color="Blue", family="Blue", confidence=0.93,
                          probabilities=probabilities(Blue=0.93, Red=0.05))
        return product

    teal = ProductFactory(tag="Green")
    PredictionFactory(product=teal, predicted_color="Green", family="Green", dominant_colors=TEAL,
                      probabilities=probabilities(Green=0.97))
    products = {"dropped": flagged_under_a(), "teal": teal, "rejected": flagged_under_a(),
                "accepted": flagged_under_a()}
    first = suggestions_rejudge_all()
    assert (first.reason, first.products, first.opened) == ("first", 4, 3)
    return products


def _open(product) -> Suggestion | None:
    return Suggestion.objects.filter(product=product, status="pending").first()


def test_new_flag_rules_supersede_a_flag_they_no_longer_make_and_open_one_they_make(card, catalogue, curator,
                                                                                    no_reading):
    dropped = _open(catalogue["dropped"])
    card["now"] = CARD_B
    result = suggestions_rejudge_if_changed()
    assert (result.reason, result.products, result.opened, result.withdrawn, result.replaced) == ("changed", 4, 1, 3, 0)
    dropped.refresh_from_db()
    assert dropped.status == "superseded" and _open(catalogue["dropped"]) is None
    assert ReviewEvent.objects.get(suggestion=dropped, action="supersede").note == "the flag rules changed"
    teal = _open(catalogue["teal"])
    assert (teal.kind, teal.suggested_color, teal.threshold) == ("mislabel", "Teal", 0.75)
    assert Prediction.objects.count() == 4  # judged from the readings there were
    applied = FlagRules.objects.first()
    assert applied.rules == current_flag_rules() and (applied.products, applied.changed) == (4, 4)


def test_decided_suggestions_stay_decided_under_new_flag_rules(card, catalogue, curator, no_reading):
    rejected = suggestion_reject(suggestion=_open(catalogue["rejected"]), user=curator)
    accepted = suggestion_accept(suggestion=_open(catalogue["accepted"]), user=curator)
    card["now"] = {**CARD_B, "mislabel": {"threshold": 0.9}}  # still flags both: a Teal garment's rule added
    assert suggestions_rejudge_if_changed().opened == 1  # the Teal garment alone
    for decided, status in ((rejected, "rejected"), (accepted, "accepted")):
        decided.refresh_from_db()
        assert decided.status == status and _open(decided.product) is None
    assert Product.objects.get(pk=catalogue["accepted"].pk).final_color == "Blue"


def test_judging_again_under_the_same_rules_changes_nothing(card, catalogue, no_reading):
    card["now"] = CARD_B
    suggestions_rejudge_if_changed()
    rows = list(Suggestion.objects.order_by("pk").values_list("pk", "status"))
    events, applied = ReviewEvent.objects.count(), FlagRules.objects.count()
    assert suggestions_rejudge_if_changed() is None
    forced = suggestions_rejudge_all()
    assert (forced.reason, forced.products, forced.changed) == ("forced", 4, 0)
    assert list(Suggestion.objects.order_by("pk").values_list("pk", "status")) == rows
    assert (ReviewEvent.objects.count(), FlagRules.objects.count()) == (events, applied)


def test_validation_curves_are_not_flag_rules(card):
    before = current_flag_rules()
    card["now"] = {**CARD_A, "mislabel": {"threshold": 0.9, "curve": [[0.95, 0.9, 0.3]]}, "per_category": {"x": 1}}
    assert current_flag_rules() == before
    card["now"] = {**CARD_A, "rule": "tag"}
    assert current_flag_rules() != before


def test_a_fresh_database_only_records_the_flag_rules(card):
    result = suggestions_rejudge_if_changed()
    assert (result.reason, result.products, result.changed) == ("first", 0, 0)
    assert FlagRules.objects.get().rules == current_flag_rules()
    assert suggestions_rejudge_if_changed() is None


def test_a_run_start_judges_again_when_the_rules_changed(card, catalogue, admin_user, client, no_reading, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    from colorreview import tasks

    monkeypatch.setattr(tasks.rejudge_suggestions, "apply_async", lambda *a, **kw: tasks.rejudge_suggestions.apply())
    card["now"] = CARD_B
    with django_capture_on_commit_callbacks(execute=True) as queued:  # over the whole catalogue: in the background
        assert pipeline_run_start() is None  # nothing to read
    assert len(queued) == 1
    assert _open(catalogue["dropped"]) is None and _open(catalogue["teal"]).suggested_color == "Teal"
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert pipeline_run_start() is None
    assert not queued  # the same rules: nothing to queue
    card["now"] = CARD_A
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert pipeline_run_create() is None  # as `run_pipeline --wait` or a promoted model starts one
        assert pipeline_run_start() is None  # a second start before the job ran queues nothing more
    assert len(queued) == 1
    assert _open(catalogue["dropped"]) is not None and _open(catalogue["teal"]) is None
    card["now"] = CARD_B
    client.force_login(admin_user)  # the dashboard's run start goes through the same service
    with django_capture_on_commit_callbacks(execute=True):
        assert "Every product already has a prediction" in client.post("/runs/start/").content.decode()
    assert _open(catalogue["dropped"]) is None and _open(catalogue["teal"]).suggested_color == "Teal"


def test_a_run_start_goes_on_when_the_queue_cannot_take_the_rejudge(card, catalogue, monkeypatch, no_reading,
                                                                    django_capture_on_commit_callbacks):
    from colorreview import tasks

    def down(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.rejudge_suggestions, "apply_async", down)
    card["now"] = CARD_B
    from colorreview.services.rejudge import rules_changed, suggestions_rejudge_later

    with django_capture_on_commit_callbacks(execute=True):  # sent once the run start commits: the failure is logged
        assert suggestions_rejudge_later()
        assert pipeline_run_start() is None  # and the run start goes on
    assert rules_changed() and _open(catalogue["dropped"]) is not None  # unrecorded: the next start tries again


def test_run_pipeline_says_how_many_suggestions_changed(card, catalogue, capsys, no_reading):
    card["now"] = CARD_B
    call_command("run_pipeline")
    out = capsys.readouterr().out
    assert ("the flag rules changed (model card or settings): 4 products judged again, 4 suggestions changed "
            "(1 opened, 3 withdrawn, 0 replaced)") in out
    assert "nothing to do" in out
    call_command("run_pipeline")
    assert "judged again" not in capsys.readouterr().out


def test_the_rejudge_command_judges_again_when_the_rules_changed_or_when_forced(card, catalogue, capsys, no_reading):
    call_command("rejudge")
    assert "have not changed since they were last applied: nothing to judge again" in capsys.readouterr().out
    card["now"] = CARD_B
    call_command("rejudge")
    assert "4 products judged again, 4 suggestions changed" in capsys.readouterr().out
    call_command("rejudge", "--force")
    assert ("judged again under the same flag rules: 4 products judged again, 0 suggestions changed"
            in capsys.readouterr().out)


def _worker_meanwhile(monkeypatch, make_prediction):
    """The rejudge batch reads its pairs; before it locks the suggestions, a pipeline worker stores a newer
    reading and opens/renews the suggestion (the interleaving a run start creates: the rejudge job and the
    run's workers start together)."""
    real, done = rejudge.latest_pairs, []

    def stale_then_worker(ids):
        pairs = real(ids)
        if not done:
            done.append(True)
            prediction, product = make_prediction()
            storage.suggestions_for([(Product.objects.get(pk=product.pk), prediction)])
        return pairs

    monkeypatch.setattr(rejudge, "latest_pairs", stale_then_worker)


def test_a_rejudge_with_a_stale_reading_leaves_the_flag_a_worker_just_opened(card, monkeypatch):
    product = ProductFactory(tag="Red")
    PredictionFactory(product=product, model_version="v1", predicted_color="Red", family="Red", confidence=0.97,
                      probabilities=probabilities(Red=0.97))
    suggestions_rejudge_all()  # rules recorded; nothing to flag
    card["now"] = CARD_B

    def v2_reads_blue():
        return PredictionFactory(product=product, model_version="v2", predicted_color="Blue", family="Blue",
                                 confidence=0.99, probabilities=probabilities(Blue=0.99, Red=0.005)), product

    _worker_meanwhile(monkeypatch, v2_reads_blue)
    suggestions_rejudge_all()
    # the newest reading (v2) flags the Red tag, and no run would judge the product again
    opened = _open(product)
    assert opened is not None, "the flag from the newest reading was withdrawn as 'the flag rules changed'"
    assert opened.prediction.model_version == "v2"


def test_a_rejudge_with_a_stale_reading_leaves_a_suggestion_on_the_newer_model(card, monkeypatch):
    product = ProductFactory(tag="Red")
    PredictionFactory(product=product, model_version="v1", predicted_color="Blue", family="Blue", confidence=0.99,
                      probabilities=probabilities(Blue=0.99, Red=0.005))
    suggestions_rejudge_all()
    assert _open(product).prediction.model_version == "v1"
    card["now"] = CARD_B

    def v2_reads_blue_too():
        return PredictionFactory(product=product, model_version="v2", predicted_color="Blue", family="Blue",
                                 confidence=0.98, probabilities=probabilities(Blue=0.98, Red=0.01)), product

    _worker_meanwhile(monkeypatch, v2_reads_blue_too)
    suggestions_rejudge_all()
    assert _open(product).prediction.model_version == "v2"  # not put back on the older reading


def test_a_kept_suggestion_shows_the_threshold_of_the_rules_it_was_kept_under(card, catalogue):
    dropped = _open(catalogue["dropped"])  # P(Red family wrong) 0.95 >= 0.9 under card A
    assert dropped.threshold == 0.9
    card["now"] = {**CARD_A, "mislabel": {"threshold": 0.93, "curve": [[0.93, 0.85, 0.4]]}}
    result = rejudge.suggestions_rejudge_if_changed()
    assert result.reason == "changed"
    kept = _open(catalogue["dropped"])
    assert kept.pk == dropped.pk
    assert (kept.threshold, kept.expected_precision) == (0.93, 0.85)


def test_a_shade_threshold_in_the_settings_applies_to_the_families_the_card_names(thresholds):
    from colorreview.services.suggestions import active_thresholds, candidate_for, flag_rules
    from colorreview.services.vocabulary import db_vocabulary

    thresholds.COLORREVIEW_SHADE_SUGGESTIONS = None  # not set: the card decides which families flag shades
    thresholds.COLORREVIEW_SHADE_THRESHOLD = 0.95  # an operator asks for a stricter shade threshold
    thresholds.COLORREVIEW_FLAG_RULE = "tag"
    calibration = {"rule": "tag", "shade": {"threshold": None},
                   "shade_families": {"families": {"Blue": 0.75, "Red": 0.75}}}
    base, vocabulary = active_thresholds(calibration), db_vocabulary()
    rules = flag_rules(base, calibration)
    product = ProductFactory(tag="Blue")
    navy = PredictionFactory(product=product, predicted_color="Navy Blue", family="Blue", confidence=0.8,
                             probabilities=probabilities(**{"Navy Blue": 0.8, "Blue": 0.15}))
    assert candidate_for(product, navy, vocabulary, base, rules) is None  # P(tag wrong) 0.85: under 0.95
    product = ProductFactory(tag="Blue")
    navy = PredictionFactory(product=product, predicted_color="Navy Blue", family="Blue", confidence=0.97,
                             probabilities=probabilities(**{"Navy Blue": 0.97, "Blue": 0.02}))
    candidate = candidate_for(product, navy, vocabulary, base, rules)
    assert candidate is not None and candidate.threshold.kind == "shade"
    assert (candidate.threshold.value, candidate.threshold.source) == (0.95, "settings")
    white = ProductFactory(tag="Off White")  # a family the card leaves out stays without shade flags
    read_white = PredictionFactory(product=white, predicted_color="White", family="White", confidence=0.97,
                                   probabilities=probabilities(White=0.97, **{"Off White": 0.01}))
    assert candidate_for(white, read_white, vocabulary, base, rules) is None
