"""The production server refuses a body over the upload limit from its Content-Length, before reading it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.tasks.harness import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_an_upload_over_the_limit_is_refused_before_its_body_is_sent(tmp_path):
    port = free_port()
    env = {**os.environ, "COLORREVIEW_MAX_UPLOAD_BYTES": "1000", "COLORREVIEW_VAR_DIR": str(tmp_path),
           "DEBUG": "1", "CELERY_BROKER_URL": ""}
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        with conn:
            length = 1000 + 1024 * 1024 + 1  # the limit and the form's margin, and one byte more
            conn.sendall(f"POST /import/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n"
                         "Content-Type: multipart/form-data; boundary=x\r\n\r\n".encode())
            answer = conn.recv(4096).decode("latin-1")  # no byte of the body was sent
        assert answer.startswith("HTTP/1.1 413"), answer
    finally:
        server.terminate()
        server.wait(timeout=20)
