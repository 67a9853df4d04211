"""The validation readings that ``python -m inference calibrate --no-write`` caches, with the shipped card."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load(cache: str | Path):
    """(Readings, the shipped classifier card), or None after saying why the cache cannot be used."""
    from inference.evaluate import study

    if not Path(cache).is_file():
        print(f"{cache} is missing: run `python -m inference calibrate --no-write` first", file=sys.stderr)
        return None
    with np.load(cache) as data:
        keys, truth = [str(k) for k in data["keys"]], [str(t) for t in data["truth"]]
        members = [data[f"member{i}"] for i in range(int(data["n_members"]))]
        kd = data["kd"]
    card = json.loads((ROOT / "inference/weights/colornet.json").read_text())
    if len(members) != 1 + len(card.get("ensemble", [])):
        print(f"{cache} holds {len(members)} members, the shipped card {1 + len(card.get('ensemble', []))}: "
              "run calibrate --no-write again", file=sys.stderr)
        return None
    return study.Readings(keys, truth, members, kd, {}), card
