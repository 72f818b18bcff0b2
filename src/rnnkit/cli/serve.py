"""`rnnkit serve`: the tagger over HTTP, with a web page at / (needs the serve extra)."""

import argparse
import math
import socket
import sys

from rnnkit.cli.options import DEFAULT_MODEL_HELP, SHOW_HELP, OneModel, positive_int
from rnnkit.errors import RnnkitError


def add_parser(sub):
    p = sub.add_parser("serve", help="serve the tagger over HTTP, with a web page at /")
    p.add_argument("--model", action=OneModel, default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument(
        "--show",
        default=None,
        help=SHOW_HELP.replace("print", "answer with", 1) + " (the --model one; the shipped "
        "models a request names show what their files name)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=10_000_000,
        help="larger request bodies are refused with 413 (default 10000000)",
    )
    p.add_argument(
        "--max-chars",
        type=positive_int,
        default=1_000_000,
        help="longer texts are refused with 413 (default 1000000)",
    )
    p.add_argument(
        "--max-texts",
        type=positive_int,
        default=10_000,
        help='requests with more "texts" are refused with 413 (default 10000)',
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        help="seconds a request may wait for its tags before it is answered 503 (default 30)",
    )
    p.add_argument(
        "--read-timeout",
        type=positive_float,
        default=30.0,
        help="seconds the server waits for the next piece of a request body before it answers "
        "408, and after which a body must average 1,000 bytes a second (default 30)",
    )
    p.add_argument(
        "--batch-window",
        type=batch_window,
        default=2.0,
        help="milliseconds a lone request waits for others to be tagged with it: 0 to 1000, "
        "and less than --timeout (default 2)",
    )
    p.add_argument(
        "--compiled",
        action="store_true",
        help="tag with the compiled kernel (Numba, the fast extra): more requests a second "
        "(benchmarks/load_serve.py --compiled); its first use on a machine compiles it, before "
        "the port opens. A probability may then differ in its last printed digit from "
        "`rnnkit tag`'s",
    )
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each request (default: on)",
    )
    p.set_defaults(run=run)


def run(args):
    try:
        import uvicorn

        from rnnkit.serve.app import create_app
        from rnnkit.serve.limits import Limits
    except ImportError as e:
        raise RnnkitError(
            f"rnnkit serve needs the serve extra ({e.name} is missing): pip install 'rnnkit[serve]'"
        ) from None
    if args.compiled:  # loaded before the models, whose warm-up then compiles or loads it
        from rnnkit.nn import kernels

        if not kernels.load():
            raise RnnkitError(
                "--compiled needs Numba and SciPy (the fast extra): pip install 'rnnkit[fast]'"
            )
        print("rnnkit: tagging with the compiled kernel (Numba)", file=sys.stderr)
    if args.batch_window / 1000 >= args.timeout:  # every request would time out in the window
        raise RnnkitError(
            f"--batch-window ({args.batch_window:g} ms) must be shorter than --timeout "
            f"({args.timeout:g} s)"
        )
    try:  # a host that names no address: uvicorn's own error would not say which
        # ("" is every interface, as uvicorn takes it: getaddrinfo's None with AI_PASSIVE)
        socket.getaddrinfo(
            args.host or None, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as e:
        raise RnnkitError(f"--host {args.host}: {getattr(e, 'strerror', None) or e}") from None
    limits = Limits(  # each checked by the parser
        max_body_bytes=args.max_body_bytes,
        max_chars=args.max_chars,
        max_texts=args.max_texts,
        timeout=args.timeout,
        read_timeout=args.read_timeout,
    )
    # create_app loads the model: a bad --model or --show fails here, before the port opens.
    app = create_app(args.model, limits, window=args.batch_window / 1000, show=args.show)
    # On SIGTERM or SIGINT uvicorn takes no new connections and finishes the requests in flight
    # before it exits. One needs about the read timeout for its body and the timeout for its
    # tags; a client that sends its body a byte at a time must still not hold the server for ever.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
        timeout_graceful_shutdown=args.read_timeout + args.timeout + 10,
    )
    return 0


def port(text):
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {value}")
    return value


def batch_window(text):
    # Milliseconds. A window of seconds would hold every lone request that long; inf, for ever.
    from rnnkit.serve.models import MAX_WINDOW  # the server's own bound, in seconds

    value, most = float(text), MAX_WINDOW * 1000
    if not 0 <= value <= most:
        raise argparse.ArgumentTypeError(f"must be 0 to {most:g} milliseconds, not {value:g}")
    return value


def positive_float(text):
    value = float(text)
    if not (value > 0 and math.isfinite(value)):  # inf would be no limit at all
        raise argparse.ArgumentTypeError(f"must be positive and finite, not {value:g}")
    return value
