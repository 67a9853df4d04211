"""``python -m inference predict PATH... --out preds.csv``."""

from __future__ import annotations

import csv
import sys

from tqdm import tqdm

from .common import add_pipeline_arguments, category_for, expand_paths, read_categories

COLUMNS = ["image", "predicted_color", "confidence", "dominant_colors", "seconds"]


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", help="image files or folders of images")
    p.add_argument("--out", required=True, help="CSV to write")
    p.add_argument("--categories", default=None, help="optional CSV with columns image,category")
    p.add_argument("--with-details", action="store_true", help="also write region, flags and error columns")
    add_pipeline_arguments(p)


def run(args) -> int:
    from ..pipeline import ImageInput, Pipeline, PipelineConfig

    paths = expand_paths(args.paths)
    if not paths:
        print("error: no images found", file=sys.stderr)
        return 2
    lookup = read_categories(args.categories)
    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter, classifier=args.classifier),
                        weights_dir=args.weights_dir)
    columns = COLUMNS + (["region", "flags", "error"] if args.with_details else [])
    failed = 0
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for start in tqdm(range(0, len(paths), args.batch_size), desc="predict", unit="batch",
                          total=-(-len(paths) // args.batch_size)):
            chunk = paths[start:start + args.batch_size]
            results = pipeline.predict_batch(
                [ImageInput(p, category_for(p, lookup), str(p)) for p in chunk])
            for path, r in zip(chunk, results):
                failed += not r.ok
                row = [str(path), r.predicted_color or "", "" if r.confidence is None else f"{r.confidence:.4f}",
                       r.dominant_text(), f"{r.seconds:.4f}"]
                if args.with_details:
                    row += [r.region or "", " ".join(r.flags), r.error or ""]
                writer.writerow(row)
                if r.error:
                    print(f"{path}: {r.error}", file=sys.stderr)
    print(f"wrote {len(paths)} rows to {args.out} ({failed} without a prediction); "
          f"pipeline {pipeline.version}", file=sys.stderr)
    return 0 if failed < len(paths) else 1
