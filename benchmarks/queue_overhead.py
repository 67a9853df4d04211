"""Queue overhead: tasks/s through Redis with a no-op pipeline (nothing read, nothing stored).

    python benchmarks/queue_overhead.py --tasks 2000 [--redis redis://127.0.0.1:6379/6]

A worker process with the project's delivery settings (late acknowledgement, prefetch 1, rejected
when its worker dies) runs a task that only counts itself; prefork with 1 and 2 pool processes, and
solo. The clock runs from the first message published to the last task done.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(tasks: int, broker: str, pool: str, concurrency: int) -> float:
    import redis

    client = redis.Redis.from_url(broker)
    client.flushdb()
    env = {**os.environ, "BENCH_BROKER_URL": broker, "PYTHONPATH": str(HERE)}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "noop_app", "worker", f"--pool={pool}",
                               f"--concurrency={concurrency}", "-Q", "gpu", "--loglevel=ERROR", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"],
                              cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sys.path.insert(0, str(HERE))
        from noop_app import noop

        noop.delay([1], 0)  # the worker is up when this one is done
        while int(client.get("bench:done") or 0) < 1:
            time.sleep(0.05)
        started = time.perf_counter()
        with noop.app.producer_or_acquire() as producer:
            for i in range(tasks):
                noop.apply_async(([i], 1), producer=producer)
        while int(client.get("bench:done") or 0) < tasks + 1:
            time.sleep(0.01)
        return tasks / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    args = p.parse_args()
    from machine import describe

    print(describe(), f"| load average {os.getloadavg()[0]:.1f} | {args.tasks} no-op tasks through {args.redis}")
    for pool, concurrency in (("solo", 1), ("prefork", 1), ("prefork", 2)):
        rate = measure(args.tasks, args.redis, pool, concurrency)
        print(f"{pool:>8} x{concurrency}: {rate:8.0f} tasks/s ({1000 / rate:.2f} ms a task)", flush=True)


if __name__ == "__main__":
    main()
