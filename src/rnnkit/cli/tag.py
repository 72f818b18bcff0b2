"""`rnnkit tag`: mark the people (or entities) in raw text, or in documents (--input)."""

import argparse
import codecs
import os
import shlex
import sys

from rnnkit.cli.options import (
    DEFAULT_MODEL_HELP,
    SHOW_HELP,
    THRESHOLD_HELP,
    input_path,
    load_tagger,
    output_path,
    positive_int,
    refuse_inputs_as_output,
    threshold,
    utf8_stdout,
)
from rnnkit.errors import DataError, RnnkitError
from rnnkit.io.atomic import atomic_writer
from rnnkit.ner.formats import FORMATS, footer, header, json_line, part_name

__all__ = ["add_parser", "json_line", "run"]


def add_parser(sub):
    p = sub.add_parser("tag", help="mark the people (or entities) in raw text")
    p.add_argument(
        "text",
        nargs="?",
        default=None,
        help="the text; '-' or nothing reads standard input, one text per line",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help=f"{DEFAULT_MODEL_HELP}. Repeated: models of one task decoded as one, an ensemble "
        "(the mean of their scores), in one process",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per text (JSON Lines) with tokens, offsets, probabilities: a "
        "token's prob is ŷ of its chosen label, an entity's score the mean ŷ of its tokens",
    )
    p.add_argument("--threshold", type=threshold, default=None, help=THRESHOLD_HELP)
    p.add_argument("--show", default=None, help=SHOW_HELP)
    p.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8",
        help="how standard input and --input files are encoded (default utf-8, whatever the "
        "locale); output is UTF-8",
    )
    docs = p.add_argument_group(
        "documents",
        "tag raw-text documents: paragraphs are split on blank lines, the lines of a paragraph "
        "joined; offsets count characters of the file's text (UTF-8, line ends as they are)",
    )
    docs.add_argument(
        "--input",
        "-i",
        action="append",
        type=input_path,
        metavar="PATH",
        help="a file, a directory (every file under it), a glob pattern, or '-' (standard "
        "input); repeatable",
    )
    docs.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="jsonl: one JSON object per paragraph, with the document's name and offsets "
        "(the default); conll: `token label` lines; html: a page with the names highlighted",
    )
    docs.add_argument(
        "--out",
        metavar="DIR|FILE",
        type=output_path,
        default=None,
        help="write to FILE, or to DIR/part-00000.jsonl, ... one file per input document "
        "(a DIR is an existing directory or a path ending in '/'); - or none: standard output",
    )
    docs.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="processes that tag at once, output in input order (default 1; with --dask "
        "local, Dask's default)",
    )
    docs.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None,
        help="tag on a Dask cluster: 'local' starts one on this machine, tcp://host:8786 uses "
        "a running scheduler; needs --out DIR (the dask extra)",
    )
    p.set_defaults(run=run)


def _encoding(name):
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {name!r}") from None
    if not codec._is_text_encoding:  # rot13, base64, hex: codecs of str to str or bytes to bytes
        raise argparse.ArgumentTypeError(f"{name!r} is not a text encoding")
    return codec.name


def run(args):
    utf8_stdout()
    if args.model is not None and len(args.model) > 1:
        if args.workers not in (None, 1) or args.dask is not None:
            raise RnnkitError(
                "several --model tag as one ensemble in one process: leave out --workers and "
                "--dask, or give one model"
            )
    else:  # one model: the path or name, as the workers and Dask take it
        args.model = args.model and args.model[0]
    if args.input is None:
        return _run_texts(args)
    return _run_documents(args)


def _run_texts(args):
    from rnnkit.ner.tagger import mark

    for option in ("format", "out", "workers", "dask"):
        if getattr(args, option) is not None:
            raise RnnkitError(f"--{option} goes with --input (documents); for texts use --json")
    if args.text is None and sys.stdin.isatty():
        raise RnnkitError("give the text to tag, or pipe it on standard input (one text per line)")
    if args.text not in (None, "-") and os.path.isfile(args.text):
        # `rnnkit tag notes.txt` tags those nine characters, which is rarely what was meant
        print(
            f"rnnkit: tagging the text {args.text!r}; to tag the file it names, give "
            f"--input {shlex.quote(args.text)}",
            file=sys.stderr,
        )
    tagger = load_tagger(args)
    texts = [args.text] if args.text not in (None, "-") else stdin_lines(args.encoding)
    for text in texts:
        result = tagger.tag(text)
        print(json_line(result) if args.json else mark(result), flush=True)
    return 0


def stdin_lines(encoding="utf-8"):
    """The lines of standard input, decoded from its bytes as `encoding` whatever the locale
    (Python's own stdin would turn bytes that are not UTF-8 into surrogates under the C
    locale); bytes that are not `encoding` raise a DataError naming the line. Line ends are
    those of text mode: \n, \r\n and \r."""
    from rnnkit.data.documents import DecodedLines

    if not hasattr(sys.stdin, "buffer"):  # a text stream put in place of stdin
        yield from (line.rstrip("\r\n") for line in sys.stdin)
        return

    def undecodable(e, line):
        return DataError(
            "<stdin>",
            f"cannot read the text as {encoding} ({getattr(e, 'reason', e)}); give "
            "--encoding if it is in another encoding",
            line,
        )

    reader = DecodedLines(sys.stdin.buffer, encoding, undecodable)
    while line := reader.readline(sys.maxsize):  # a whole line, however long, as before
        yield line.rstrip("\r\n")


def _run_documents(args):
    from rnnkit.data.documents import STDIN, expand_inputs

    if args.text is not None:
        raise RnnkitError("give either a text or --input, not both")
    fmt = args.format or "jsonl"
    if args.json and fmt != "jsonl":
        raise RnnkitError(f"--json asks for JSON Lines, --format for {fmt}: give one")
    paths = expand_inputs(args.input)
    if STDIN in paths and sys.stdin.isatty():
        raise RnnkitError("--input - reads standard input: pipe the text in")
    if paths.count(STDIN) > 1:
        raise RnnkitError("--input - may be given once: standard input is read once")
    to_dir = args.out is not None and (args.out.endswith(("/", os.sep)) or os.path.isdir(args.out))
    if (
        to_dir
        and os.path.lexists(args.out.rstrip("/" + os.sep) or args.out)
        and not os.path.isdir(args.out)
    ):
        raise RnnkitError(f"{args.out}: not a directory (a trailing / asks for one)")
    if args.out is not None:  # the files that will be written, none of them an input
        parts = (os.path.join(args.out, part_name(i, fmt)) for i in range(len(paths)))
        refuse_inputs_as_output(parts if to_dir else [args.out], paths)
    if args.dask is not None:
        if args.encoding != "utf-8":
            raise RnnkitError("--dask tags UTF-8 files: leave out --encoding")
        if args.out is None:
            raise RnnkitError("--dask writes one file per document: give --out DIR")
        if STDIN in paths:
            raise RnnkitError("--dask reads files that its workers open: not standard input")
        from rnnkit import dask as rnnkit_dask

        model = args.model
        if model is not None and os.path.exists(model):
            model = os.path.abspath(model)  # the workers' working directory may differ
        rnnkit_dask.tag_files(
            paths, args.out, model=model, fmt=fmt, address=args.dask, workers=args.workers,
            show=args.show, threshold=args.threshold,
        )  # fmt: skip
        return 0
    from rnnkit.ner.pipeline import render_documents

    # A model that cannot load is reported before any worker starts or any file is written;
    # workers load it from its file, once each.
    workers = args.workers or 1
    tagger = load_tagger(args)
    # Workers load the model from its file, or from a copy of the tagger that has --threshold
    # or --show.
    own = args.threshold is None and args.show is None
    model = args.model if workers > 1 and own else tagger
    pieces = render_documents(model, paths, fmt, workers=workers, encoding=args.encoding)
    if to_dir:
        _write_parts(pieces, args.out, len(paths), fmt)
    elif args.out is not None:
        with atomic_writer(args.out) as f:
            _write_all(pieces, f, fmt)
    else:
        _write_all(pieces, sys.stdout, fmt)
    return 0


def _write_all(pieces, f, fmt):
    f.write(header(fmt))
    for _, piece in pieces:
        f.write(piece)
    f.write(footer(fmt))
    f.flush()


def _write_parts(pieces, out_dir, n_docs, fmt):
    """Write document i's pieces to out_dir/part-0000i.<fmt>, as `rnnkit tag --dask` does, every
    document a file even when it has no text."""
    os.makedirs(out_dir, exist_ok=True)
    pieces = iter(pieces)
    pending = next(pieces, None)
    for doc in range(n_docs):
        with atomic_writer(os.path.join(out_dir, part_name(doc, fmt))) as f:
            f.write(header(fmt))
            while pending is not None and pending[0] == doc:
                f.write(pending[1])
                pending = next(pieces, None)
            f.write(footer(fmt))
