import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.conll import read_conll
from rnnkit.data.tokenize import Token, iter_sentences, iter_tokens, tokenize
from rnnkit.ner.tagger import BIDI_CONTROLS
from support import SHARED_DATA as CONLL


def texts(s):
    return [t.text for t in tokenize(s)]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            'He said, "Teddy Roosevelt was a great President."',
            [
                "He",
                "said",
                ",",
                '"',
                "Teddy",
                "Roosevelt",
                "was",
                "a",
                "great",
                "President",
                ".",
                '"',
            ],
        ),
        # Examples from CoNLL-2003's own tokenisation.
        ("BRUSSELS 1996-08-22", ["BRUSSELS", "1996-08-22"]),
        ("the U.S.-led force of 1,000 men", ["the", "U.S.-led", "force", "of", "1,000", "men"]),
        (
            "won 6-4 at 3.5 (+44 -0.2 .500)",
            ["won", "6-4", "at", "3.5", "(", "+44", "-0.2", ".500", ")"],
        ),
        ("a one-day Inzamam-ul-Haq 1/2", ["a", "one-day", "Inzamam-ul-Haq", "1/2"]),
        # Unicode's hyphen and non-breaking hyphen join as "-" does; a dash still separates
        (
            "Jean\u2011Paul Anne\u2010Marie U.S.\u2011led 3\u20134",
            ["Jean\u2011Paul", "Anne\u2010Marie", "U.S.\u2011led", "3", "\u2013", "4"],
        ),
        # a user name is one token, as the Broad Twitter Corpus writes it; an e-mail stays one
        (
            "RT @BarackObama: thanks @_nat_ a.b@c.com @ 5pm x@y",
            ["RT", "@BarackObama", ":", "thanks", "@_nat_", "a.b@c.com", "@", "5pm", "x", "@", "y"],
        ),
        # a soft hyphen and a word joiner lie inside a word
        ("Angela Mer\u00adkel Anna\u2060Lena", ["Angela", "Mer\u00adkel", "Anna\u2060Lena"]),
        ("John's O'Brien's", ["John", "'s", "O'Brien", "'s"]),
        ("Peter 's car", ["Peter", "'s", "car"]),  # already tokenised text stays so
        ("don't can't won't isn't", ["do", "n't", "ca", "n't", "wo", "n't", "is", "n't"]),
        (
            "I'm they're we've you'll he'd",
            ["I", "'m", "they", "'re", "we", "'ve", "you", "'ll", "he", "'d"],
        ),
        (
            "Mr. Smith met M. Waugh at 10:30 a.m.",
            ["Mr.", "Smith", "met", "M.", "Waugh", "at", "10:30", "a.m."],
        ),
        ("Aug. 22 ... -- Corp. Inc.", ["Aug.", "22", "...", "--", "Corp.", "Inc."]),
        ("US$ 4m, HK$ 1990s $5", ["US$", "4m", ",", "HK$", "1990s", "$", "5"]),
        ("S&P 500 fell; 49th?", ["S&P", "500", "fell", ";", "49th", "?"]),
        (
            "mail derivatives@reuters.com or www.reuters.com.",
            ["mail", "derivatives@reuters.com", "or", "www.reuters.com", "."],
        ),
        ("'quoted' `` ok ''", ["'", "quoted", "'", "``", "ok", "''"]),
        ("World War I.", ["World", "War", "I", "."]),  # a final capital's period ends the text
        ("1. Hill\n2. Alesi scored 2.", ["1.", "Hill", "2.", "Alesi", "scored", "2", "."]),  # ranks
        ("", []),
        (" \t\n\u2028\xa0", []),
        ("\x00\x07x\x1f", ["x"]),  # control characters separate like spaces
        ("café e\u0301te\u0301 हिन्दी", ["café", "e\u0301te\u0301", "हिन्दी"]),  # marks stay in words
        ("中文字 👍🏽 ❤️!", ["中文字", "👍🏽", "❤️", "!"]),
    ],
)
def test_conventions(text, expected):
    assert texts(text) == expected


# Arbitrary Unicode, and text dense in the characters the tokeniser's rules turn on.
TRICKY = st.text(
    alphabet=st.sampled_from(list("aZn't1 .,'’-+$&@/:w\u0301\u200d\u200e\U0001f3fb\x00\n"))
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), TRICKY))
def test_offsets_round_trip_and_no_whitespace(text):
    tokens = tokenize(text)
    previous_end = 0
    for tok in tokens:
        assert isinstance(tok, Token)
        assert text[tok.start : tok.end] == tok.text
        assert tok.text and not any(c.isspace() for c in tok.text)
        assert tok.start >= previous_end  # in order, not overlapping
        previous_end = tok.end
    # Nothing but whitespace, control characters and bidirectional controls is dropped.
    covered = set()
    for tok in tokens:
        covered.update(range(tok.start, tok.end))
    for i, c in enumerate(text):
        if i not in covered:
            assert c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in BIDI_CONTROLS


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\"')U.S-'")), max_size=60), st.integers(1, 8))
def test_sentences_partition_the_tokens(text, max_len):
    tokens = tokenize(text)
    sentences = list(iter_sentences(tokens, max_len=max_len))
    assert [t for s in sentences for t in s] == tokens
    assert all(1 <= len(s) <= max_len for s in sentences)


def test_sentence_splitting():
    text = 'He said, "Hi there." Then he left! Why? The U.S. is big. (Really.) Mr. Smith agreed'
    sentences = [[t.text for t in s] for s in iter_sentences(tokenize(text))]
    assert sentences == [
        ["He", "said", ",", '"', "Hi", "there", ".", '"'],
        ["Then", "he", "left", "!"],
        ["Why", "?"],
        ["The", "U.S.", "is", "big", "."],
        ["(", "Really", ".", ")"],
        ["Mr.", "Smith", "agreed"],
    ]


def test_opening_quote_after_full_stop_starts_the_next_sentence():
    sentences = [[t.text for t in s] for s in iter_sentences(tokenize('It ended. "Now," he said.'))]
    assert sentences == [["It", "ended", "."], ['"', "Now", ",", '"', "he", "said", "."]]


def test_long_input_is_processed_in_bounded_pieces():
    text = "word " * 50_000  # ~250 kB without a full stop
    pieces = iter_sentences(iter_tokens(text), max_len=100)
    first = next(pieces)
    assert len(first) == 100
    assert sum(1 for _ in pieces) == 499


def test_max_len_must_be_positive():
    with pytest.raises(ValueError):
        next(iter_sentences(tokenize("a b"), max_len=0))


@pytest.mark.skipif(not CONLL.is_dir(), reason="CoNLL-2003 data not available")
def test_retokenising_conll_text_gives_its_tokens():
    sentences = read_conll(CONLL / "valid.txt")
    same = sum(texts(" ".join(s.tokens)) == s.tokens for s in sentences)
    assert same / len(sentences) > 0.985  # the rest: "6-", "U.S" without its period, "10=" ...


BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ZERO_WIDTH = "\u200b\ufeff"  # the zero-width space and the zero-width no-break space


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list(BIDI + ZERO_WIDTH + "Anna Smith.,'\"-é\u0301 www.x.com/a"))))
def test_bidi_controls_are_never_part_of_a_token(text):
    """Issue 11, item 11: direction marks separate tokens, as spaces do; so do the zero-width
    spaces."""
    for tok in tokenize(text):
        assert text[tok.start : tok.end] == tok.text
        assert not set(tok.text) & set(BIDI + ZERO_WIDTH), tok


def test_bidi_controls_separate_words():
    assert texts("\u202bJohn\u200eSmith\u202c www.x.com\u2069") == ["John", "Smith", "www.x.com"]


def test_zero_width_spaces_separate_words_and_are_no_tokens():
    """'Angela\u200bMerkel met Olaf\u200b Scholz.' was tokenised with '\u200b' as tokens, and
    the default found only 'Olaf'."""
    text = "\ufeffAngela\u200bMerkel met Olaf\u200b Scholz\u200b.\u200b www.x.com/a\u200bb"
    assert texts(text) == ["Angela", "Merkel", "met", "Olaf", "Scholz", ".", "www.x.com/a", "b"]
