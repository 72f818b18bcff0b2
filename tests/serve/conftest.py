"""Fixtures for the HTTP service: an in-process app through FastAPI's test client, and a real
server in a subprocess on 127.0.0.1."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*args, wait=120):
    """`rnnkit serve ARGS` on a free port of 127.0.0.1 -> (process, base URL), once /health
    answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{proc.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer /health within {wait} s")
                time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.fixture
def serve():
    """running_server, for tests: `with serve(*args) as (process, url): ...`."""
    return running_server
