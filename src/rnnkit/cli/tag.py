"""`rnnkit tag`: mark the people (or entities) in raw text."""

import json
import re
import sys

from rnnkit.cli.options import DEFAULT_MODEL_HELP
from rnnkit.errors import RnnkitError


def add_parser(sub):
    p = sub.add_parser("tag", help="mark the people (or entities) in raw text")
    p.add_argument(
        "text",
        nargs="?",
        default=None,
        help="the text; '-' or nothing reads standard input, one text per line",
    )
    p.add_argument("--model", default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per text (JSON Lines) with tokens, offsets, probabilities",
    )
    p.set_defaults(run=run)


def run(args):
    from rnnkit.ner.tagger import Tagger, mark

    if args.text is None and sys.stdin.isatty():
        raise RnnkitError("give the text to tag, or pipe it on standard input (one text per line)")
    tagger = Tagger.load(args.model)
    texts = (
        [args.text] if args.text not in (None, "-") else (line.rstrip("\r\n") for line in sys.stdin)
    )
    for text in texts:
        result = tagger.tag(text)
        print(json_line(result) if args.json else mark(result), flush=True)
    return 0


def json_line(obj):
    """One line of JSON Lines, readable whatever the reader splits lines on.

    ensure_ascii=False keeps the text readable, but leaves the Unicode line
    separators U+0085, U+2028, U+2029 raw (str.splitlines() breaks at them) and
    lone surrogates (undecodable bytes of argv or stdin) that UTF-8 cannot
    encode: write those as \\uXXXX escapes, which json.loads reads back exactly.
    """
    text = json.dumps(obj, ensure_ascii=False)
    for c in "\x85\u2028\u2029":
        text = text.replace(c, f"\\u{ord(c):04x}")
    if _SURROGATE.search(text):  # rare; a search copies nothing, unlike encoding 1 MB of text
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")
