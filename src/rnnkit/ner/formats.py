"""Writing tagged documents: JSON Lines, CoNLL, and a self-contained HTML page.

Each format is a header, one piece of text per tagged paragraph, and a footer, so that
output is written as it goes and pieces made in other processes join in input order.
A tagged paragraph is the object Tagger.tag returns plus where it lies in its document:
{"doc", "paragraph", "start", "end", "sentences": [{start, end}], "text", "tokens",
"entities"}, every offset counted in characters of the document's text.
"""

import html
import json
import re
from bisect import bisect_left

FORMATS = ("jsonl", "conll", "html")


def part_name(i, fmt):
    """The file that document (or partition) i goes to under `--out DIR`: names sort in order."""
    return f"part-{i:05d}.{fmt}"


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


def header(fmt):
    return _PAGE_HEAD if fmt == "html" else ""


def footer(fmt):
    return _PAGE_FOOT if fmt == "html" else ""


def render(fmt, record):
    """One tagged paragraph as a piece of text in the format `fmt`."""
    if fmt == "jsonl":
        return json_line(record) + "\n"
    if fmt == "conll":
        return _conll(record)
    if fmt == "html":
        return _html(record)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _conll(record):
    # `token label`, a blank line after each sentence; a document starts with -DOCSTART-,
    # as in CoNLL-2003, so that `rnnkit eval` reads the output back.
    lines = ["-DOCSTART- O", ""] if record["paragraph"] == 0 else []
    tokens = iter(record["tokens"])
    for sentence in record["sentences"]:
        for tok in tokens:
            lines.append(f"{tok['text']} {tok['label']}")
            if tok["end"] == sentence["end"]:
                break
        lines.append("")
    return "\n".join(lines) + "\n"


def _html(record):
    # Each name is a <mark> whose title shows its type and ŷ (the mean over its tokens of
    # the probability of the predicted label), so the browser shows it on hover.
    text, base, tokens = record["text"], record["start"], record["tokens"]
    starts = [tok["start"] for tok in tokens]
    parts = [f"<h2>{html.escape(record['doc'])}</h2>\n"] if record["paragraph"] == 0 else []
    parts.append(f'<p data-start="{base}">')
    at = base
    for e in record["entities"]:
        inside = tokens[bisect_left(starts, e["start"]) : bisect_left(starts, e["end"])]
        score = sum(tok["prob"] for tok in inside) / len(inside)
        kind = html.escape(e["type"])
        parts.append(html.escape(text[at - base : e["start"] - base]))
        parts.append(
            f'<mark class="{kind}" title="{kind} ŷ = {score:.2f}" data-score="{score:.4f}" '
            f'data-start="{e["start"]}">{html.escape(e["text"])}</mark>'
        )
        at = e["end"]
    parts.append(html.escape(text[at - base :]) + "</p>\n")
    return "".join(parts)


_PAGE_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnnkit: tagged documents</title>
<style>
body { font: 16px/1.6 system-ui, sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em; }
h2 { font-size: 1em; color: #555; border-bottom: 1px solid #ddd; }
p { white-space: pre-wrap; }
mark { border-radius: 3px; padding: 0 2px; cursor: help; background: #ffe08a; }
mark.PER { background: #ffd0d0; }
mark.LOC { background: #cde8ff; }
mark.ORG { background: #d4f5d0; }
mark.MISC { background: #eadcff; }
</style>
</head>
<body>
<p><small>Names are highlighted; hover over one for its type and ŷ, the model's
probability of its labels (the mean over its words).</small></p>
"""

_PAGE_FOOT = "</body>\n</html>\n"
