"""The form in which a token is counted and looked up: what the vocabularies, the feature groups
and the character RNN read of it. The text and its offsets are never changed.

- Unicode NFC, so that a corpus stored decomposed ("e" + U+0301) trains the columns that
  composed text is later tagged with, and "é" is one character however it was typed;
- the fullwidth forms of ASCII (U+FF01 to U+FF5E, which East Asian input methods type:
  "Ｊｏｈｎ") read as ASCII, as Unicode's compatibility normalisation (NFKC) reads them, and
  Unicode's hyphen and non-breaking hyphen (U+2010, U+2011: "Jean‑Paul") as "-";
- the soft hyphen (U+00AD, the hyphenation hint of web pages) and the word joiner (U+2060) left
  out: invisible inside a word, they would make "Merkel" with one a word no vocabulary holds;
- the Latin ligatures (U+FB00 to U+FB06, "ﬃ" in "Griﬃn" copied from a PDF) as their letters.

Only these: NFKC would also rewrite characters a model has learned as they are ("…" as "...",
"²" as "2"), while CoNLL-2003 and BTC hold no fullwidth letter, no such hyphen, no word joiner
and no ligature (only nine fullwidth punctuation marks and one soft hyphen, in BTC's train), so
reading these as ASCII loses nothing.
"""

import unicodedata

READ_AS = {0xFF01 + i: 0x21 + i for i in range(0x5E)}  # ！ to ～ -> ! to ~
# Unicode's HYPHEN and NON-BREAKING HYPHEN, which the tokeniser joins words with as it does "-"
READ_AS |= {0x2010: 0x2D, 0x2011: 0x2D}
# The soft hyphen and the word joiner, invisible inside a word (the tokeniser keeps them there)
READ_AS |= {0xAD: None, 0x2060: None}
# The Latin ligatures of typeset text, which PDFs hand to a copy: "Griﬃn" is "Griffin"
READ_AS |= dict(zip(range(0xFB00, 0xFB07), ["ff", "fi", "fl", "ffi", "ffl", "st", "st"]))


def lookup_form(token: str) -> str:
    """The token's NFC form, fullwidth ASCII read as ASCII, U+2010 and U+2011 as "-", U+00AD and
    U+2060 left out, ligatures as their letters (the token itself when it is ASCII, the common
    case). TypeError for a token that is not a str."""
    if not isinstance(token, str):  # bytes have an isascii too
        raise TypeError(f"a token is a str, not {type(token).__name__} {token!r}")
    if token.isascii():
        return token
    read = token.translate(READ_AS) or token  # a token of soft hyphens alone stays itself
    # translated first: "ｅ" + U+0301 composes only once it is "e"
    if not unicodedata.is_normalized("NFC", read):
        read = unicodedata.normalize("NFC", read)
    return read
