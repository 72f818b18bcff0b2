"""The command line: `rnnkit train | eval | predict | tag | bench`.

A thin layer over rnnkit.ner.training and rnnkit.ner.tagger. Errors a user can cause
(bad paths, bad files, bad options) print one line and exit non-zero; --debug
shows the traceback instead.
"""

import argparse
import sys

from rnnkit.cli import bench, evaluate, serve, tag, train
from rnnkit.cli.options import blas_threads, positive_int
from rnnkit.errors import RnnkitError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="The lecture's RNN as a named-entity tagger."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="BLAS threads (default 1: the products of an RNN this size gain nothing from more, "
        "and lose much when other work shares the cores; needs threadpoolctl)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train.add_parser(sub)
    evaluate.add_parsers(sub)
    tag.add_parser(sub)
    serve.add_parser(sub)
    bench.add_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        with blas_threads(args.threads):
            return args.run(args)
    except BrokenPipeError:  # `rnnkit tag ... | head` is not an error
        return 0
    except (RnnkitError, OSError) as e:
        if args.debug:
            raise
        message = str(e) if isinstance(e, RnnkitError) else f"{e.filename or ''}: {e.strerror or e}"
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 1
    except UnicodeError as e:  # stdin or the terminal in another encoding
        if args.debug:
            raise
        what = "read" if isinstance(e, UnicodeDecodeError) else "write"
        encoding, reason = getattr(e, "encoding", "?"), getattr(e, "reason", e)
        print(f"rnnkit: error: cannot {what} the text as {encoding} ({reason})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
