"""``python -m inference outside-colours``: colours the classifier does not name and the catalogue's tags
do not agree on, found on a split's own tags; flags for them judged on the audit.

The classifier only learns the catalogue's most common colours (its classes). A garment in a vocabulary
colour outside them (teal, turquoise) is read as the nearest class, and since sellers tag such a garment
now `Green`, now `Blue`, the classifier's reading agrees with whichever wrong tag it carries. The KD-tree
names these colours. For each vocabulary colour outside the classes, this command takes the products of
``--split`` (the training split by default) whose garment the KD-tree reads mostly in that colour
(``--min-share``) and counts their tags. A colour that one class claims (most such products are tagged
with it: mid-greens read "Sea Green" are tagged `Green`) is that class to the catalogue and raises nothing;
a colour no class claims is written into the classifier card (``calibration.outside``): a product tagged
another colour whose garment is mostly in it is flagged, naming the colour.

With an audit (``--audit``, the golden set of the validation split) the flags this adds are judged on the
real tags at several shares: wrong tags found, right tags flagged, ambiguous rows flagged.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from .common import add_pipeline_arguments

SHARES = (0.6, 0.7, 0.75, 0.8, 0.9)


def add_arguments(p) -> None:
    p.add_argument("--data", default="../shared/data/fashion-products")
    p.add_argument("--split", default="train", help="split whose tags decide which colours no class claims")
    p.add_argument("--audit", default="benchmarks/golden/val_audit.csv",
                   help="audited tags of the validation split, to judge the flags on ('' to skip)")
    p.add_argument("--min-share", type=float, default=0.75,
                   help="share of the garment the KD-tree must read in the colour (for the split and the flags)")
    p.add_argument("--min-products", type=int, default=8,
                   help="products of the split read mostly in a colour needed to judge it")
    p.add_argument("--claimed", type=float, default=0.6,
                   help="a colour is claimed by a class when at least this share of its products carry that tag")
    p.add_argument("--cache", default="var/cache", help="folder for the KD-tree readings of each split")
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


def judge(rows, items, colours: list[str], vocab, share: float) -> dict:
    """The outside flags alone on the audited rows: wrong, right and ambiguous tags flagged."""
    from ..suggest import outside_flag

    out = Counter()
    for row in rows:
        key = row.image.removesuffix(".jpg")
        tag = vocab.match(row.seller_color)
        if key not in items or tag is None:
            continue
        kind = "wrong" if row.tag_wrong else "right" if row.tag_right else "ambiguous"
        out[kind] += 1
        if outside_flag(items[key][1], tag, vocab, {c: share for c in colours}):
            out[f"flagged_{kind}"] += 1
    return dict(out)


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
    print(f"\ncolours the classifier does not name; {args.split} products read at least {args.min_share:.0%} in each "
          f"(claimed: at least {args.claimed:.0%} of them carry one other tag)")
    for t in table:
        if t["products"]:
            verdict = "no class claims it: flagged" if t["unclaimed"] else (
                f"claimed by {t['claimed_by']}" if t["claimed_by"] else f"too few products (< {args.min_products})")
            tags = ", ".join(f"{k} {v}" for k, v in t["tags"].items())
            print(f"  {t['colour']:18s} {t['products']:4d} products ({tags}): {verdict}")
    colours = [t["colour"] for t in table if t["unclaimed"]]
    figures = None
    if args.audit and Path(args.audit).is_file() and colours:
        rows = load_audit(args.audit)
        val = shares_of(args, pipeline, "val")
        figures = {f"{s:.2f}": judge(rows, val, colours, vocab, s) for s in SHARES}
        print(f"\nflags for {', '.join(colours)} alone on the audit ({args.audit}), by the share of the garment:")
        for s, f in figures.items():
            print(f"  share >= {s}: {f.get('flagged_wrong', 0)} of {f.get('wrong', 0)} wrong tags, "
                  f"{f.get('flagged_right', 0)} of {f.get('right', 0)} right tags, {f.get('flagged_ambiguous', 0)} of "
                  f"{f.get('ambiguous', 0)} ambiguous flagged")
    if args.no_write:
        return 0
    path = card_path("colornet", args.weights_dir)
    card = json.loads(path.read_text())
    card.setdefault("calibration", {})["outside"] = {
        "colours": {c: args.min_share for c in colours}, "split": args.split, "min_share": args.min_share,
        "claimed": args.claimed, "min_products": args.min_products, "table": table, "audit": figures}
    path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"outside colours written to {path}: {', '.join(colours) or 'none'}")
    return 0
