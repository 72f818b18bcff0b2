"""Load on a real `rnnkit serve`: concurrent clients on 127.0.0.1, against in-process tagging.

    python benchmarks/load_serve.py [--clients 50] [--seconds 30] [--max-requests 200000]
        [--compiled]

Starts the server in a subprocess on a free port of 127.0.0.1 and runs the clients for
--seconds or --max-requests, whichever ends first. Tagger.pipe over the same texts is measured
in this process just before and just after (never at the same time: the two would share the
cores), and the server is compared with the mean of the two, so that a change in what else runs
on the machine shows as a gap between them rather than as a false ratio. Each client
holds one keep-alive connection and sends one text per request, in turn, and waits for the
answer before it sends the next. The texts are CoNLL-2003 test sentences, --sentences per text,
read from <repo>/../shared/data/conll2003 (or --data). Reported: requests/s, tokens/s, latency
p50/p99, errors (a status other than 200, or a dropped connection), and the ratio of the
server's tokens/s to in-process Tagger.pipe's. A benchmark, not a test: its figures depend on
the machine and on what else runs on it.

The clients speak HTTP/1.1 over asyncio streams, not through an HTTP library, so that the
client side costs as little of the shared CPU as it can.
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from rnnkit.cli.options import blas_threads
from rnnkit.data.conll import read_conll
from rnnkit.data.tokenize import iter_tokens
from rnnkit.ner.tagger import Tagger
from rnnkit.nn import kernels

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conll2003"


def load_texts(data, sentences_per_text):
    sentences = [" ".join(s.tokens) for s in read_conll(Path(data) / "test.txt")]
    return [
        " ".join(sentences[i : i + sentences_per_text])
        for i in range(0, len(sentences), sentences_per_text)
    ]


def in_process(tagger, texts, seconds):
    """Tokens/s of Tagger.pipe over the texts, passes repeated until `seconds` have gone."""
    tokens = done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or not done:
        for result in tagger.pipe(texts):
            tokens += len(result["tokens"])
        done += 1
    return tokens / (time.perf_counter() - start)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model, port, compiled=False):
    cmd = [sys.executable, "-m", "rnnkit.cli", "serve", "--model", model, "--port", str(port)]
    cmd += ["--compiled"] if compiled else []
    proc = subprocess.Popen([*cmd, "--no-access-log"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def request_bytes(text):
    body = json.dumps({"text": text}).encode()
    head = (
        "POST /tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def client(port, requests, n_tokens, state, latencies, deadline):
    reader = writer = None
    while time.perf_counter() < deadline and state["sent"] < state["max"]:
        i = state["sent"] % len(requests)
        state["sent"] += 1
        t = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(requests[i])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
            state["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        latencies.append(time.perf_counter() - t)
        if status == 200:
            state["tokens"] += n_tokens[i]
        else:
            state["errors"] += 1
    if writer is not None:
        writer.close()


async def load(port, texts, clients, seconds, max_requests):
    requests = [request_bytes(t) for t in texts]
    n_tokens = [sum(1 for _ in iter_tokens(t)) for t in texts]
    state = {"sent": 0, "max": max_requests, "errors": 0, "tokens": 0}
    latencies = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(client(port, requests, n_tokens, state, latencies, deadline) for _ in range(clients))
    )
    return state, latencies, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default")
    p.add_argument("--data", default=DEFAULT_DATA, help="a folder with CoNLL-2003's test.txt")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--max-requests", type=int, default=200_000)
    p.add_argument("--sentences", type=int, default=5, help="sentences per text (request)")
    p.add_argument(
        "--compiled",
        action="store_true",
        help="the server with --compiled, and in-process tagging with the kernel loaded too",
    )
    args = p.parse_args(argv)

    texts = load_texts(args.data, args.sentences)
    if args.compiled and not kernels.load():
        raise SystemExit("--compiled needs Numba and SciPy (the fast extra)")
    tagger = Tagger.load(args.model)
    tagger.tag("Warm up.")
    port = free_port()
    server = start_server(args.model, port, args.compiled)
    load_before = os.getloadavg()[0]
    try:
        with blas_threads(1):  # as `rnnkit serve` runs (rnnkit --threads 1, the default)
            before = in_process(tagger, texts, seconds=args.seconds / 3)
        state, latencies, wall = asyncio.run(
            load(port, texts, args.clients, args.seconds, args.max_requests)
        )
        with blas_threads(1):
            after = in_process(tagger, texts, seconds=args.seconds / 3)
    finally:
        server.terminate()
        server.wait(60)
    pipe_rate = (before + after) / 2

    done = len(latencies)
    served_rate = state["tokens"] / wall
    p50, p99 = (np.percentile(latencies, [50, 99]) * 1000) if done else (float("nan"),) * 2
    print(
        f"model {args.model}{' (compiled kernel)' if args.compiled else ''}; {len(texts)} texts "
        f"of {args.sentences} CoNLL-2003 test sentences"
    )
    print(f"in-process Tagger.pipe: {before:,.0f} tokens/s before, {after:,.0f} after")
    print(f"server, {args.clients} clients for {wall:.1f} s on 127.0.0.1:")
    print(f"  requests      {done:,} answered, {done / wall:,.1f} requests/s")
    print(f"  tokens/s      {served_rate:,.0f}")
    print(f"  latency       p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"  errors        {state['errors']}")
    print(f"  server / in-process (their mean): {served_rate / pipe_rate:.0%} (target >= 50%)")
    load_after = os.getloadavg()[0]
    print(f"load average (1 min): {load_before:.1f} at the start, {load_after:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
