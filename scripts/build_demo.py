"""Build the bundled demo catalogue from the shared Fashion Product Images data.

100 apparel products of the validation split (never used for training; half drawn as the
catalogue has them, half spread over the colours), with the
catalogue's own colour tags made noisy the way seller tags are: 26% removed, 11% copied
from a product of another colour, a few written in other spellings, one in words the
vocabulary does not know, and one truncated image file.

    python scripts/build_demo.py --source ../shared/data/fashion-products --out demo
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from collections import defaultdict
from pathlib import Path

SPELLINGS = {"Navy Blue": "navy", "Off White": "off-white", "Grey": "GRAY", "Black": "black ",
             "White": "white", "Blue": "BLUE"}



def _singular(name: str) -> str:
    """dresses -> dress, shirts -> shirt; nightdress and other words ending in ss stay as they are."""
    if name.endswith("sses"):
        return name[:-2]
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="../shared/data/fashion-products")
    p.add_argument("--out", default="demo")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    rng = random.Random(args.seed)
    src, out = Path(args.source), Path(args.out)
    with open(src / "styles.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["masterCategory"] == "Apparel" and r["split"] == "val"]
    by_color = defaultdict(list)
    for r in rows:
        by_color[r["baseColour"]].append(r)
    pool = [r for rs in by_color.values() for r in rs]
    picked = rng.sample(pool, args.count // 2)  # half as the catalogue has them
    for r in picked:
        by_color[r["baseColour"]].remove(r)
    while len(picked) < args.count:  # half round-robin over colours, so rare colours appear too
        for color in sorted(by_color, key=lambda c: -len(by_color[c])):
            if by_color[color] and len(picked) < args.count:
                picked.append(by_color[color].pop(rng.randrange(len(by_color[color]))))
    rng.shuffle(picked)
    (out / "images").mkdir(parents=True, exist_ok=True)
    colors = sorted({r["baseColour"] for r in picked})
    n_missing, n_wrong = round(0.26 * len(picked)), round(0.11 * len(picked))
    noise = ["missing"] * n_missing + ["wrong"] * n_wrong + ["clean"] * (len(picked) - n_missing - n_wrong)
    rng.shuffle(noise)
    catalog, truth = [], []
    for r, kind in zip(picked, noise):
        sku = f"DEMO-{r['id']}"
        image = f"images/{r['id']}.jpg"
        shutil.copyfile(src / "images" / f"{r['id']}.jpg", out / image)
        tag = r["baseColour"]
        if kind == "missing":
            tag = ""
        elif kind == "wrong":
            tag = rng.choice([c for c in colors if c != r["baseColour"]])
        elif tag in SPELLINGS and rng.random() < 0.3:
            tag = SPELLINGS[tag]
        # a title must not give the colour away
        title = f"{r['gender']} {_singular(r['articleType'].lower())} ({r['usage'] or 'Casual'})"
        catalog.append({"sku": sku, "title": title, "category": r["articleType"], "image": image,
                        "seller_color": tag, "gender": r["gender"], "season": r["season"], "usage": r["usage"]})
        truth.append({"sku": sku, "image": image, "category": r["articleType"],
                      "true_color": r["baseColour"], "noise": kind})
    catalog[3]["seller_color"] = "Sunset Glow"  # a colour name no vocabulary knows
    truth[3]["noise"] = "unmapped"
    broken = out / catalog[5]["image"]
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])  # a truncated upload
    truth[5]["noise"] += "+truncated_image"
    for name, data in (("catalog.csv", catalog), ("truth.csv", truth)):
        with open(out / name, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(data)
    print(f"wrote {len(catalog)} products to {out}: {n_missing} tags removed, {n_wrong} wrong")


if __name__ == "__main__":
    main()
