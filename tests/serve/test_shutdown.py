"""A real `rnnkit serve` process on 127.0.0.1: SIGTERM drains the requests in flight."""

import json
import queue
import signal
import socket
import threading

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

from rnnkit.ner.tagger import Tagger

TEXT = 'He said, "Teddy Roosevelt was a great President." Angela Merkel agreed.'


def read_lines(stream, into):
    for line in stream:
        into.put(line)


def wait_for_line(lines, words, timeout=60):
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the server never said {words!r}; it said:\n{''.join(seen)}")
        seen.append(line)
        if words in line:
            return


def test_sigterm_drains_the_requests_in_flight(serve):
    body = json.dumps({"text": TEXT}).encode()
    head = (
        "POST /tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with serve("--no-access-log") as (proc, url):
        lines = queue.Queue()
        threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            # Half the request: the server has begun it and cannot answer yet. SIGTERM now,
            # and the server, which takes no new connections, must still finish this one.
            s.sendall(head + body[:10])
            idle = socket.create_connection(("127.0.0.1", port), timeout=60)  # an idle keep-alive
            proc.send_signal(signal.SIGTERM)
            wait_for_line(lines, "Waiting for connections to close")
            assert idle.recv(1) == b"", "the idle connection was not closed"
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            s.sendall(body[10:])
            answer = b""
            while chunk := s.recv(65536):  # the server closes the connection after answering
                answer += chunk
        idle.close()
        # uvicorn raises the signal again once drained, so the exit says SIGTERM ended it.
        assert proc.wait(60) in (0, -signal.SIGTERM)
    status, _, payload = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200")
    assert json.loads(payload) == Tagger.load().tag(TEXT)
