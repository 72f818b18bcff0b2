"""A real `rnnkit serve` process on 127.0.0.1 and a raw socket: a body that stops coming half-way
is answered 408, and the limits set on the command line hold."""

import json
import select
import socket
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

BODY = json.dumps({"text": "Angela Merkel met Barack Obama in Berlin."}).encode()


def request_head(body):
    return (
        "POST /tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()


def read_answer(s):
    """An HTTP answer read until the server closes the connection -> (its head's lines, body)."""
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), payload


def test_a_body_that_stops_coming_answers_408_and_the_connection_closes(serve):
    with serve("--read-timeout", "0.5", "--no-access-log") as (_, url):
        port = int(url.rsplit(":", 1)[1])
        # A generous socket timeout: without a read timeout the server would wait for ever.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(request_head(BODY) + BODY[:10])
            head, payload = read_answer(s)
        assert head[0].startswith(b"HTTP/1.1 408")
        assert b"connection: close" in (line.lower() for line in head)
        assert json.loads(payload) == {
            "detail": "the request body stopped coming for 0.5 s; send it whole"
        }
        with urllib.request.urlopen(f"{url}/health", timeout=60) as r:
            assert json.load(r) == {"status": "ok"}


def test_the_command_line_limits_and_head_hold_on_a_real_server(serve):
    with serve("--max-texts", "2", "--no-access-log") as (_, url):
        request = urllib.request.Request(
            f"{url}/tag",
            json.dumps({"texts": ["a", "b", "c"]}).encode(),
            {"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=60)
        assert e.value.code == 413
        assert json.load(e.value) == {"detail": "the request has 3 texts; the limit is 2"}
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=60) as r:
            assert r.status == 200 and r.read() == b""
            assert int(r.headers["content-length"]) > 0


def test_a_body_trickled_a_byte_at_a_time_answers_408_however_regular(serve):
    # Each byte comes within the read timeout, so only the body's rate (MIN_RATE, 1,000 bytes a
    # second after the first read_timeout seconds) stops it: a byte each 0.2 s is 5 a second.
    with serve("--read-timeout", "0.5", "--no-access-log") as (_, url):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(request_head(BODY))
            sent, start = 0, time.monotonic()
            # A byte, then 0.2 s of waiting for the answer; once it comes, nothing more is sent
            # (bytes that the server would not read make its close a reset, losing the answer).
            while sent < len(BODY) and not select.select([s], [], [], 0.2)[0]:
                s.sendall(BODY[sent : sent + 1])
                sent += 1
            head, payload = read_answer(s)
        assert sent < len(BODY) and time.monotonic() - start < 5  # not the whole body's 11 s
        assert head[0].startswith(b"HTTP/1.1 408")
        assert json.loads(payload) == {
            "detail": "the request body came at under 1,000 bytes a second; send it whole"
        }
