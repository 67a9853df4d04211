from __future__ import annotations

import numpy as np
import pytest

from inference.colors import ColorNamer, ColorVocabulary, default_vocabulary, delta_e_2000, dominant_colors
from inference.colors.space import hex_to_rgb, lab_to_rgb, rgb_to_lab

# (Lab1, Lab2, ΔE00) from Sharma, Wu & Dalal (2005), table 1
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    assert delta_e_2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)


def test_lab_round_trip():
    rgb = np.array([[12, 200, 77], [255, 255, 255], [0, 0, 0], [128, 64, 200]], dtype=float)
    assert np.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=0.5)
    assert rgb_to_lab(np.array([255.0, 255, 255]))[0] == pytest.approx(100, abs=0.01)


@pytest.mark.parametrize("text, expected", [
    ("navy", "Navy Blue"), ("NAVY-BLUE", "Navy Blue"), ("  off   white ", "Off White"), ("offwhite", "Off White"),
    ("gray", "Grey"), ("Multicolour", "Multi"), ("wine", "Burgundy"), ("Sunset Glow", None), ("", None), (None, None),
])
def test_vocabulary_matches_case_spacing_and_aliases(text, expected):
    assert default_vocabulary().match(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Crème", "Cream"), ("CRÈME", "Cream"), ("cre\u0300me", "Cream"), ("Beíge", "Beige"), ("BÉIGE", "Beige"),
    ("Écru", "Beige"), ("Navy\u00a0Blüe", "Navy Blue"), ("ＲＥＤ", "Red"), ("Rosé Glow", None),
])
def test_vocabulary_matches_accented_and_compatibility_spellings(text, expected):
    assert default_vocabulary().match(text) == expected


@pytest.mark.parametrize("text", [
    "Off\u2013White", "Off\u2014White", "Off\u2010White", "Off\u2011White", "Off\u2012White", "Off\u2015White",
    "Off\u2212White", "Off\uff0dWhite", "Off\ufe63White", "Off\u00a0White", "Off\u202fWhite", "Off\u2009White",
    "Off\u3000White", "Off \u2013 White", "Off\u200bWhite", "Off\u00adWhite", "\ufeffOff White\u2060",
])
def test_unicode_dashes_and_spaces_separate_words_as_a_hyphen_or_a_space_does(text):
    assert default_vocabulary().match(text) == "Off White"


def test_a_dash_that_stands_alone_is_no_colour():
    assert default_vocabulary().match("\u2014") is None and default_vocabulary().match(" \u2013 ") is None


def test_a_vocabulary_name_written_with_accents_is_matched_without_them():
    vocab = ColorVocabulary.from_rows([{"name": "Rosé", "hex": "#f4c2c2", "family": "Pink"}])
    assert vocab.match("rose") == vocab.match("ROSÉ") == vocab.match("Rose\u0301") == "Rosé"


def test_vocabulary_is_seeded_from_the_catalogue_values_with_families():
    vocab = default_vocabulary()
    assert len(vocab.entries) == 46
    assert vocab.family("Navy Blue") == "Blue" and vocab.family("Maroon") == "Red"
    assert vocab.family("Charcoal") == "Grey" and vocab.family("Off White") == "White"


@pytest.mark.parametrize("rgb, expected", [
    ((20, 20, 20), "Black"), ((250, 250, 250), "White"), ((30, 40, 80), "Navy Blue"), ((200, 30, 40), "Red"),
    ((128, 128, 128), "Grey"), ((60, 110, 180), "Blue"), ((110, 25, 40), "Maroon"), ((100, 117, 100), "Olive"),
])
def test_kdtree_names_colours(rgb, expected):
    assert ColorNamer().name_rgb(rgb).color == expected


def test_kdtree_never_names_textures_or_metals():
    namer = ColorNamer()
    names = {e.color for e in namer.entries}
    assert not names & {"Multi", "Grey Melange", "Silver", "Gold", "Metallic"}


def test_an_admin_added_colour_is_nameable():
    rows = [{"name": e.name, "hex": e.hex, "family": e.family, "kd": e.kd} for e in default_vocabulary().entries]
    rows.append({"name": "Tangerine Dream", "hex": "#ff8c1a", "family": "Orange", "kd": True})
    namer = ColorNamer(ColorVocabulary.from_rows(rows), palette=())
    assert namer.name_rgb(hex_to_rgb("#ff8c1a")).color == "Tangerine Dream"


def test_dominant_colours_report_shares_in_order():
    pixels = np.concatenate([np.tile([[200, 30, 40]], (700, 1)), np.tile([[30, 40, 80]], (300, 1))])
    found = dominant_colors(pixels, ColorNamer())
    assert [d.color for d in found] == ["Red", "Navy Blue"]
    assert found[0].fraction == pytest.approx(0.7, abs=0.01)
    assert found[0].as_text().startswith("Red:#")


def test_dominant_colours_of_nothing_is_empty():
    assert dominant_colors(np.zeros((0, 3)), ColorNamer()) == []
