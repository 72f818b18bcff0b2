"""How well each model finds persons in text unlike Reuters 1996 (issue 13's table).

    python experiments/robustness.py [MODEL ...] [--data ../shared/data]

For each model (a shipped name or a path; default: default lecture) prints one Markdown table
row per evaluation: entity-level PER precision, recall and F1, as `rnnkit eval` computes them
(Tagger.predict on the file's tokens, rnnkit.ner.metrics.score), counting PER spans only, so
that a model of another task (bio, tags) is judged on the persons of its output. The rows:

    CoNLL-2003 test        DATA/conll2003/test.txt as published
    ... lowercased         every token lowercased (gold tags unchanged)
    ... uppercased         every token uppercased
    BTC test               DATA/btc/test.txt, the Broad Twitter Corpus' tweets
    sentences people write tests/fixtures/people_write.txt through Tagger.tag, spans by
                           character offsets; its own columns add the share of sentences
                           whose persons are found exactly (score_people_write)

--misses also sorts the BTC test persons each model misses (a gold PER span not predicted
exactly) into hashtags, lowercase, capitals and runs of three tokens or more.

The fixture holds one text per line with each person's name in [brackets]; lines starting
with # are comments. tests/ner/test_people_write.py loads this file for the same functions.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "people_write.txt"
DATA = ROOT.parent / "shared" / "data"

# Each evaluation: its file, the file's tag scheme, and how it changes the tokens (the gold
# tags stay as they are). BTC's test file has an I-LOC after O (line 3771): read as IOB1, as
# conlleval reads it, that opens an entity.
EVALUATIONS = {
    "CoNLL-2003 test": ("conll2003/test.txt", None, None),
    "CoNLL-2003 test, lowercased": ("conll2003/test.txt", None, str.lower),
    "CoNLL-2003 test, uppercased": ("conll2003/test.txt", None, str.upper),
    "BTC test (tweets)": ("btc/test.txt", "iob1", None),
}
# The same rows on the dev sets: what experiments/generalise.py --split dev chooses a recipe
# and a seed by, so that the choice sees casing and tweets without seeing a test set. (BTC
# dev is valid IOB2; read as IOB1 all the same, as its test file is, it gives the same
# chunks.)
DEV_EVALUATIONS = {
    "CoNLL-2003 valid": ("conll2003/valid.txt", None, None),
    "CoNLL-2003 valid, lowercased": ("conll2003/valid.txt", None, str.lower),
    "CoNLL-2003 valid, uppercased": ("conll2003/valid.txt", None, str.upper),
    "BTC dev (tweets)": ("btc/dev.txt", "iob1", None),
}


def per_only(tags):
    """IOB2 tags with every type but PER read as O (still valid IOB2)."""
    return [t if t.endswith("-PER") else "O" for t in tags]


def person_spans(tags):
    """The (start, end) token spans of the PER entities of IOB2 tags."""
    from rnnkit.ner.schemes import spans_from_bio

    return {(i, j) for _, i, j in spans_from_bio(per_only(tags))}


def btc_misses(tagger, sentences):
    """The gold persons the tagger misses, sorted into kinds: {"gold", "missed", "hashtag",
    "lowercase", "capitals", "3+ tokens"} counts (a missed name may be of several kinds)."""
    predictions = tagger.predict([s.tokens for s in sentences])
    counts = dict.fromkeys(("gold", "missed", "hashtag", "lowercase", "capitals", "3+ tokens"), 0)
    for s, p in zip(sentences, predictions):
        gold = person_spans(tagger.task.gold_tags(s.tags))
        counts["gold"] += len(gold)
        for i, j in gold - person_spans(p.tags):
            words = s.tokens[i:j]
            letters = [w for w in words if w.isalpha()]
            hashtag = any(w.startswith("#") for w in words)
            counts["missed"] += 1
            counts["hashtag"] += hashtag
            counts["lowercase"] += not hashtag and all(w.islower() for w in letters)
            counts["capitals"] += (
                not hashtag and bool(letters) and all(w.isupper() for w in letters)
            )
            counts["3+ tokens"] += len(words) >= 3
    return counts


def per_scores(tagger, sentences, recase=None):
    """PER span scores (rnnkit.ner.metrics.score) of the tagger on gold sentences, their
    tokens passed through `recase` first; gold as the tagger's task reads it (`rnnkit eval`)."""
    from rnnkit.ner.metrics import score

    tokens = [s.tokens if recase is None else [recase(t) for t in s.tokens] for s in sentences]
    predictions = tagger.predict(tokens)
    gold = [per_only(tagger.task.gold_tags(s.tags)) for s in sentences]
    return score(gold, [per_only(p.tags) for p in predictions])


class FixtureError(ValueError):
    """A line of the fixture that does not parse; the message names the line."""


def parse_people_write(path=FIXTURE):
    """The fixture -> [(line number, text, gold spans [(start, end)] into text)]: each
    [bracketed] name is a person, the brackets removed from the text."""
    items = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        text, spans, start = [], [], None
        for c in line:
            if c == "[":
                if start is not None:
                    raise FixtureError(f"{path}:{lineno}: '[' inside a name")
                start = len(text)
            elif c == "]":
                if start is None or start == len(text):
                    raise FixtureError(f"{path}:{lineno}: ']' without a name before it")
                spans.append((start, len(text)))
                start = None
            else:
                text.append(c)
        if start is not None:
            raise FixtureError(f"{path}:{lineno}: '[' never closed")
        text = "".join(text)
        for a, b in spans:
            if text[a:b] != text[a:b].strip():
                raise FixtureError(f"{path}:{lineno}: [{text[a:b]}] has spaces at its ends")
        items.append((lineno, text, spans))
    return items


def score_people_write(tagger, items):
    """Persons found in the fixture's texts by Tagger.tag, against gold, by character spans.

    Returns {"exact": share of texts whose predicted person spans are exactly the gold ones,
    "precision", "recall", "f1": over spans, "n_texts", "n_gold", "n_pred", "n_correct",
    "wrong": [(line, text, gold spans as text, predicted spans as text)] of the texts missed}.
    """
    n_gold = n_pred = n_correct = n_exact = 0
    wrong = []
    for lineno, text, gold in items:
        found = [(e["start"], e["end"]) for e in tagger.tag(text)["entities"] if e["type"] == "PER"]
        right = len(set(found) & set(gold))
        n_gold, n_pred, n_correct = n_gold + len(gold), n_pred + len(found), n_correct + right
        if set(found) == set(gold):
            n_exact += 1
        else:
            wrong.append(
                (lineno, text, [text[a:b] for a, b in gold], [text[a:b] for a, b in found])
            )
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "exact": n_exact / len(items) if items else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_texts": len(items),
        "n_gold": n_gold,
        "n_pred": n_pred,
        "n_correct": n_correct,
        "wrong": wrong,
    }


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("models", nargs="*", default=["default", "lecture"], metavar="MODEL")
    p.add_argument("--data", type=Path, default=DATA, help="folder holding conll2003/ and btc/")
    p.add_argument(
        "--wrong", action="store_true", help="also list the fixture's texts each model gets wrong"
    )
    p.add_argument(
        "--misses", action="store_true", help="also sort the BTC test persons each model misses"
    )
    args = p.parse_args(argv)

    from rnnkit.data.conll import read_conll
    from rnnkit.ner.tagger import Tagger, describe_model

    taggers = {m: Tagger.load(m) for m in args.models}
    files = {}
    print("| evaluation (PER spans) | " + " | ".join(describe_model(m) for m in taggers) + " |")
    print("|---|" + "---|" * len(taggers))
    for name, (file, scheme, recase) in EVALUATIONS.items():
        path = args.data / file
        if not path.exists():
            print(f"{path}: not found, row skipped", file=sys.stderr)
            continue
        if file not in files:
            files[file] = read_conll(path, scheme=scheme)
        cells = []
        for tagger in taggers.values():
            s = per_scores(tagger, files[file], recase)["per_type"].get("PER", {})
            cells.append(
                f"{s.get('f1', 0):.4f} (P {s.get('precision', 0):.3f}, R {s.get('recall', 0):.3f})"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    items = parse_people_write()
    fixture = {m: score_people_write(t, items) for m, t in taggers.items()}
    cells = [
        f"{s['f1']:.4f} (P {s['precision']:.3f}, R {s['recall']:.3f})" for s in fixture.values()
    ]
    print(f"| sentences people write ({len(items)} texts) | " + " | ".join(cells) + " |")
    cells = [f"{s['exact']:.4f}" for s in fixture.values()]
    print("| sentences people write, texts all right | " + " | ".join(cells) + " |")
    if args.misses and "btc/test.txt" in files:
        print()
        for m, tagger in taggers.items():
            misses = btc_misses(tagger, files["btc/test.txt"])
            print(f"{describe_model(m)}: BTC test persons missed: {misses}")
    if args.wrong:
        for m, s in fixture.items():
            print(f"\n{m}: {len(s['wrong'])} texts wrong")
            for lineno, text, gold, found in s["wrong"]:
                print(f"  line {lineno}: {text}\n    gold {gold}\n    found {found}")


if __name__ == "__main__":
    main()
