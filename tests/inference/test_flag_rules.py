from __future__ import annotations

import csv

import numpy as np
import pytest

from inference.colors import default_vocabulary
from inference.evaluate import audit, noise_model, tuning
from inference.suggest import CONFIDENT_RULE, FAMILY_RULE, MISLABEL, TAG_RULE, Thresholds, confident_colour, propose

CLASSES = ["Black", "Blue", "Grey", "Navy Blue", "Olive", "Red"]


def _random_probs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, len(CLASSES))) * 3
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("rule", [FAMILY_RULE, TAG_RULE, CONFIDENT_RULE])
def test_flag_features_agree_with_the_products_rule(rule):
    vocab = default_vocabulary()
    probs = _random_probs(300)
    tags = [CLASSES[i % len(CLASSES)] for i in range(300)]
    per_class = tuning.confident_thresholds(probs, tags, CLASSES)
    severity, fscore, sscore = tuning.flag_features(probs, tags, CLASSES, vocab, rule, per_class)
    th = Thresholds(impute=2.0, mislabel=0.6, shade=0.7, rule=rule, per_class=per_class)
    for p, tag, sev, f, s in zip(probs, tags, severity, fscore, sscore):
        i = int(p.argmax())
        proposal = propose(CLASSES[i], float(p[i]), dict(zip(CLASSES, p.tolist())), tag, vocab, th)
        expected = (sev == tuning.FAMILY and f >= 0.6) or (sev == tuning.SHADE and s >= 0.7)
        assert (proposal is not None and proposal.kind == MISLABEL) == expected
        if proposal is not None:
            assert proposal.severity == ("family" if sev == tuning.FAMILY else "shade")


def test_confident_thresholds_are_the_mean_probability_of_each_tagged_colour():
    probs = np.array([[0.9, 0.1, 0, 0, 0, 0], [0.7, 0.3, 0, 0, 0, 0], [0.2, 0.8, 0, 0, 0, 0]])
    t = tuning.confident_thresholds(probs, ["Black", "Black", "Blue"], CLASSES)
    assert t == {"Black": pytest.approx(0.8), "Blue": pytest.approx(0.8)}


def test_confident_rule_flags_a_navy_garment_tagged_blue_as_a_shade():
    vocab = default_vocabulary()
    per_class = {"Blue": 0.7, "Navy Blue": 0.5, "Black": 0.8}
    probs = {"Blue": 0.2, "Navy Blue": 0.6, "Black": 0.2}
    assert confident_colour(probs, per_class) == "Navy Blue"
    shade_on = Thresholds(impute=2.0, mislabel=0.9, shade=0.75, rule=CONFIDENT_RULE, per_class=per_class)
    proposal = propose("Navy Blue", 0.6, probs, "Blue", vocab, shade_on)
    assert proposal.kind == MISLABEL and proposal.severity == "shade" and proposal.color == "Navy Blue"
    shade_off = Thresholds(impute=2.0, mislabel=0.5, shade=None, rule=CONFIDENT_RULE, per_class=per_class)
    assert propose("Navy Blue", 0.6, probs, "Blue", vocab, shade_off) is None
    # a tag the model finds plausible enough is left alone
    assert propose("Navy Blue", 0.6, {"Blue": 0.75, "Navy Blue": 0.25}, "Blue", vocab, shade_on) is None


def test_noise_model_fitted_on_neighbouring_shades_prefers_near_colours():
    vocab = default_vocabulary()
    pairs = [("Blue", "Navy Blue")] * 5 + [("Grey", "Olive")] * 2 + [("Navy Blue", "Black")] * 3
    model = noise_model.fit(pairs, CLASSES, vocab, [10] * len(CLASSES), wrong_rate=0.1)
    navy = model.tag_distribution(CLASSES.index("Navy Blue"))
    assert navy[CLASSES.index("Navy Blue")] == 0 and navy.sum() == pytest.approx(1)
    assert navy[CLASSES.index("Black")] > navy[CLASSES.index("Red")]
    truth = [CLASSES[i % len(CLASSES)] for i in range(1000)]
    catalogue = noise_model.simulate(truth, model, missing=0.2, seed=1)
    wrong = [(g, t) for g, t, k in zip(catalogue.tags, catalogue.truth, catalogue.kinds) if k == "wrong"]
    assert len(wrong) == 100 and all(g != t for g, t in wrong)
    assert sum(k == "missing" for k in catalogue.kinds) == 200


def test_audit_flags_are_counted_apart_for_ambiguous_rows(tmp_path):
    vocab = default_vocabulary()
    path = tmp_path / "audit.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "category", "seller_color", "verdict", "color"])
        w.writerow(["1.jpg", "Tshirts", "Blue", "wrong colour", "Black"])
        w.writerow(["2.jpg", "Tshirts", "Red", "confirmed", "Red"])
        w.writerow(["3.jpg", "Shirts", "Grey", "ambiguous", ""])
        w.writerow(["4.jpg", "Shirts", "Blue", "wrong, no single right colour", ""])
    rows = audit.load_audit(path)
    onehot = {c: np.eye(len(CLASSES))[CLASSES.index(c)] * 0.97 + 0.005 for c in CLASSES}
    probs = {"1.jpg": onehot["Black"], "2.jpg": onehot["Blue"], "3.jpg": onehot["Olive"], "4.jpg": onehot["Blue"]}
    out = audit.judge_flags(rows, probs, CLASSES, vocab, Thresholds(impute=0.5, mislabel=0.9))
    assert (out.wrong, out.confirmed, out.ambiguous) == (2, 1, 1)
    assert (out.flagged_wrong, out.flagged_confirmed, out.flagged_ambiguous) == (1, 1, 1)
    assert out.flagged_wrong_named == 1 and out.precision == 0.5 and out.recall == 0.5
    seller = audit.seller_accuracy(rows, vocab)
    assert seller["n"] == 2 and seller["accuracy"] == 0.5
    imputed = audit.judge_imputations(rows, probs, CLASSES, vocab, Thresholds(impute=0.5, mislabel=0.9))
    assert imputed["imputed"] == 2 and imputed["accuracy"] == 0.5
    assert audit.wrong_pairs(rows, vocab) == [("Blue", "Black")]


def test_the_ranking_ceiling_is_the_best_recall_any_threshold_reaches_at_the_precision():
    vocab = default_vocabulary()
    onehot = {c: np.eye(len(CLASSES))[i] for i, c in enumerate(CLASSES)}

    def row(image, tag, verdict, colour):
        return audit.AuditRow(image, "Tshirts", tag, verdict, colour)

    # P(tag wrong) by row, highest first: wrong 1.0, wrong 1.0, right 0.9 (a confident model error),
    # wrong 0.6, right 0.5, then at 0.0 (one threshold flags them together): a wrong tag read as the tag,
    # a wrong tag without a single colour, three right tags
    rows = [row("w1.jpg", "Blue", "wrong shade", "Navy Blue"), row("w2.jpg", "Grey", "wrong colour", "Olive"),
            row("r1.jpg", "Red", "confirmed", "Red"), row("w3.jpg", "Black", "wrong shade", "Navy Blue"),
            row("r2.jpg", "Black", "confirmed", "Black"), row("w4.jpg", "Blue", "wrong shade", "Navy Blue"),
            row("w5.jpg", "Red", "wrong, no single right colour", None), row("r3.jpg", "Grey", "confirmed", "Grey"),
            row("r4.jpg", "Grey", "confirmed", "Grey"), row("r5.jpg", "Olive", "confirmed", "Olive"),
            row("a1.jpg", "Red", "ambiguous", None)]
    probs = {"w1.jpg": onehot["Navy Blue"], "w2.jpg": onehot["Olive"], "r1.jpg": 0.9 * onehot["Black"] + 0.1 * onehot["Red"],
             "w3.jpg": 0.4 * onehot["Black"] + 0.6 * onehot["Navy Blue"], "r2.jpg": (onehot["Black"] + onehot["Grey"]) / 2,
             "w4.jpg": onehot["Blue"], "w5.jpg": onehot["Red"], "r3.jpg": onehot["Grey"], "r4.jpg": onehot["Grey"],
             "r5.jpg": onehot["Olive"], "a1.jpg": onehot["Blue"]}
    c = audit.ranking_ceiling(rows, probs, CLASSES, vocab, precision=0.6)
    assert (c["wrong"], c["flagged_wrong"], c["flagged_confirmed"], c["threshold"]) == (5, 3, 1, 0.6)
    assert c["recall"] == pytest.approx(0.6)
    assert (c["wrong_read_as_the_tag"], c["wrong_without_a_single_colour"]) == (2, 1)
    strict = audit.ranking_ceiling(rows, probs, CLASSES, vocab, precision=0.8)
    assert (strict["flagged_wrong"], strict["flagged_confirmed"], strict["threshold"]) == (2, 0, 1.0)


@pytest.mark.parametrize("rule", [FAMILY_RULE, TAG_RULE])
def test_a_tag_the_classifier_cannot_name_is_judged_by_its_family(rule):
    vocab = default_vocabulary()
    th = Thresholds(impute=0.8, mislabel=0.9, shade=0.5, rule=rule)
    # Burgundy is not a class: its probability is unknown, not zero; its family (Red) holds 0.4 here
    burgundy = {"Brown": 0.6, "Maroon": 0.3, "Red": 0.1}
    assert propose("Brown", 0.6, burgundy, "Burgundy", vocab, th) is None
    # a garment read as another family with no doubt is still flagged, at the family's probability
    sure = {"Olive": 0.97, "Maroon": 0.02, "Black": 0.01}
    flag = propose("Olive", 0.97, sure, "Burgundy", vocab, th)
    assert flag is not None and flag.kind == MISLABEL and flag.severity == "family"
    assert flag.score == pytest.approx(0.98)
    # no shade flag within the family of such a tag
    assert propose("Maroon", 0.95, {"Maroon": 0.95, "Red": 0.05}, "Burgundy", vocab, th) is None


def test_a_garment_mostly_in_a_colour_no_class_names_flags_another_tag():
    from inference.suggest import colour_shares

    vocab = default_vocabulary()
    th = Thresholds(impute=0.8, mislabel=0.9, rule=TAG_RULE, outside={"Teal": 0.75, "Turquoise Blue": 0.75})
    teal = colour_shares([{"color": "Teal", "fraction": 0.6}, {"color": "Turquoise Blue", "fraction": 0.1},
                          {"color": "White", "fraction": 0.1}])
    assert teal["Teal"] == pytest.approx(0.75)
    # the classifier reads the teal garment as the tag itself: only the KD-tree's reading raises the flag
    agrees = {"Green": 0.7, "Blue": 0.2, "Olive": 0.1}
    flag = propose("Green", 0.7, agrees, "Green", vocab, th, teal)
    assert flag is not None and (flag.kind, flag.severity, flag.color) == (MISLABEL, "family", "Teal")
    assert flag.score == pytest.approx(0.75)
    assert propose("Blue", 0.7, {"Blue": 0.7, "Green": 0.3}, "Blue", vocab, th, teal).severity == "shade"
    assert propose("Green", 0.7, agrees, "Green", vocab, th) is None  # without the reading, nothing
    assert propose("Green", 0.7, agrees, "Teal", vocab, th, teal) is None  # tagged with that very colour
    less = colour_shares([{"color": "Teal", "fraction": 0.5}, {"color": "Green", "fraction": 0.5}])
    assert propose("Green", 0.7, agrees, "Green", vocab, th, less) is None  # under the share
    plain = Thresholds(impute=0.8, mislabel=0.9, rule=TAG_RULE)
    assert propose("Green", 0.7, agrees, "Green", vocab, plain, teal) is None  # no colours in the card


def test_a_colour_one_class_claims_is_not_flagged_and_an_unclaimed_one_is():
    from inference.commands.audit_flags import unclaimed

    vocab = default_vocabulary()
    items = {f"s{i}": ("Green", {"Sea Green": 0.9}) for i in range(9)}  # mid-greens: the catalogue says Green
    items.update({f"t{i}": (tag, {"Teal": 0.9}) for i, tag in enumerate(["Green"] * 4 + ["Blue"] * 4 + ["Teal"])})
    items.update({f"r{i}": ("Pink", {"Rose": 0.9}) for i in range(3)})  # too few to judge
    table = {t["colour"]: t for t in unclaimed(items, ["Sea Green", "Teal", "Rose"], vocab, 0.75, 8, 0.6)}
    assert table["Sea Green"]["claimed_by"] == "Green" and not table["Sea Green"]["unclaimed"]
    assert table["Teal"]["unclaimed"] and table["Teal"]["products"] == 9
    assert not table["Rose"]["unclaimed"] and table["Rose"]["products"] == 3


def test_an_outside_colour_is_chosen_only_when_its_flags_are_right_on_the_audit():
    from inference.commands.audit_flags import choose, judge
    from inference.evaluate.audit import AuditRow

    vocab = default_vocabulary()
    rows, items = [], {}
    for i, (tag, verdict, colour) in enumerate([("Green", "wrong, no single right colour", "Teal")] * 3
                                               + [("Green", "confirmed", "Sea Green")] * 3
                                               + [("Green", "wrong colour", "Sea Green")]
                                               + [("Red", "ambiguous", "Teal")]):
        rows.append(AuditRow(f"{i}.jpg", "Tshirts", tag, verdict, None))
        items[str(i)] = (tag, {colour: 0.9, "White": 0.1})
    assert choose(rows, items, ["Teal", "Sea Green"], vocab, 0.75, 2, 0.8) == ["Teal"]
    counts = judge(rows, items, ["Teal"], vocab, 0.75)
    assert (counts.flagged_wrong, counts.flagged_confirmed, counts.flagged_ambiguous) == (3, 0, 1)
    assert choose(rows, items, ["Teal"], vocab, 0.95, 2, 0.8) == []  # no garment reaches that share


def test_shade_flags_are_raised_only_in_the_families_the_card_names_at_their_own_threshold():
    from inference.suggest import thresholds_from_card

    vocab = default_vocabulary()
    calibration = {"rule": TAG_RULE, "mislabel": {"threshold": 0.9}, "shade_families": {"families": {"Blue": 0.75}}}
    th = thresholds_from_card(calibration)
    assert th.shade is None and th.shade_for("Blue") == 0.75 and th.shade_for("White") is None
    navy = {"Navy Blue": 0.78, "Blue": 0.2, "Black": 0.02}
    flag = propose("Navy Blue", 0.78, navy, "Blue", vocab, th)
    assert (flag.kind, flag.severity, flag.color) == (MISLABEL, "shade", "Navy Blue")
    assert flag.score == pytest.approx(0.8)
    assert propose("Navy Blue", 0.7, {"Navy Blue": 0.7, "Blue": 0.3}, "Blue", vocab, th) is None  # under 0.75
    white = {"White": 0.95, "Off White": 0.05}
    assert propose("White", 0.95, white, "Off White", vocab, th) is None  # a family the card leaves out
    assert propose("Navy Blue", 0.78, navy, "Blue", vocab, thresholds_from_card(calibration, shade_on=False)) is None
    every = thresholds_from_card(calibration, shade=0.9, shade_on=True)  # one threshold for every family
    assert every.shade_for("White") == every.shade_for("Blue") == 0.9
    assert propose("White", 0.95, white, "Off White", vocab, every).severity == "shade"


def test_a_family_gets_shade_flags_only_where_the_audit_confirms_them():
    from inference.commands.audit_flags import choose_shades, judge_shades
    from inference.evaluate.audit import AuditRow

    vocab = default_vocabulary()
    classes = ["Blue", "Navy Blue", "Off White", "White", "Red"]
    rows, probs = [], {}
    cases = ([("Blue", "wrong shade", "Navy Blue", 0.82)] * 2 + [("Blue", "wrong shade", "Navy Blue", 0.72)]
             + [("Blue", "confirmed", "Navy Blue", 0.74)] + [("Blue", "ambiguous", "Navy Blue", 0.95)]
             + [("Off White", "confirmed", "White", 0.95)] * 2 + [("Off White", "wrong shade", "White", 0.95)])
    for i, (tag, verdict, read, p_read) in enumerate(cases):
        rows.append(AuditRow(f"{i}.jpg", "Shirts", tag, verdict, None))
        p = {c: 0.0 for c in classes} | {read: p_read, tag: 1 - p_read}
        probs[f"{i}.jpg"] = np.array([p[c] for c in classes])
    base = Thresholds(impute=0.8, mislabel=0.9, rule=TAG_RULE)
    # 0.7 finds 3 wrong but flags the right tag (0.75 precision); 0.75 and 0.8 find 2 at 1.0: the higher is kept
    assert choose_shades(rows, probs, classes, vocab, base, 2, 0.8) == {"Blue": 0.8}
    counts = judge_shades(rows, probs, classes, vocab, base, {"Blue": 0.7})
    assert (counts.flagged_wrong, counts.flagged_confirmed, counts.flagged_ambiguous) == (3, 1, 1)
    assert choose_shades(rows, probs, classes, vocab, base, 3, 0.8) == {}  # never 3 wrong at 0.8 precision
