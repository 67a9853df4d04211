"""Images/s end to end through real Celery workers on Redis: 1 and 2 worker processes, batch 1/8/32.

    python benchmarks/workers.py --count 64 --workers 1,2 --batches 1,8,32 [--redis redis://127.0.0.1:6379/6]

The run is created and queued by this process (as the dashboard does); the workers read the images from
the media storage, decode, segment, read colours, classify and store predictions, masks and
suggestions in a private SQLite database. The clock runs from queuing the run to its end. Each
configuration reads new products (the shared catalogue's val apparel photos). Models are loaded and
warmed up before timing. With 2 workers each process gets half the cores for torch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_env  # noqa: E402


def start_workers(n: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    threads = str(max(1, (os.cpu_count() or 1) // n))
    out = []
    for i in range(n):
        log = open(logs / f"worker{n}-{i}.log", "w")
        out.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "colorreview", "worker", "--pool=solo", "-Q", "gpu,default",
             "-n", f"bench{n}-{i}@%h", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=bench_env.ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**env, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}))
    return out


def run_and_wait(product_ids: list[int], batch: int, workers: list[subprocess.Popen]) -> float:
    from django.conf import settings

    from colorreview.models import PipelineRun
    from colorreview.services.runs import pipeline_run_start

    settings.COLORREVIEW_BATCH_SIZE = batch
    started = time.perf_counter()
    run = pipeline_run_start(product_ids=product_ids)
    while PipelineRun.objects.get(pk=run.pk).status != "finished":
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker died; see its log")
        time.sleep(0.2)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=64)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    args = p.parse_args()
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    env = bench_env.setup(broker=args.redis)
    from machine import describe

    logs = Path(os.environ["COLORREVIEW_VAR_DIR"])
    print(describe(), f"| load average {os.getloadavg()[0]:.1f} | {args.count} photos per run | Redis {args.redis}")
    print(f"{'workers':>7} {'batch':>5} {'images/s':>9} {'seconds':>8}")
    offset = 0  # photos not read before for each measurement: a prediction is shared by equal images
    for n in [int(x) for x in args.workers.split(",")]:
        workers = start_workers(n, env, logs)
        try:
            run_and_wait(bench_env.import_photos(4 * n, offset=offset, prefix=f"W{n}-"), 1, workers)  # warm up
            offset += 4 * n
            for batch in [int(b) for b in args.batches.split(",")]:
                ids = bench_env.import_photos(args.count, offset=offset, prefix=f"B{n}-{batch}-")
                offset += args.count
                bench_env.forget_masks()
                seconds = run_and_wait(ids, batch, workers)
                print(f"{n:>7} {batch:>5} {len(ids) / seconds:>9.2f} {seconds:>8.1f}", flush=True)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)


if __name__ == "__main__":
    main()
