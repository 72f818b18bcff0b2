"""Sentence boundaries of rnnkit's rules against sentence-splitting libraries, on CoNLL-2003 text.

CoNLL-2003 gives each document as tokenised sentences. Paragraphs of raw text are rebuilt
from them (tokens joined by spaces, none before closing punctuation or after an opening
bracket), and every start of a sentence but the first is a gold boundary. Two sets:

* prose: runs of at least two consecutive sentences that each end in . ! or ? (with any
  closing quote), the text where a splitter has something to find;
* documents: all sentences of a document as one paragraph, headlines, datelines and results
  tables included (no splitter can find an unpunctuated headline's end; recall is low for all);
  once joined by spaces, once a sentence per line as Reuters laid out headlines and tables (the
  lines of a paragraph are one text to rnnkit, so a line end is no boundary to it).

A predicted boundary counts when it is a gold one, spaces and quotes skipped. The libraries
are run where installed (pip install pysbd syntok blingfire); nltk's punkt needs a data
download, which this machine cannot make, so it is left out.

Verdict (CoNLL-2003 valid, 2026-11): on prose the rules score F1 0.994, blingfire 0.997,
syntok 0.992, pysbd 0.958; pysbd's lead on space-joined documents is all numbered results
("... 12.71 seconds 2. Ludmila"), which files put at line starts where the tokeniser keeps
"2." whole (precision 0.993), and pysbd ends a sentence at every line end, cutting
"Olaf\nScholz" in two. rnnkit keeps its rules: no library does better where it matters.

    python experiments/sentence_split.py [--data ../shared/data/conll2003/valid.txt] [--n 500]
"""

import argparse
import time
from pathlib import Path

from rnnkit.data.tokenize import iter_sentences, iter_tokens

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "valid.txt"
NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "'s", "n't", "'", "%", "'re", "'ll"}
NO_SPACE_AFTER = {"(", "[", "{", "$"}
ENDS = {".", "!", "?"}


def documents(path):
    """CoNLL file -> documents, each a list of sentences (token lists)."""
    docs, doc, sentence = [], [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        parts = line.split()
        if not parts:
            if sentence:
                doc.append(sentence)
            sentence = []
        elif parts[0] == "-DOCSTART-":
            if doc:
                docs.append(doc)
            doc = []
        else:
            sentence.append(parts[0])
    if sentence:
        doc.append(sentence)
    if doc:
        docs.append(doc)
    return docs


def detokenize(sentences, sep=" "):
    """Sentences -> (text, gold starts of sentences 2..n)."""
    text, starts, quote_open = "", [], False
    for k, sentence in enumerate(sentences):
        if k:
            text += sep
            starts.append(len(text))
        for i, tok in enumerate(sentence):
            if tok == '"':
                space = i > 0 and not quote_open
                quote_open = not quote_open
            else:
                space = i > 0 and tok not in NO_SPACE_BEFORE
            if i > 0 and (
                sentence[i - 1] in NO_SPACE_AFTER or (sentence[i - 1] == '"' and quote_open)
            ):
                space = False
            text += (" " if space else "") + tok
    return text, starts


def ends_a_sentence(sentence):
    last = [t for t in sentence if t not in ('"', "'", ")")][-1:]
    return len(sentence) >= 3 and last and last[0] in ENDS


def prose_paragraphs(docs, n):
    out, count = [], 0
    for doc in docs:
        run = []
        for sentence in doc + [[]]:
            if sentence and ends_a_sentence(sentence):
                run.append(sentence)
                continue
            if len(run) >= 2:
                out.append(run)
                count += len(run)
                if count >= n:
                    return out
            run = []
    return out


def rules(text):
    # No cut at 100 tokens (the tagger's bound on memory, not a boundary found in the text).
    return [s[0].start for s in iter_sentences(iter_tokens(text), max_len=10**9)][1:]


def splitters():
    found = {"rnnkit rules": rules}
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd 0.3"] = lambda text: [s.start for s in seg.segment(text)][1:]
    except ImportError:
        pass
    try:
        from syntok import segmenter

        def syntok_starts(text):
            return [s[0].offset for p in segmenter.analyze(text) for s in p][1:]

        found["syntok 1.4"] = syntok_starts
    except ImportError:
        pass
    try:
        import blingfire

        found["blingfire 0.1"] = lambda text: [
            a for a, _ in blingfire.text_to_sentences_and_offsets(text)[1]
        ][1:]
    except ImportError:
        pass
    return found


def skip_space(text, i):
    # Past spaces and quotes: CoNLL-2003 often starts a sentence with the closing quote of
    # the one before, where the splitters end the one before; neither is wrong.
    while i < len(text) and (text[i].isspace() or text[i] == '"'):
        i += 1
    return i


def score(split, paragraphs):
    tp = fp = fn = 0
    t0 = time.perf_counter()
    for text, gold in paragraphs:
        predicted = {skip_space(text, i) for i in split(text)} - {0}
        gold = {skip_space(text, i) for i in gold}
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    seconds = time.perf_counter() - t0
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return p, r, 2 * p * r / max(1e-9, p + r), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--n", type=int, default=500, help="sentences in the prose set (at least)")
    args = ap.parse_args()
    docs = documents(args.data)
    sets = {
        "prose": [detokenize(run) for run in prose_paragraphs(docs, args.n)],
        "documents": [detokenize(doc) for doc in docs[:40]],
        "documents, a line per sentence": [detokenize(doc, "\n") for doc in docs[:40]],
    }
    for name, paragraphs in sets.items():
        n_sent = sum(len(g) + 1 for _, g in paragraphs)
        print(f"\n{name}: {len(paragraphs)} paragraphs, {n_sent} sentences")
        print(f"{'splitter':16} {'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>8}")
        for label, split in splitters().items():
            p, r, f, s = score(split, paragraphs)
            print(f"{label:16} {p:9.3f} {r:7.3f} {f:6.3f} {s:8.2f}")


if __name__ == "__main__":
    main()
