"""Speed of the colour pipeline on this machine: the whole pipeline and the classifier alone.

    python benchmarks/pipeline.py --data ../shared/data/fashion-products --count 128 --batch 32

Images: apparel of the shared val split with their article type as category. The
pipeline figure covers decoding, segmentation, garment selection, dominant colours and
the classifier ensemble; the classifier figure covers its views of already-cut garments.
Models are loaded (and warmed up on one batch) before timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/fashion-products"))
    p.add_argument("--count", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    args = p.parse_args()

    import torch

    from inference.pipeline import ImageInput, Pipeline
    from inference.train.cls_data import read_catalogue

    rows = read_catalogue(args.data, ("Apparel",), ("val",))[: args.count + args.batch]
    warm, rows = rows[: args.batch], rows[args.batch:]
    pipeline = Pipeline()
    pipeline.predict_batch([ImageInput(r.path, r.category) for r in warm])
    views_all, started = [], time.perf_counter()
    for i in range(0, len(rows), args.batch):
        chunk = [ImageInput(r.path, r.category) for r in rows[i:i + args.batch]]
        results, views, usable = pipeline.analyse_batch(chunk)
        if usable:
            pipeline.classifier.predict_proba(views)
        views_all.append(views)
    total = time.perf_counter() - started
    n_views = sum(len(v["garment"]) for v in views_all)
    started = time.perf_counter()
    for views in views_all:
        pipeline.classifier.predict_proba(views)
    classifier = time.perf_counter() - started
    from machine import describe

    print(describe())
    print(f"threads {torch.get_num_threads()}, batch {args.batch}, {len(rows)} images ({n_views} with a garment)")
    print(f"full pipeline:   {len(rows) / total:6.2f} images/s")
    print(f"classifier only: {n_views / classifier:6.2f} images/s ({pipeline.classifier.describe()['members']})")


if __name__ == "__main__":
    main()
