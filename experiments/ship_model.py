"""Copy a trained model into the package as a shipped model, stored in float16 (or float32).

    python experiments/ship_model.py runs/default src/rnnkit/models/default.npz \
        --data ../shared/data/conll2003 [--show PER]

float16 halves the file; this script refuses to ship it when the rounding changes any
score it reports (dev and test entity F1, precision, recall, token accuracy, to 4
decimals): then ship with --dtype float32, or, where float32 would pass the 10 MB a shipped
model may take, with --accept-rounding: float16 all the same, the scores recorded (and
printed) being those of the model as stored, beside those it had as trained.

--show TYPES ships a model of several types that prints only these (Tagger.show), and writes
them into the recipe its header holds (`train --show`, which changes no weight), so that
`rnnkit train --preset NAME` trains the same settings; the scores are of the types shown.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from rnnkit.data.conll import read_conll
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import evaluate

KEYS = ("f1", "precision", "recall", "accuracy")


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="a training directory or model file")
    p.add_argument("dest", help="where to write the shipped model")
    p.add_argument("--data", default="../shared/data/conll2003")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    p.add_argument(
        "--accept-rounding",
        action="store_true",
        help="ship even where the rounding moves a score; record the stored model's scores",
    )
    p.add_argument("--show", default=None, help="the entity types the shipped model prints")
    args = p.parse_args(argv)
    tagger = Tagger.load(args.model)
    if args.show is not None:
        tagger.show = args.show
        tagger.meta["train"] = {**tagger.meta["train"], "show": ",".join(tagger.show)}
    tmp = Path(args.dest).with_suffix(".check.npz")
    tagger.save(tmp, dtype=np.dtype(args.dtype))
    rounded = Tagger.load(tmp)
    os.unlink(tmp)
    scores = {}
    for split in ("valid", "test"):
        sentences = read_conll(Path(args.data) / f"{split}.txt")
        full, _ = evaluate(tagger, sentences)
        half, _ = evaluate(rounded, sentences)
        moved = [k for k in KEYS if round(full[k], 4) != round(half[k], 4)]
        if moved and not args.accept_rounding:
            k = moved[0]
            raise SystemExit(
                f"{args.dtype} changes {split} {k}: {full[k]:.4f} -> {half[k]:.4f}; not shipped"
            )
        scores[split] = {k: half[k] for k in KEYS}  # the scores of the model as it ships
        print(
            f"{split}: F1 {half['f1']:.4f}  P {half['precision']:.4f}  R {half['recall']:.4f}  "
            + (
                f"as stored in {args.dtype}; as trained: F1 {full['f1']:.4f}  "
                f"P {full['precision']:.4f}  R {full['recall']:.4f}"
                if moved
                else f"(as trained and as stored in {args.dtype} agree to 4 decimals)"
            )
        )
    tagger.save(args.dest, dtype=np.dtype(args.dtype), shipped_scores=scores)
    n_params = sum(p.size for p in tagger.model.params.values())
    size = Path(args.dest).stat().st_size / 1e6
    print(f"wrote {args.dest} ({size:.1f} MB, {n_params:,} parameters in {args.dtype})")


if __name__ == "__main__":
    main()
