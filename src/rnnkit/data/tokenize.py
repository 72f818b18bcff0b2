"""Tokenising raw text the way CoNLL-2003 (Reuters newswire) is tokenised.

Conventions, taken from the training data:

* punctuation is split off: ``,`` ``.`` ``(`` ``)`` ``"`` ``:`` ``;`` ``?`` ``!`` ...;
  a run of one repeated character is one token (``...``, ``--``, ``**``);
* clitics are split off: ``John's`` -> ``John`` ``'s``, ``don't`` -> ``do`` ``n't``
  (also ``'re`` ``'ve`` ``'ll`` ``'d`` ``'m``), but ``O'Brien`` stays whole; a clitic
  already standing alone (``John 's``) stays one token, so tokenised text re-tokenises;
* hyphenated words and numbers stay whole: ``one-day``, ``Inzamam-ul-Haq``, also with
  Unicode's hyphen or non-breaking hyphen (U+2010, U+2011: ``Jean‑Paul``),
  ``1996-08-22``, ``6-4``; so do numbers with ``.`` ``,`` ``/`` ``:`` between digits
  (``3.5``, ``1,000``, ``1/2``, ``10:30``), numbers with a unit or ordinal
  (``1990s``, ``49th``), and a sign before a number (``+44``, ``-0.2``); a rank
  number at the start of a line keeps its period (``1. Smith``, results tables);
* abbreviations keep their period: letter-period sequences (``U.S.``, ``a.m.``,
  ``U.S.-led``), single capital initials (``M.`` in ``M. Waugh``) except at the very
  end of the text, and a fixed list of titles, months and the like (``Mr.``, ``Inc.``);
* currency prefixes (``US$``, ``HK$``, ``$``), ``S&P``-style names, e-mail
  addresses, URLs and user names (``@elonmusk``, as tweets write them and the Broad
  Twitter Corpus tokenises them) are one token each.

Any input is accepted: tokens never contain whitespace; control characters,
bidirectional-control characters (U+200E/F, U+202A-E, U+2066-9), the zero-width space
(U+200B) and the zero-width no-break space (U+FEFF, the byte-order mark) are treated as
spaces; combining marks, soft hyphens and word joiners stay attached to the character
before them; and ``text[tok.start:tok.end] == tok.text`` always holds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from rnnkit.data.batching import check_count


class Token(NamedTuple):
    """A token and its character offsets: ``text[start:end] == token.text``."""

    text: str
    start: int
    end: int


def _mark_class() -> str:
    # Combining marks (accents, Indic vowel signs, variation selectors) are not \w
    # in Python's re, so words would be cut at them; list them for a character class.
    # All marks lie below U+20000 except the variation selectors supplement.
    codepoints = [c for c in range(0x20000) if unicodedata.category(chr(c))[0] == "M"]
    codepoints += range(0xE0100, 0xE01F0)
    ranges = []
    for c in codepoints:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    # Zero-width (non-)joiners are part of words in Indic and Arabic scripts, and
    # skin-tone modifiers part of the emoji before them. A soft hyphen (U+00AD, the
    # hyphenation hint of web pages) and a word joiner (U+2060) lie inside a word,
    # invisible: cut at one, "Angela Mer(U+00AD)kel" was the name "Angela Mer".
    return "\u00ad\u2060\u200c\u200d\U0001f3fb-\U0001f3ff" + "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


_M = _mark_class()
# Bidirectional controls set the direction of the text around them; they are not part
# of a word, so that names (entity spans) never hold one at an edge.
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
# A zero-width space (U+200B, a break hint web pages leave in copied text) and a zero-width
# no-break space (U+FEFF, a byte-order mark, also met mid-text where files were joined) are
# invisible: as tokens of their own, "Angela\u200bMerkel met Olaf Scholz." found only
# "Olaf Scholz". They separate words as spaces do.
_SEPARATORS = _BIDI + "\u200b\ufeff"
_W = rf"\w[\w{_M}]*"  # a word-character run, marks included
_CLITIC = r"(?i:['’](?:s|re|ve|ll|d|m)\b)"
# A hyphen joining the parts of a word: ASCII's, or Unicode's HYPHEN (U+2010) and NON-BREAKING
# HYPHEN (U+2011), which word processors and phones type inside names ("Jean‑Paul")
_HYPHEN = "[-\u2010\u2011]"
_ABBREVIATIONS = (  # noqa: SIM905 (a list of 60 quoted words would hide the comment's point)
    "Mr Mrs Ms Dr Prof St Sr Jr Rev Gen Lt Col Maj Capt Sgt Cmdr Gov Sen Rep Pres "
    "Inc Corp Ltd Co Bros vs "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec "
    # US states, leaving out those that are also common words or names (Miss, Wash, La)
    "Ala Ariz Ark Calif Colo Conn Fla Kan Ky Md Mass Mich Minn Mont Neb Nev Okla Ore "
    "Tenn Tex Vt Wis Wyo"
).split()

_TOKEN = re.compile(
    "|".join(
        [
            # a URL, without its final punctuation
            rf"(?:https?://|www\.)[^\s\"<>()\[\]{_SEPARATORS}]*[^\s\"<>()\[\].,;:!?'{_SEPARATORS}]",
            rf"[\w.+-]{{1,64}}@{_W}(?:\.{_W})+",  # e-mail address (bounded: no quadratic rescans)
            # a user name, "@elonmusk", as the Broad Twitter Corpus writes one: one token (a name
            # of an account, not one written in the text; split, the model read "@" then a name)
            rf"(?<![\w@])@{_W}",
            rf"(?:[^\W\d_]\.){{2,}}(?:{_HYPHEN}{_W})*",  # U.S., a.m., F.B.I., U.S.-led
            r"\b(?:" + "|".join(_ABBREVIATIONS) + r")\.",  # Mr., Inc., Aug.
            # an initial, unless it ends the text (then the period ends a sentence)
            r"[A-Z]\.(?!\s*$)",
            r"(?<![^\n])\d{1,3}\.(?=[ \t])",  # a rank starting a line in a table: "1. Smith"
            r"\b[A-Z]{1,3}\$",  # US$, HK$, C$
            r"[A-Z]+&[A-Z]+",  # S&P, AT&T
            rf"[\w{_M}]+?(?=n['’]t\b)",  # the "do" of "don't", the "ca" of "can't"
            r"(?i:n['’]t)\b",  # n't
            _CLITIC,  # 's 're 've 'll 'd 'm, also alone as in already tokenised text
            rf"(?:(?<![\w{_M}])[+-](?=\.?\d))?"  # a sign that starts a number: +44, -0.2
            rf"(?:{_W}|\.(?=\d){_W})"  # a word, or a number like .500
            rf"(?:(?:(?<=\d)[.,/:](?=\d)|{_HYPHEN}(?=\w)|(?!{_CLITIC})['’](?=\w)){_W})*",  # joined
            rf"([^\w\s\x00-\x1f\x7f-\x9f{_SEPARATORS}])\1*[{_M}]*",  # a punctuation run
        ]
    )
)

SENTENCE_END = frozenset(".!?")
# Tokens that close what a sentence-ending token ends: they belong to that sentence.
_CLOSING = frozenset(['"', "'", ")", "]", "}", "”", "’", "''"])


def iter_tokens(text: str) -> Iterator[Token]:
    """Yield the tokens of ``text`` lazily, in order (see the module docstring)."""
    for m in _TOKEN.finditer(text):
        yield Token(m.group(), m.start(), m.end())


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``: ``tokenize('He said, "Hi."')`` gives ``He said , " Hi . "``."""
    return list(iter_tokens(text))


def iter_sentences(tokens: Iterable[Token], max_len: int = 100) -> Iterator[list[Token]]:
    """Group a token stream into sentences of at most ``max_len`` tokens, lazily.

    A sentence ends after a token made only of ``.``, ``!`` and ``?`` (abbreviations
    such as ``U.S.`` are single tokens, so they do not end one), together with any
    closing quotes or brackets written right after it (``... President."``). A
    sentence that reaches ``max_len`` tokens is cut there, so memory stays bounded
    however long the text runs without a full stop.
    """
    check_count("max_len", max_len)
    sentence: list[Token] = []
    ended = False  # the sentence has seen its final punctuation; only closers may follow
    for tok in tokens:
        if ended and not (tok.text in _CLOSING and tok.start == sentence[-1].end):
            yield sentence
            sentence, ended = [], False
        sentence.append(tok)
        if set(tok.text) <= SENTENCE_END:
            ended = True
        if len(sentence) == max_len:
            yield sentence
            sentence, ended = [], False
    if sentence:
        yield sentence
