"""The lecture's two "Teddy" sentences through the one-directional and the bidirectional model.

    python experiments/teddy.py [--models lecture,default]

Runs `rnnkit tag --json` (the real command) with each model and prints, for every
word, ŷ<t> = P(word t is part of a person's name) as a Markdown table. `prob` in
the JSON is ŷ of the predicted label, so for a word labelled O it is 1 - ŷ<t>. For a CRF
that shows only persons (the shipped default) the column is a marginal probability: of the
word's own label (B-PER, I-PER) where it is labelled a person's, and of any person label
where it is labelled O (whose prob is 1 - that).
"""

import argparse
import json
import subprocess

SENTENCES = [
    'He said, "Teddy Roosevelt was a great President."',
    'He said, "Teddy bears are on sale!"',
]


def person_probs(model, text):
    out = subprocess.run(
        ["rnnkit", "tag", "--json", "--model", model, text],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tokens = json.loads(out)["tokens"]
    return [(t["text"], t["prob"] if t["label"] != "O" else 1 - t["prob"]) for t in tokens]


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default="lecture,default")
    models = p.parse_args(argv).models.split(",")
    for text in SENTENCES:
        columns = [person_probs(m, text) for m in models]
        print(f"\n{text}\n")
        print("| word | " + " | ".join(f"ŷ<t> ({m})" for m in models) + " |")
        print("|---" * (len(models) + 1) + "|")
        for i, (word, _) in enumerate(columns[0]):
            print(f"| {word} | " + " | ".join(f"{c[i][1]:.3f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
