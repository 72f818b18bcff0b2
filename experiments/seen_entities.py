"""How many of the entities of the dev and test files also occur in the training file.

    python experiments/seen_entities.py [--data ../shared/data/conll2003]

An entity is seen when the training file holds an entity of the same type and the same words.
A model that remembers the names it was trained on scores the seen ones more easily, so a file
with more of them rewards memorising; issue 12's dev-best rule meets that in the README.
"""

import argparse
import sys
from pathlib import Path

from rnnkit.data.conll import read_conll
from rnnkit.errors import DataError
from rnnkit.ner.schemes import spans_from_bio

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def entities(path):
    """Every entity of a CoNLL file as (type, its words), in order."""
    return [
        (typ, tuple(s.tokens[start:end]))
        for s in read_conll(path)
        for typ, start, end in spans_from_bio(s.tags)
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--train", default="train.txt")
    p.add_argument("--files", default="valid.txt,test.txt")
    args = p.parse_args(argv)
    try:  # a file missing or malformed: its name and line, not a traceback
        seen = set(entities(args.data / args.train))
        files = {name: entities(args.data / name) for name in args.files.split(",")}
    except DataError as e:
        sys.exit(f"seen_entities.py: {e}")
    print(f"| file | entities | seen in {args.train} (same type and words) |")
    print("|---|---|---|")
    for name, found in files.items():
        share = sum(e in seen for e in found) / len(found) if found else 0.0
        print(f"| {name} | {len(found):,} | {share:.1%} |")


if __name__ == "__main__":
    main()
