"""Images/s of the pipeline's garment reading (region, dominant colours, the classifier's crop), the
per-image CPU step after the segmenter: in one thread, in the pipeline's thread pool, and in reading
processes (what a GPU host uses, so that this step does not cap its GPU).

    python benchmarks/reading.py --images 256 --processes 1,2

Images: the shared catalogue's val photos when present, else the bundled demo photos, segmented first
(not timed). Every way must give the same readings; the script checks it.

Then the whole pipeline with its networks replaced by instant stand-ins (the masks computed above, and
uniform probabilities): images/s of everything around the networks, from encoded bytes to decided
colours, at batch 256. On a GPU host the networks take a fraction of that time, so this is the ceiling
that the CPU steps put on a GPU worker with as many cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _photos(count: int) -> list[Path]:
    shared = ROOT.parent / "shared/data/fashion-products/images"
    photos = sorted(shared.glob("*.jpg"))[:count] if shared.is_dir() else []
    return photos or sorted((ROOT / "demo/images").glob("*.jpg"))[:count]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--processes", default="1,2", help="reading process counts to time")
    p.add_argument("--repeats", type=int, default=3, help="best of this many passes")
    args = p.parse_args()
    from machine import describe

    from inference.imageio import load_image
    from inference.pipeline import POOL_THREADS, Pipeline, PipelineConfig
    from inference.reading import ReadingPool, read_garment

    pipeline = Pipeline(PipelineConfig(reading_processes=0))
    photos = _photos(args.images)
    rgbs = [load_image(p).rgb for p in photos]
    segs = [s for i in range(0, len(rgbs), 8) for s in pipeline.segmenter.segment_batch(rgbs[i:i + 8])]
    jobs = [(rgb, seg, "Tshirts") for rgb, seg in zip(rgbs, segs)]
    print(f"{describe()} | load average {os.getloadavg()[0]:.1f} | {len(jobs)} photos")

    def one_thread():
        return [read_garment(pipeline.reading, pipeline.namer, *job) for job in jobs]

    def thread_pool():
        with ThreadPoolExecutor(POOL_THREADS) as pool:
            return list(pool.map(lambda job: read_garment(pipeline.reading, pipeline.namer, *job), jobs))

    ways = {"one thread": one_thread, f"thread pool ({POOL_THREADS} threads)": thread_pool}
    pools = []
    for n in [int(x) for x in args.processes.split(",") if x]:
        pool = ReadingPool(pipeline.reading, n)
        [f.result() for _, f in pool.submit(jobs[:n])]  # start the processes before timing
        pools.append(pool)
        ways[f"{n} reading processes"] = lambda pool=pool: [r for _, f in pool.submit(jobs) for r in f.result()]
    reference = None
    for name, way in ways.items():
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            readings = way()
            best = min(best, time.perf_counter() - started)
        summary = [(r.region, tuple(d.hex for d in r.dominant_colors), None if r.crop is None else int(r.crop.sum()))
                   for r in readings]
        reference = reference or summary
        same = "same readings" if summary == reference else "READINGS DIFFER"
        print(f"{name:>28}: {len(jobs) / best:8.1f} images/s ({best * 1000 / len(jobs):.2f} ms per image; {same})")
    for pool in pools:
        pool.close()
    around_the_networks(photos, segs, [0] + [int(x) for x in args.processes.split(",") if x])


def around_the_networks(photos: list[Path], segs: list, processes: list[int], batch: int = 256) -> None:
    import numpy as np

    from inference.pipeline import ImageInput, Pipeline, PipelineConfig

    data = [p.read_bytes() for p in photos]
    masks = {hash(d): s for d, s in zip(data, segs)}
    inputs = [ImageInput(data[i % len(data)], "Tshirts", str(i)) for i in range(max(batch, len(data)))][:batch]
    for n in processes:
        pipeline = Pipeline(PipelineConfig(reading_processes=n))
        order: list = []
        real_decode = pipeline._decoded_chunks

        def decoded(items, results, pool, real_decode=real_decode, order=order):
            order[:] = [masks[hash(item.source)] for item in items]
            return real_decode(items, results, pool)

        def stand_in_segmenter(rgbs, order=order):
            taken, order[:] = order[:len(rgbs)], order[len(rgbs):]
            return taken

        classes = len(pipeline.classifier.classes)

        def stand_in_classifier(views, classes=classes):
            np.stack(views["garment"])  # the copy a real classifier makes of its inputs
            return np.full((len(views["garment"]), classes), 1 / classes)

        pipeline._decoded_chunks, pipeline._segment = decoded, stand_in_segmenter
        pipeline.classifier.predict_proba = stand_in_classifier
        pipeline.predict_batch(inputs)  # warm-up: starts the reading processes
        started = time.perf_counter()
        results = pipeline.predict_batch(inputs)
        seconds = time.perf_counter() - started
        where = f"{n} reading processes" if n else "the thread pool"
        print(f"pipeline around the networks, batch {batch}, reading in {where}: {batch / seconds:8.1f} images/s "
              f"({sum(r.ok for r in results)} decided)")
        if pipeline.reading_pool is not None:
            pipeline.reading_pool.close()


if __name__ == "__main__":
    main()
