"""A real `rnnkit serve` process on 127.0.0.1: SIGTERM drains the requests in flight."""

import json
import signal
import threading
import time
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")


def post(url, payload, timeout=300):
    request = urllib.request.Request(
        f"{url}/tag", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return r.status, json.load(r)


def test_sigterm_drains_the_requests_in_flight(serve):
    # Long enough to take seconds to tag, so that it is in flight when SIGTERM comes.
    text = "Angela Merkel met Barack Obama in Berlin on Tuesday, the paper said. " * 1500
    with serve("--timeout", "600", "--no-access-log") as (proc, url):
        answers = []
        client = threading.Thread(target=lambda: answers.append(post(url, {"text": text})))
        client.start()
        time.sleep(1.0)
        assert client.is_alive(), "the request finished before SIGTERM: make the text longer"
        proc.send_signal(signal.SIGTERM)
        client.join(600)
        # uvicorn raises the signal again once drained, so the exit says SIGTERM ended it.
        assert proc.wait(60) in (0, -signal.SIGTERM)
        ((status, result),) = answers
        assert status == 200
        assert len(result["entities"]) == 3000
        assert result["tokens"][-1]["end"] == len(text.rstrip())
        assert "Finished server process" in proc.stdout.read()
