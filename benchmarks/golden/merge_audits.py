"""Merges two raters' verdict files into the golden set's rows.

A product keeps a colour only where both raters agree on it; a tag counts as wrong only where both
raters call it wrong (the right colour kept only where they name the same one); every other
disagreement is recorded as ``ambiguous`` with both verdicts in ``verdicts``.

    python benchmarks/golden/merge_audits.py --first var/audit/verdicts_A.csv var/audit/verdicts_B.csv \
        var/audit/verdicts_C.csv --second var/audit/verdicts_all.csv --append benchmarks/golden/val_audit.csv
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

COLUMNS = ["image", "category", "seller_color", "verdict", "color", "raters", "verdicts"]
WRONG_NO_COLOUR = "wrong, no single right colour"


def _read(paths: list[Path]) -> dict[str, dict]:
    rows = {}
    for path in paths:
        with path.open(newline="") as fh:
            rows.update({r["image"]: r for r in csv.DictReader(fh)})
    return rows


def merge_pair(a: dict, b: dict) -> tuple[str, str]:
    """(verdict, colour) of one product from two raters' rows."""
    va, vb = a["verdict"], b["verdict"]
    if va == vb == "confirmed":
        return "confirmed", a["seller_color"]
    if va.startswith("wrong") and vb.startswith("wrong"):
        if a["color"] and a["color"] == b["color"]:
            return (va if va == vb else "wrong colour"), a["color"]
        return WRONG_NO_COLOUR, ""
    return "ambiguous", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=Path, nargs="+", required=True)
    parser.add_argument("--second", type=Path, nargs="+", required=True)
    parser.add_argument("--append", type=Path, required=True, help="the golden set to extend (rewritten)")
    args = parser.parse_args()
    first, second = _read(args.first), _read(args.second)
    missing = sorted(set(first) ^ set(second))
    if missing:
        raise SystemExit(f"the raters' files cover different products: {missing[:5]}")
    with args.append.open(newline="") as fh:
        existing = [{**r, "raters": r.get("raters") or "1", "verdicts": r.get("verdicts") or r["verdict"]}
                    for r in csv.DictReader(fh)]
    known = {r["image"] for r in existing}
    added = []
    for image in sorted(first, key=lambda k: int(first[k]["number"])):
        if image in known:
            continue
        a, b = first[image], second[image]
        verdict, colour = merge_pair(a, b)
        added.append({"image": image, "category": a["category"], "seller_color": a["seller_color"],
                      "verdict": verdict, "color": colour, "raters": "2",
                      "verdicts": f"{a['verdict']}|{b['verdict']}"})
    with args.append.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(existing + added)
    agreed = sum(r["verdicts"].split("|")[0] == r["verdicts"].split("|")[1] for r in added)
    print(f"{len(existing)} rows kept, {len(added)} added; the raters gave the same verdict on {agreed}")


if __name__ == "__main__":
    main()
