"""Images/s of the colour pipeline on a GPU, end to end from encoded image bytes (what a worker holds
after reading the media storage): decode in the thread pool, U2-Net, garment colours, the classifier
ensemble, fusion; the database write is not included.

    python benchmarks/gpu.py --batches 64,256 --images 1024

Images: the bundled demo photos, repeated. Models load and warm up (cuDNN autotuning) first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", default="64,256")
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--segmenter", default=None, help="segmenter registry name (default: the pipeline's)")
    p.add_argument("--allow-cpu", action="store_true", help="a dry run of this script on a CPU")
    args = p.parse_args()
    import torch

    from inference.pipeline import POOL_THREADS, ImageInput, Pipeline, PipelineConfig

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit("no CUDA device: this benchmark is for a GPU host")
    photos = sorted((ROOT / "demo/images").glob("*.jpg"))
    data = [(p.read_bytes(), "Tshirts") for p in photos]
    inputs = [ImageInput(data[i % len(data)][0], data[i % len(data)][1], str(i)) for i in range(args.images)]
    config = PipelineConfig(keep_masks=True)
    pipeline = Pipeline(replace(config, segmenter=args.segmenter) if args.segmenter else config)
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (dry run)"
    readers = pipeline.reading_pool.processes if pipeline.reading_pool else 0
    print(f"{name} | torch {torch.__version__} | {os.cpu_count()} CPU cores, "
          f"{POOL_THREADS} decode threads, {readers} reading processes | device {pipeline.device} | "
          f"{len(inputs)} images a pass")
    for batch in [int(b) for b in args.batches.split(",")]:
        pipeline.predict_batch(inputs[:batch])  # warm-up at this shape
        _sync()
        started = time.perf_counter()
        ok, parts = 0, dict.fromkeys(("analyse", "classify", "decide"), 0.0)
        for i in range(0, len(inputs), batch):
            ok += sum(r.ok for r in _predict_timed(pipeline, inputs[i:i + batch], parts))
        _sync()
        seconds = time.perf_counter() - started
        print(f"batch {batch:>4}: {len(inputs) / seconds:8.1f} images/s end to end "
              f"({ok} predicted, peak GPU memory {_peak_gib():.1f} GiB)", flush=True)
        print("            in the timed passes (ms per image): "
              + ", ".join(f"{k} {v * 1000 / len(inputs):.2f}" for k, v in parts.items()))
        analyse, classify = _split(pipeline, inputs[:batch])
        print(f"            one batch: {analyse:.3f} s decode+segment+colours, {classify:.3f} s classify")
        print("            its stages one after the other (ms per image): "
              + ", ".join(f"{k} {v * 1000 / batch:.2f}" for k, v in _stages(pipeline, inputs[:batch]).items()))


def _predict_timed(pipeline, batch, parts: dict[str, float]):
    """``Pipeline.predict_batch``, step by step, adding each step's seconds to ``parts``."""
    t0 = time.perf_counter()
    results, views, usable = pipeline.analyse_batch(batch)
    t1 = time.perf_counter()
    probs = []
    if usable:
        with pipeline.autocast():
            probs = pipeline.classifier.predict_proba(views)
    t2 = time.perf_counter()
    for i, p in zip(usable, probs):
        pipeline._decide(results[i], p)
    t3 = time.perf_counter()
    for key, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
        parts[key] += seconds
    return results


def _stages(pipeline, batch) -> dict[str, float]:
    """Seconds of each step of ``analyse_batch`` run alone, to see which one caps the GPU: decoding and the
    garment reading in the thread pool and on one thread, segmentation (network and mask resizing)."""
    from inference.pipeline import ColorPrediction, _decode, worker_pool

    pool, out = worker_pool(), {}
    started = time.perf_counter()
    rgbs = list(pool.map(_decode, [item.source for item in batch]))
    batch = [item for item, rgb in zip(batch, rgbs) if isinstance(rgb, np.ndarray)]  # unreadable ones left out
    rgbs = [rgb for rgb in rgbs if isinstance(rgb, np.ndarray)]
    out["decode (pool)"] = time.perf_counter() - started
    started = time.perf_counter()
    with pipeline.autocast():
        segs = pipeline._segment(rgbs)
    _sync()
    out["segment"] = time.perf_counter() - started

    def read(i: int):
        return pipeline._read_garment(ColorPrediction(key=None), rgbs[i], segs[i], batch[i].category)

    started = time.perf_counter()
    list(pool.map(read, range(len(rgbs))))
    out["garment + colours (pool)"] = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(len(rgbs)):
        read(i)
    out["garment + colours (one thread)"] = time.perf_counter() - started
    if pipeline.reading_pool is not None:
        started = time.perf_counter()
        parts = pipeline.reading_pool.submit([(rgbs[i], segs[i], batch[i].category) for i in range(len(rgbs))])
        [f.result() for _, f in parts]
        out[f"garment + colours ({pipeline.reading_pool.processes} processes)"] = time.perf_counter() - started
    return out


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0


def _split(pipeline, batch) -> tuple[float, float]:
    started = time.perf_counter()
    _, views, usable = pipeline.analyse_batch(batch)
    _sync()
    middle = time.perf_counter()
    with pipeline.autocast():
        pipeline.classifier.predict_proba(views)
    _sync()
    return middle - started, time.perf_counter() - middle


if __name__ == "__main__":
    main()
