"""``python -m inference audit-flags``: the flags the audit confirms beyond the classifier's family flags,
chosen on the golden set by halves. Two kinds:

**Colours the classifier does not name.** The classifier only learns the catalogue's most common colours
(its classes). A garment in a vocabulary colour outside them (teal, turquoise) is read as the nearest class,
and since sellers tag such a garment now `Green`, now `Blue`, the classifier's reading agrees with whichever
tag it carries. The KD-tree names these colours. The command

1. shows how the catalogue's own tags name each such colour: the products of ``--split`` (training by
   default) whose garment the KD-tree reads mostly in it (``--min-share``), and their tags;
2. chooses the colours whose flags are right on the audit (``--audit``, the golden set of the validation
   split): a product tagged another colour whose garment reaches the share is flagged, and a colour is kept
   when its flags find at least ``--min-wrong`` wrong tags at precision >= ``--precision`` (right tags
   flagged count against it; ambiguous rows are counted apart).

**Shade flags, family by family.** A flag for another shade of the tag's family (navy tagged `Blue`,
maroon tagged `Red`) is right in some families and wrong in others (the classifier reads many a right
`Off White` as white). For each family, the shade threshold on P(tag wrong) is chosen from ``SHADE_GRID``:
the one whose shade flags find the most wrong tags, at least ``--min-wrong`` at precision >= ``--precision``
(the highest such threshold on a tie); a family where none does gets no shade flags.

Each choice is judged held out (chosen on one half of the audit, counted on the other, both ways, with the
classifier calibrated on the other half), then made on the whole audit and written into the classifier card
(``calibration.outside``, ``calibration.shade_families``), where the product's suggestions read it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from .common import add_pipeline_arguments

SHARES = (0.6, 0.7, 0.75, 0.8, 0.9)
#: shade thresholds on P(tag wrong) a family may get
SHADE_GRID = (0.7, 0.75, 0.8, 0.85, 0.9)


def add_arguments(p) -> None:
    p.add_argument("--data", default="../shared/data/fashion-products")
    p.add_argument("--split", default="train", help="split whose tags decide which colours no class claims")
    p.add_argument("--audit", default="benchmarks/golden/val_audit.csv",
                   help="audited tags of the validation split, to judge the flags on ('' to skip)")
    p.add_argument("--min-share", type=float, default=0.75,
                   help="share of the garment the KD-tree must read in the colour (for the split and the flags)")
    p.add_argument("--min-products", type=int, default=8,
                   help="products of the split read mostly in a colour needed to say which tag claims it")
    p.add_argument("--claimed", type=float, default=0.6,
                   help="a colour is claimed by a class when at least this share of its products carry that tag")
    p.add_argument("--min-wrong", type=int, default=2, help="wrong tags a colour's flags must find on the audit")
    p.add_argument("--precision", type=float, default=0.8, help="precision a colour's flags must reach on the audit")
    p.add_argument("--cache", default="var/cache", help="folder for the KD-tree readings of each split")
    p.add_argument("--readings", default="var/cache/calibration-readings.npz",
                   help="calibrate's cached readings: the classifier's flags judged together with these")
    p.add_argument("--no-write", action="store_true", help="measure only; leave the model card as it is")
    add_pipeline_arguments(p)


def shares_of(args, pipeline, split: str) -> dict[str, tuple[str, dict[str, float]]]:
    """id -> (catalogue tag, the garment's share in each vocabulary colour) for the split's apparel, cached
    per segmenter (the classifier is not run)."""
    from tqdm import tqdm

    from ..pipeline import ImageInput
    from ..suggest import colour_shares
    from ..train.cls_data import read_catalogue

    cache = Path(args.cache) / f"shares-{split}.json"
    if cache.is_file():
        data = json.loads(cache.read_text())
        if data.get("segmenter") == pipeline.segmenter.version:
            print(f"readings from {cache}")
            return {k: tuple(v) for k, v in data["items"].items()}
    rows = read_catalogue(args.data, ("Apparel",), (split,))
    items = {}
    for start in tqdm(range(0, len(rows), args.batch_size), desc=f"kd-tree over {split}", unit="batch"):
        chunk = rows[start:start + args.batch_size]
        results, _, _ = pipeline.analyse_batch([ImageInput(r.path, r.category, r.id) for r in chunk])
        for row, result in zip(chunk, results):
            if not result.error:
                items[row.id] = (row.color, colour_shares(result.dominant_colors))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"segmenter": pipeline.segmenter.version, "items": items}))
    return items


def unclaimed(items, outside: list[str], vocab, min_share: float, min_products: int, claimed: float) -> list[dict]:
    """For each colour outside the classes: how the split tags the products read mostly in it."""
    table = []
    for colour in outside:
        tags = Counter(vocab.match(tag) or tag for tag, shares in items.values() if shares.get(colour, 0) >= min_share)
        n = sum(tags.values())
        others = Counter({t: k for t, k in tags.items() if t != colour})
        top, top_n = others.most_common(1)[0] if others else ("", 0)
        table.append({"colour": colour, "products": n, "tags": dict(tags.most_common(4)),
                      "claimed_by": top if n and top_n / n >= claimed else None,
                      "unclaimed": n >= min_products and not (n and top_n / n >= claimed)})
    return table


def choose(rows, items, candidates: list[str], vocab, share: float, min_wrong: int, precision: float) -> list[str]:
    """The colours whose flags, alone, find at least ``min_wrong`` wrong tags at ``precision`` on ``rows``."""
    return [c for c in candidates if (f := judge(rows, items, [c], vocab, share)).flagged_wrong >= min_wrong
            and f.precision >= precision]


def judge(rows, items, colours: list[str], vocab, share: float):
    """The outside flags alone on the audited rows (``audit.FlagOutcome``: wrong, right and ambiguous tags
    flagged)."""
    from ..evaluate.audit import FlagOutcome
    from ..suggest import outside_flag

    out = FlagOutcome()
    for row in rows:
        key = row.image.removesuffix(".jpg")
        tag = vocab.match(row.seller_color)
        if key not in items or tag is None:
            continue
        kind = "wrong" if row.tag_wrong else "confirmed" if row.tag_right else "ambiguous"
        setattr(out, kind, getattr(out, kind) + 1)
        if outside_flag(items[key][1], tag, vocab, {c: share for c in colours}):
            setattr(out, f"flagged_{kind}", getattr(out, f"flagged_{kind}") + 1)
    return out


def _classifier_rule(card: dict):
    """The card's flag rule with the classifier's flags alone: no outside colours, no shade families (those
    are what this command chooses)."""
    from dataclasses import replace

    from ..suggest import thresholds_from_card

    return replace(thresholds_from_card(card.get("calibration", {})), outside=None, shade_families=None)


def shade_candidates(classes: list[str], vocab) -> list[str]:
    """The families with at least two of the classifier's classes: those a shade flag can be raised in."""
    families = Counter(vocab.family(c) for c in classes)
    return sorted(f for f, n in families.items() if f and n > 1)


def judge_shades(rows, probs, classes, vocab, base, families: dict[str, float]):
    """The shade flags of ``families`` alone on the audited rows (family flags and outside colours off)."""
    from dataclasses import replace

    from ..evaluate import audit

    alone = replace(base, mislabel=2.0, shade=None, outside=None, shade_families=families)
    return audit.judge_flags(rows, probs, classes, vocab, alone)


def choose_shades(rows, probs, classes, vocab, base, min_wrong: int, precision: float,
                  grid=SHADE_GRID) -> dict[str, float]:
    """Family -> the shade threshold of ``grid`` whose flags find the most wrong tags on ``rows``, at least
    ``min_wrong`` at ``precision`` (the highest threshold on a tie); a family where none does is left out."""
    chosen = {}
    for family in shade_candidates(classes, vocab):
        best = None
        for t in sorted(grid, reverse=True):
            f = judge_shades(rows, probs, classes, vocab, base, {family: t})
            found = f.flagged_wrong if f.flagged_wrong >= min_wrong and f.precision >= precision else 0
            if found and (best is None or found > best[1]):
                best = (t, found)
        if best:
            chosen[family] = best[0]
    return chosen


def _with_classifier(args, pipeline, readings, rows, val, outside, vocab) -> dict:
    """The product's whole flag rule on the audit (``audit.judge_flags``), both halves held out: the
    classifier's probabilities calibrated on the other half (``calibrate``'s cached readings), the outside
    colours and the shade families chosen on it."""
    from dataclasses import replace

    from ..evaluate import audit, study

    card, classes = pipeline.classifier.card, pipeline.classifier.classes
    penalty = 0.01 if card.get("calibration", {}).get("class_bias") else None
    probs = study.cross_fitted(readings, classes, tuple([1.0] * len(readings.members)), betas=(0.0,),
                               bias_penalty=penalty)
    by_image = {f"{k}.jpg": p for k, p in zip(readings.keys, probs)}
    shares = {f"{k}.jpg": s for k, s in zip(readings.keys, readings.shares)}
    base = _classifier_rule(card)
    names = ("classifier alone", "classifier and outside colours", "classifier, outside colours and shade flags")
    out = {name: audit.FlagOutcome() for name in names}
    choices = {}
    for k in (0, 1):
        fit = [r for r in rows if study.fold_of(r.image.removesuffix(".jpg")) != k]
        chosen = choose(fit, val, outside, vocab, args.min_share, args.min_wrong, args.precision)
        shades = choose_shades(fit, by_image, classes, vocab, base, args.min_wrong, args.precision)
        choices[f"chosen on half {1 - k}"] = {"outside": chosen, "shade_families": shades}
        held = [r for r in rows if study.fold_of(r.image.removesuffix(".jpg")) == k]
        colours = {c: args.min_share for c in chosen}
        rules = dict(zip(names, (base, replace(base, outside=colours),
                                 replace(base, outside=colours, shade_families=shades))))
        for name, th in rules.items():
            out[name].add(audit.judge_flags(held, by_image, classes, vocab, th, shares))
    return {**{name: f.as_dict() for name, f in out.items()}, "choices": choices}


def _counted(f) -> str:
    return (f"{f.flagged_wrong} of {f.wrong} wrong tags, {f.flagged_confirmed} of {f.confirmed} right tags, "
            f"{f.flagged_ambiguous} of {f.ambiguous} ambiguous flagged")


def run(args) -> int:
    from ..colors import default_vocabulary
    from ..evaluate.audit import load_audit
    from ..pipeline import Pipeline, PipelineConfig
    from ..weights import card_path

    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter, classifier=args.classifier),
                        weights_dir=args.weights_dir)
    classes = getattr(pipeline.classifier, "classes", None)
    if not classes or not (Path(args.data) / "styles.csv").is_file():
        print("error: needs the timm classifier and the catalogue's styles.csv", file=sys.stderr)
        return 2
    vocab = default_vocabulary()
    outside = [e.name for e in vocab.entries if e.name not in classes and e.kd]
    table = unclaimed(shares_of(args, pipeline, args.split), outside, vocab, args.min_share, args.min_products,
                      args.claimed)
    print(f"\ncolours the classifier does not name, and how the {args.split} split tags the products read at least "
          f"{args.min_share:.0%} in each (claimed: at least {args.claimed:.0%} of them carry one other tag)")
    for t in table:
        if t["products"]:
            verdict = "no class claims it" if t["unclaimed"] else (
                f"claimed by {t['claimed_by']}" if t["claimed_by"] else f"too few products (< {args.min_products})")
            tags = ", ".join(f"{k} {v}" for k, v in t["tags"].items())
            print(f"  {t['colour']:18s} {t['products']:4d} products ({tags}): {verdict}")
    if not (args.audit and Path(args.audit).is_file()):
        print("no audit: no colour is chosen")
        return 0
    from ..evaluate.audit import FlagOutcome
    from ..evaluate.study import fold_of, load_readings

    # calibrate's readings of the validation split hold the garments' shares too: read them once, not again
    readings = load_readings(args.readings, pipeline) if args.readings else None
    if readings is not None and readings.shares and getattr(pipeline.classifier, "card", None):
        val = {k: (tag, shares) for k, tag, shares in zip(readings.keys, readings.truth, readings.shares)}
    else:
        print(f"{args.readings}: no readings of these networks; run `python -m inference calibrate --no-write` to "
              "judge the outside colours together with the classifier's flags")
        readings, val = None, shares_of(args, pipeline, "val")
    rows, held_out = load_audit(args.audit), FlagOutcome()
    for k in (0, 1):
        fit = [r for r in rows if fold_of(r.image.removesuffix(".jpg")) != k]
        chosen = choose(fit, val, outside, vocab, args.min_share, args.min_wrong, args.precision)
        held_out.add(judge([r for r in rows if fold_of(r.image.removesuffix(".jpg")) == k], val, chosen, vocab,
                              args.min_share))
        print(f"chosen on half {1 - k}: {', '.join(chosen) or 'none'}")
    colours = choose(rows, val, outside, vocab, args.min_share, args.min_wrong, args.precision)
    per_colour = {c: judge(rows, val, [c], vocab, args.min_share) for c in outside}
    print(f"\nflags of each colour alone on the audit ({args.audit}; garment share >= {args.min_share}):")
    for c, f in per_colour.items():
        if f.flagged_wrong or f.flagged_confirmed or f.flagged_ambiguous:
            print(f"  {c:18s} {f.flagged_wrong:3d} wrong, {f.flagged_confirmed:3d} right, {f.flagged_ambiguous:3d} "
                  f"ambiguous tags flagged{' (chosen)' if c in colours else ''}")
    by_share = {f"{s:.2f}": judge(rows, val, colours, vocab, s) for s in SHARES}
    print(f"held out (chosen on one half, counted on the other): {_counted(held_out)}")
    print(f"chosen on the whole audit: {', '.join(colours) or 'none'}; by the garment's share:")
    for s, f in by_share.items():
        print(f"  share >= {s}: {_counted(f)}")
    figures = {"held_out": held_out.as_dict(), "by_share": {s: f.as_dict() for s, f in by_share.items()}}
    shades = None
    if readings is not None:
        held = _with_classifier(args, pipeline, readings, rows, val, outside, vocab)
        figures["with_classifier_held_out"] = held
        for half, c in held.pop("choices").items():
            print(f"{half}: shade flags in {_families(c['shade_families'])}")
        for name, f in held.items():
            print(f"with the classifier's flags ({name}; calibration, colours and shade families chosen on the "
                  f"other half, the card's thresholds): {f['flagged_wrong']} of {f['wrong']} wrong tags (recall "
                  f"{f['recall']:.3f}), {f['flagged_confirmed']} of {f['confirmed']} right tags (precision "
                  f"{f['precision']:.3f}), {f['flagged_ambiguous']} of {f['ambiguous']} ambiguous flagged")
        shades, per_family = _shipped_shades(args, pipeline, readings, rows, vocab)
    if args.no_write:
        return 0
    path = card_path("colornet", args.weights_dir)
    card = json.loads(path.read_text())
    calibration = card.setdefault("calibration", {})
    calibration["outside"] = {
        "colours": {c: args.min_share for c in colours}, "split": args.split, "min_share": args.min_share,
        "min_wrong": args.min_wrong, "precision": args.precision, "catalogue_tags": table, "audit": figures}
    if shades is not None:
        calibration["shade_families"] = {"families": shades, "grid": list(SHADE_GRID), "min_wrong": args.min_wrong,
                                         "precision": args.precision, "audit": per_family}
    path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"written to {path}: outside colours {', '.join(colours) or 'none'}; shade flags in "
          f"{_families(shades or {})}")
    return 0


def _families(shades: dict[str, float]) -> str:
    return ", ".join(f"{f} (P(tag wrong) >= {t})" for f, t in shades.items()) or "no family"


def _shipped_shades(args, pipeline, readings, rows, vocab) -> tuple[dict[str, float], dict]:
    """The shade families chosen on the whole audit, with the probabilities the product computes (the card's
    calibration), and each family's shade flags at every threshold of the grid."""
    classes = pipeline.classifier.classes
    probs = pipeline.classifier.combine(readings.members)
    by_image = {f"{k}.jpg": p for k, p in zip(readings.keys, probs)}
    base = _classifier_rule(pipeline.classifier.card)
    shades = choose_shades(rows, by_image, classes, vocab, base, args.min_wrong, args.precision)
    per_family = {}  # family -> threshold -> [wrong, right, ambiguous tags flagged]
    for family in shade_candidates(classes, vocab):
        judged = {t: judge_shades(rows, by_image, classes, vocab, base, {family: t}) for t in SHADE_GRID}
        per_family[family] = {str(t): [f.flagged_wrong, f.flagged_confirmed, f.flagged_ambiguous]
                              for t, f in judged.items()}
    print(f"\nshade flags of each family alone on the whole audit (wrong / right / ambiguous tags flagged at "
          f"P(tag wrong) >= {', '.join(map(str, SHADE_GRID))}):")
    for family, by_t in per_family.items():
        cells = "  ".join("/".join(map(str, counts)) for counts in by_t.values())
        chosen = f" (chosen: {shades[family]})" if family in shades else ""
        print(f"  {family:10s} {cells}{chosen}")
    return shades, per_family
