"""Draws an audit sample from the shared `val` split and lays it out as contact sheets.

Each sheet shows a few catalogue images at a size where colour can be judged, each under its number,
article type and the catalogue's tag; no model output is shown. A blank verdict file lists the same
rows for the reviewer to fill in (see README.md for the protocol).

    python benchmarks/golden/audit_sheets.py --exclude benchmarks/golden/val_audit.csv \
        --count 450 --seed 2027 --out var/audit
"""
from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CLASSES = [
    "Beige", "Black", "Blue", "Brown", "Charcoal", "Cream", "Green", "Grey", "Grey Melange", "Khaki",
    "Lavender", "Magenta", "Maroon", "Multi", "Navy Blue", "Off White", "Olive", "Orange", "Peach", "Pink",
    "Purple", "Red", "White", "Yellow",
]
TILE = (330, 440)
COLUMNS, ROWS = 3, 2


def population(styles: Path, split: str = "val") -> list[dict]:
    with styles.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if r["split"] == split and r["masterCategory"] == "Apparel" and r["baseColour"] in CLASSES]
    return sorted(rows, key=lambda r: int(r["id"]))


def draw_sheet(rows: list[dict], images: Path, first_number: int) -> Image.Image:
    label_h = 44
    sheet = Image.new("RGB", (COLUMNS * TILE[0], ROWS * (TILE[1] + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    for k, row in enumerate(rows):
        x, y = (k % COLUMNS) * TILE[0], (k // COLUMNS) * (TILE[1] + label_h)
        with Image.open(images / f"{row['id']}.jpg") as im:
            im = im.convert("RGB")
            im.thumbnail((TILE[0] - 10, TILE[1] - 10), Image.Resampling.LANCZOS)
            if im.width < TILE[0] - 10 and im.height < TILE[1] - 10:
                scale = min((TILE[0] - 10) / im.width, (TILE[1] - 10) / im.height)
                im = im.resize((int(im.width * scale), int(im.height * scale)), Image.Resampling.LANCZOS)
            sheet.paste(im, (x + (TILE[0] - im.width) // 2, y + (TILE[1] - im.height) // 2))
        draw.text((x + 6, y + TILE[1]), f"#{first_number + k}  {row['articleType']}", fill="black", font=font)
        draw.text((x + 6, y + TILE[1] + 21), f"tag: {row['baseColour']}", fill="#1a237e", font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", type=Path, default=Path("../shared/data/fashion-products/styles.csv"))
    parser.add_argument("--images", type=Path, default=Path("../shared/data/fashion-products/images"))
    parser.add_argument("--exclude", type=Path, action="append", default=[], help="audit files already done")
    parser.add_argument("--count", type=int, default=450)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", type=Path, default=Path("var/audit"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--ids", type=Path, default=None,
                        help="draw from the products listed in this CSV (an id column) instead, e.g. likely tag "
                             "errors from label-issues that have an issue_rank")
    args = parser.parse_args()

    done = set()
    for path in args.exclude:
        with path.open(newline="") as fh:
            done |= {r["image"] for r in csv.DictReader(fh)}
    pool = [r for r in population(args.styles, args.split) if f"{r['id']}.jpg" not in done]
    if args.ids:
        with args.ids.open(newline="") as fh:
            wanted = {r["id"] for r in csv.DictReader(fh) if r.get("issue_rank", "x")}
        pool = [r for r in pool if r["id"] in wanted]
    sample = random.Random(args.seed).sample(pool, min(args.count, len(pool)))
    args.out.mkdir(parents=True, exist_ok=True)
    per_sheet = COLUMNS * ROWS
    with (args.out / "blank.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", "image", "category", "seller_color", "verdict", "color"])
        for number, row in enumerate(sample, start=1):
            writer.writerow([number, f"{row['id']}.jpg", row["articleType"], row["baseColour"], "", ""])
    for start in range(0, len(sample), per_sheet):
        sheet = draw_sheet(sample[start:start + per_sheet], args.images, start + 1)
        sheet.save(args.out / f"sheet_{start // per_sheet + 1:03d}.png")
    print(f"{len(sample)} products from a pool of {len(pool)}; sheets in {args.out}")


if __name__ == "__main__":
    main()
