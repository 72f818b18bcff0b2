"""The command line: `rnnkit train | eval | predict | tag | serve | bench`.

A thin layer over rnnkit.ner.training and rnnkit.ner.tagger. Errors a user can cause
(bad paths, bad files, bad options) print one line and exit non-zero; --debug
shows the traceback instead. The global options (--debug, --threads) are taken
before the command and after it alike.
"""

import argparse
import sys
import warnings

from rnnkit import __version__
from rnnkit.cli import bench, evaluate, serve, tag, train
from rnnkit.cli.options import blas_threads, positive_int
from rnnkit.errors import DataWarning, RnnkitError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="The lecture's RNN as a named-entity tagger."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    train.add_parser(sub)
    evaluate.add_parsers(sub)
    tag.add_parser(sub)
    serve.add_parser(sub)
    bench.add_parser(sub)
    for command in sub.choices.values():  # the global options after the command, too
        _add_global_options(command, top=False)
    parser.commands = sub.choices
    return parser


def given(argv):
    """The options given on the command line (their dests), whatever their values: the same
    parser with every default SUPPRESS sets only what argv names. It parses argv a second
    time (some ms), so a command calls it only where it needs it (train with --preset)."""
    parser = build_parser()
    for p in [parser, *parser.commands.values()]:
        for action in p._actions:
            action.default = argparse.SUPPRESS
    return set(vars(parser.parse_known_args(argv)[0]))


def _add_global_options(parser, top):
    """--debug and --threads: before the command (top) with their defaults; after it without
    (SUPPRESS), so that given there they replace the value before it, and left out they keep it."""
    unset = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors", **unset)
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="BLAS threads (default 1: the products of an RNN this size gain nothing from more, "
        "and lose much when other work shares the cores)",
        **({"default": 1} if top else unset),
    )


_show_warning = warnings.showwarning


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """rnnkit's own warnings as one line, like its errors; others as Python shows them."""
    if issubclass(category, DataWarning):
        print(f"rnnkit: warning: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse hands them up to the top level, whose usage does not list them
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    args.argv = argv  # for given(), which a command asks only where it needs it
    warnings.showwarning = _one_line_warning
    try:
        with blas_threads(args.threads):
            return args.run(args)
    except BrokenPipeError:  # `rnnkit tag ... | head` is not an error
        return 0
    except (RnnkitError, OSError) as e:
        if args.debug:
            raise
        message = str(e) if isinstance(e, RnnkitError) else _os_error(e)
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 1
    except UnicodeError as e:  # stdin or the terminal in another encoding
        if args.debug:
            raise
        what = "write" if isinstance(e, UnicodeEncodeError) else "read"
        encoding, reason = getattr(e, "encoding", "?"), getattr(e, "reason", e)
        print(f"rnnkit: error: cannot {what} the text as {encoding} ({reason})", file=sys.stderr)
        return 1
    except MemoryError:
        if args.debug:
            raise
        print("rnnkit: error: out of memory (--debug shows where)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


def _os_error(e):
    """`file: reason`, or the reason alone where the error names no file."""
    reason = e.strerror or str(e)
    return f"{e.filename}: {reason}" if e.filename else reason
