"""Real worker processes, brokers and a Redis of the test's own, for the worker tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import kombu.pools
from django.db import connection

from colorreview.celery import app as celery_app
from tests.conftest import ROOT

REDIS_URL = os.environ.get("COLORREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_ok(url: str = REDIS_URL) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
        return True
    except redis.RedisError:
        return False


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgresql://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def embedded_options(queue: Path) -> dict:
    for folder in ("messages", "processed", "control"):
        (queue / folder).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(queue / "messages"), "data_folder_out": str(queue / "messages"),
            "processed_folder": str(queue / "processed"), "control_folder": str(queue / "control"),
            "store_processed": False}


def use_broker(url: str, options: dict) -> None:
    """Point this process's publisher at a broker (dropping pooled connections to the last one)."""
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = url, options
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()  # producer pools are kept per connection URL across tests


class Workers:
    """Celery worker processes started by one test; logs go to files beside the test's data."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.processes = env, logs, {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, pool: str = "solo") -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "a")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "colorreview", "worker", f"--pool={pool}", "--concurrency=1",
             "-Q", "gpu,default", "-n", f"{name}@%h", "--loglevel=WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL, as the OOM killer does; the process is reaped so that it no longer looks alive."""
        process = self.processes[name]
        process.kill()
        process.wait()

    def kill_all(self, name: str) -> None:
        """SIGKILL the worker and its pool processes at once, as when its container or host dies."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def child_of(self, name: str, timeout: float = 60) -> int:
        """The pid of a prefork worker's pool process."""
        parent = self.processes[name].pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.2)
        raise AssertionError(f"worker {name} started no pool process")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"--- worker {name}\n" + (self.logs / f"{name}.log").read_text()[-3000:])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    from django.db.models import Count

    from colorreview.models import Product

    states = dict(Product.objects.values_list("status").annotate(n=Count("id")).order_by())
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; products: {states}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server of the test's own, append-only (as in production), that the test may stop."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.process = folder, free_port(), None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.folder), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: redis_ok_ping(self.url), 20, "the test's redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def redis_ok_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
