"""Where a pipeline run's time goes, in one process (the task code that a worker runs), per batch size.

    python benchmarks/stages.py --count 96 --batches 1,8,32

Products are the shared catalogue's val apparel photos, imported into a private SQLite database.
Per batch size: images/s of the run end to end (storage read, decode, segment, colours, classify,
store: prediction, mask, suggestion, product state) and the seconds per image spent in each stage.
Decoding and colour reading run in a thread pool beside the networks, so the stages may add up to
more than the wall time. Models are loaded and warmed up before timing.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_env  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)


def timed(stage: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[stage] += time.perf_counter() - started

    return wrapper


def instrument() -> None:
    import inference.pipeline as pipeline_module
    from colorreview.services import predictions

    pipeline = predictions.current_pipeline()
    pipeline_module._decode = timed("decode", pipeline_module._decode)
    pipeline_module.Pipeline._segment = timed("segment", pipeline_module.Pipeline._segment)
    pipeline_module.read_garment = timed("colours", pipeline_module.read_garment)
    pipeline.classifier.predict_proba = timed("classify", pipeline.classifier.predict_proba)
    predictions.media_read_many = timed("read", predictions.media_read_many)
    from colorreview.services import storage

    # storing: the prediction's fields (mask PNG included), then the batch's rows
    predictions._prediction_fields = timed("store", predictions._prediction_fields)
    for name in ("predictions_create", "suggestions_for", "products_finish"):
        setattr(storage, name, timed("store", getattr(storage, name)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=96)
    p.add_argument("--batches", default="1,8,32")
    args = p.parse_args()
    bench_env.setup()
    import torch
    from django.conf import settings
    from machine import describe

    from colorreview.services.predictions import pipeline_run_create
    from colorreview.services.runs import pipeline_run_here

    warm = bench_env.import_photos(8, prefix="W")
    pipeline_run_here(plan=pipeline_run_create(product_ids=warm))
    instrument()
    print(describe(), f"| load average {os.getloadavg()[0]:.1f} | torch threads {torch.get_num_threads()} | "
          f"{args.count} photos, mostly 224x224 and 225x300")
    print(f"{'batch':>5} {'images/s':>9}   seconds per image: " + " ".join(
        f"{s:>8}" for s in ("read", "decode", "segment", "colours", "classify", "store")))
    for i, batch in enumerate(int(b) for b in args.batches.split(",")):
        # other photos for each batch size: a prediction is shared by every product with the same image
        ids = bench_env.import_photos(args.count, offset=8 + i * args.count, prefix=f"B{batch}-")
        bench_env.forget_masks()
        settings.COLORREVIEW_BATCH_SIZE = batch
        SPENT.clear()
        plan = pipeline_run_create(product_ids=ids)
        started = time.perf_counter()
        run = pipeline_run_here(plan=plan)
        wall = time.perf_counter() - started
        assert run.done + run.failed == len(ids), (run.done, run.failed)
        per = {k: v / len(ids) for k, v in SPENT.items()}
        print(f"{batch:>5} {len(ids) / wall:>9.2f}   {'':>19}" + " ".join(
            f"{per.get(s, 0):>8.4f}" for s in ("read", "decode", "segment", "colours", "classify", "store")))


if __name__ == "__main__":
    main()
