from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from colorreview.services.review import suggestion_accept, suggestion_correct, suggestion_reject
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, probabilities

pytestmark = pytest.mark.django_db


def _suggestion(kind, predicted, tag):
    product = ProductFactory(tag=tag)
    prediction = PredictionFactory(product=product, predicted_color=predicted,
                                   probabilities=probabilities(**{predicted: 0.9}))
    return SuggestionFactory(prediction=prediction, kind=kind)


def test_reviewed_decisions_give_precision_per_kind(capsys, curator, merchandiser):
    suggestion_accept(suggestion=_suggestion("mislabel", "Blue", "Red"), user=curator)
    suggestion_reject(suggestion=_suggestion("mislabel", "Green", "Red"), user=curator)
    suggestion_correct(suggestion=_suggestion("mislabel", "Blue", "Red"), user=curator, color="Navy Blue")
    suggestion_accept(suggestion=_suggestion("impute", "Black", ""), user=merchandiser)
    _suggestion("impute", "White", "")  # still pending: not counted
    call_command("evaluate", "--json")
    result = json.loads(capsys.readouterr().out)
    mis = result["kinds"]["mislabel"]
    assert (mis["decided"], mis["accepted"], mis["rejected"], mis["corrected"]) == (3, 1, 1, 1)
    assert mis["precision"] == pytest.approx(1 / 3) and mis["family_precision"] == pytest.approx(2 / 3)
    assert mis["tag_wrong"] == pytest.approx(2 / 3)  # accepted or corrected: the flag was right
    assert result["kinds"]["impute"]["precision"] == 1.0
    assert result["classifier"]["n"] == 4 and 0 <= result["classifier"]["accuracy"] <= 1
    call_command("evaluate")
    assert "flags right (tag wrong) 0.667; suggested colour taken 0.333" in capsys.readouterr().out


def test_correcting_to_the_suggested_colour_is_an_acceptance(curator):
    flag = _suggestion("mislabel", "Navy Blue", "Red")
    decided = suggestion_correct(suggestion=flag, user=curator, color="navy")
    assert decided.status == "accepted" and decided.final_color == "Navy Blue"
