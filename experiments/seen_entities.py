"""How many of the entities of the dev and test files also occur in the training files, and how
many are made only of words the training text never has.

    python experiments/seen_entities.py [--data ../shared/data/conll2003] [--train train.txt]
        [--files valid.txt,test.txt] [--types PER]

An entity is seen when a training file holds an entity of the same type and the same words.
A model that remembers the names it was trained on scores the seen ones more easily, so a file
with more of them rewards memorising; issue 12's dev-best rule meets that in the README. An
entity is new in every word when none of its words occurs anywhere in the training text, as a
name or not: a word-level model knows it only by its shape, affixes and spelling. --train and
--files take comma-separated paths, relative to --data; --types keeps those entity types.
"""

import argparse
import sys
from pathlib import Path

from rnnkit.data.conll import read_conll
from rnnkit.errors import DataError
from rnnkit.ner.schemes import spans_from_bio

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def entities(sentences):
    """Every entity of CoNLL sentences as (type, its words), in order."""
    return [
        (typ, tuple(s.tokens[start:end]))
        for s in sentences
        for typ, start, end in spans_from_bio(s.tags)
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--train", default="train.txt")
    p.add_argument("--files", default="valid.txt,test.txt")
    p.add_argument("--types", default=None, help="e.g. PER (default: every type)")
    args = p.parse_args(argv)
    keep = None if args.types is None else set(args.types.split(","))
    try:  # a file missing or malformed: its name and line, not a traceback
        train = [s for name in args.train.split(",") for s in read_conll(args.data / name)]
        files = {name: entities(read_conll(args.data / name)) for name in args.files.split(",")}
    except DataError as e:
        sys.exit(f"seen_entities.py: {e}")
    seen, words = set(entities(train)), {w for s in train for w in s.tokens}
    print(f"| file | entities | seen in {args.train} (same type and words) | new in every word |")
    print("|---|---|---|---|")
    for name, found in files.items():
        found = [e for e in found if keep is None or e[0] in keep]
        n = len(found) or 1
        share = sum(e in seen for e in found) / n
        new = sum(not words.intersection(ws) for _, ws in found) / n
        print(f"| {name} | {len(found):,} | {share:.1%} | {new:.1%} |")


if __name__ == "__main__":
    main()
