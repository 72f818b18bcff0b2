"""Issue 13's recipe and its ablation: train each configuration over seeds, then score every
run on the robustness rows (experiments/robustness.py) and print mean ± sd per row.

    python experiments/generalise.py --out runs/gen [--configs full,no-chars] [--seeds 1,2,3]
        [--jobs 2] [--data ../shared/data]

Every configuration is the previous shipped default's recipe (`--preset default` as it
stood before this issue: 2-layer bidirectional per tagger with the feature groups, entity
dropout and weight averaging) with 15 epochs, plus:

    full       CoNLL-2003 and BTC training data (dev: both, the mean F1 selects), case
               augmentation 0.4, the character RNN (--char-hidden 25)
    no-chars   full without the character RNN
    no-case    full without case augmentation
    no-btc     full on CoNLL-2003 alone (dev: CoNLL-2003 valid)
    tags-crf   full, but learning PER, LOC and ORG (the types both corpora have) with a CRF
               output layer, its persons scored (not in the default --configs)
    decay      full with the learning rate decayed, lr / (1 + 0.2 epoch): 3e-3 to 0.8e-3 by
               the last epoch (not in the default --configs)
    reg        full with more dropout: 0.35 on each layer's output (not 0.2) and 0.2 of the
               feature groups (not 0.1) (not in the default --configs)
    reg2       full with more dropout still: 0.5 on each layer's output, 0.3 of the feature
               groups (not in the default --configs)
    tags-crf-reg  tags-crf with reg's dropout (not in the default --configs)
    tags-crf-bioes  tags-crf learning BIOES tags from the files' BIO (--model-scheme bioes),
               as bi2-bio-crf-gru-bioes of quality.py does (not in the default --configs)
    tags-crf-bioes-reg  tags-crf-bioes with reg's dropout (not in the default --configs)
    tags4-crf-bioes  tags-crf-bioes learning MISC too, as the shipped `conll` does, though BTC
               has no MISC: its MISC-like words are O there (not in the default --configs)
    tags-crf-bioes-no-chars, tags-crf-bioes-no-case, tags-crf-bioes-no-btc  the shipped
               default's recipe (tags-crf-bioes) without each part, as no-chars, no-case and
               no-btc are full without it (not in the default --configs)
    tags-crf-bioes-case25  tags-crf-bioes with a quarter of the sentences recased, not 0.4 (the
               shipped default's recipe; not in the default --configs)
    tags-crf-bioes-c50  tags-crf-bioes with 50 units in each chain of the character RNN, not 25
               (not in the default --configs)
    tags-crf-bioes-e  tags-crf-bioes reading a learned embedding e<t> = E x<t> of 100 units,
               with dropout 0.5 on it, as reg-gru-e does, in the lecture's cell (not in the
               default --configs)
    tags-crf-bioes-ed3  tags-crf-bioes-e with dropout 0.3 on e<t>, not 0.5 (not in the default
               --configs)
    tags-crf-bioes-e20  tags-crf-bioes-e in 20 epochs, not 15 (not in the default --configs)
    reg-gru    reg (the shipped default's recipe) with gated recurrent units, --cell gru, for
               the lecture's cell (not in the default --configs)
    reg-gru-e  reg-gru reading a learned embedding e<t> = E x<t> of 100 units, with dropout
               0.5 on it (--n-e 100 --embedding-dropout 0.5) (not in the default --configs)

    reg-btc2   reg with the tweets weighed twice (`--train btc/train.txt:2`): every BTC
               sentence shown twice an epoch (not in the default --configs)
Each run is the `rnnkit train` command it prints, into OUT/CONFIG-sSEED; a run that ended
(its model.npz there, and no lock file) is not trained again, and only such runs are scored: a
run still training in another process is neither trained twice nor scored half-way. --jobs
runs that many trainings at once, then scores them (the test rows unless --split dev);
--no-score trains only, so that a recipe can be chosen on dev before its test rows are seen.
--report trains nothing. Adds every run's scores to
OUT/results.json (a run scored again replaces its entry; the other runs' entries are kept).
--split dev scores the same rows made of the dev sets instead (CoNLL-2003 valid as published,
lowercased and uppercased; BTC dev), with their mean, into OUT/results-dev.json: the recipe
with the best mean over seeds is the one to ship (where it is ahead of the shipped recipe by
0.001 or more), and of its seeds the best that gets the lecture's Teddy pair right.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import BI2_INIT, FEATURES, SIZES
from robustness import (
    DEV_EVALUATIONS,
    EVALUATIONS,
    parse_people_write,
    per_scores,
    score_people_write,
)

from rnnkit.ner.run_directory import LOCK_FILE

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The default model's recipe before issue 13 (`bi2-per-init` of quality.py; the shipped
# model's header holds it, and `--preset default` now reads the new one), in 15 epochs.
BASE = [*BI2_INIT, *SIZES, "--lr", "3e-3", *FEATURES, "--epochs", "15"]
CASE, CHARS = ["--case-augment", "0.4"], ["--char-hidden", "25"]
CASE25, CHARS50 = ["--case-augment", "0.25"], ["--char-hidden", "50"]
EMBED = ["--n-e", "100", "--embedding-dropout", "0.5"]


def data_flags(data, btc=True, btc_weight=None):
    conll, tweets = data / "conll2003", data / "btc"
    flags = ["--train", str(conll / "train.txt"), "--dev", str(conll / "valid.txt")]
    if btc:
        weight = "" if btc_weight is None else f":{btc_weight}"
        flags += ["--train", f"{tweets / 'train.txt'}{weight}", "--dev", str(tweets / "dev.txt")]
    return flags


def configs(data):
    full = [*BASE, *data_flags(data), *CASE, *CHARS]
    reg = ["--dropout", "0.35", "--feature-dropout", "0.2"]
    # after BASE's --task per: the types both corpora have, with a CRF
    tags = ["--task", "tags", "--types", "PER,LOC,ORG", "--output", "crf"]
    tags4 = ["--task", "tags", "--types", "PER,LOC,ORG,MISC", "--output", "crf"]
    bioes = ["--model-scheme", "bioes"]
    return {
        "full": full,
        "no-chars": [*BASE, *data_flags(data), *CASE],
        "no-case": [*BASE, *data_flags(data), *CHARS],
        "no-btc": [*BASE, *data_flags(data, btc=False), *CASE, *CHARS],
        "tags-crf": [*full, *tags],
        "decay": [*full, "--lr-decay", "0.2"],
        "reg": [*full, *reg],
        "reg2": [*full, "--dropout", "0.5", "--feature-dropout", "0.3"],
        "tags-crf-bioes": [*full, *tags, *bioes],
        "tags-crf-bioes-reg": [*full, *tags, *bioes, *reg],
        "tags4-crf-bioes": [*full, *tags4, *bioes],
        "tags-crf-bioes-no-chars": [*BASE, *data_flags(data), *CASE, *tags, *bioes],
        "tags-crf-bioes-no-case": [*BASE, *data_flags(data), *CHARS, *tags, *bioes],
        "tags-crf-bioes-no-btc": [
            *BASE,
            *data_flags(data, btc=False),
            *CASE,
            *CHARS,
            *tags,
            *bioes,
        ],
        "tags-crf-bioes-c50": [*BASE, *data_flags(data), *CASE, *CHARS50, *tags, *bioes],
        "tags-crf-bioes-case25": [*BASE, *data_flags(data), *CASE25, *CHARS, *tags, *bioes],
        "tags-crf-bioes-e": [*full, *tags, *bioes, *EMBED],
        "tags-crf-bioes-ed3": [*full, *tags, *bioes, "--n-e", "100", "--embedding-dropout", "0.3"],
        "tags-crf-bioes-e20": [*full, *tags, *bioes, *EMBED, "--epochs", "20"],
        "tags-crf-reg": [*full, *tags, *reg],
        "reg-gru": [*full, *reg, "--cell", "gru"],
        "reg-btc2": [*BASE, *data_flags(data, btc_weight=2), *CASE, *CHARS, *reg],
        "reg-gru-e": [*full, *reg, "--cell", "gru", *EMBED],
    }


def finished(out):
    """Whether the run in `out` ended. Its model.npz is written at each better epoch, so a run
    still training (or killed) has one too; only its lock file, removed when a run ends, tells
    them apart (rnnkit.ner.run_directory)."""
    return (out / "model.npz").exists() and not (out / LOCK_FILE).exists()


def train(flags, out, seed):
    if finished(out):
        return
    if (out / LOCK_FILE).exists():
        sys.exit(
            f"{out}: a run is training there, or was killed (its {LOCK_FILE} is left): wait for "
            "it, or resume it with rnnkit train --resume"
        )
    cmd = ["rnnkit", "train", *flags, "--seed", str(seed), "--out", str(out), "--quiet"]
    print("$", shlex.join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {shlex.join(cmd)}\n{done.stderr}")


def scores(model, files, items, evaluations=EVALUATIONS):
    """The run's PER span F1 on each row; the fixture's two rows where `items` are given, and
    otherwise (the dev rows) the mean of the rows, which chooses among recipes and seeds."""
    from rnnkit.ner.tagger import Tagger

    tagger = Tagger.load(model)
    row = {}
    for name, (file, _, recase) in evaluations.items():
        row[name] = per_scores(tagger, files[file], recase)["per_type"].get("PER", {}).get("f1", 0)
    if items is None:
        row["mean of the rows above"] = statistics.mean(row.values())
        return row
    fixture = score_people_write(tagger, items)
    row["sentences people write, span F1"] = fixture["f1"]
    row["sentences people write, texts all right"] = fixture["exact"]
    return row


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=Path("runs/gen"))
    p.add_argument("--configs", default="full,no-chars,no-case,no-btc")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--report", action="store_true", help="train nothing; score the runs there")
    p.add_argument(
        "--no-score",
        action="store_true",
        help="train, and score nothing: no test row is seen before a recipe is chosen on dev "
        "(then --report --split dev)",
    )
    p.add_argument(
        "--split",
        choices=["test", "dev"],
        default="test",
        help="score on the test rows and the fixture (default), or on the same rows made of "
        "the dev sets, with their mean: what a recipe and a seed are chosen by",
    )
    args = p.parse_args(argv)
    table = configs(args.data)
    names, seeds = args.configs.split(","), [int(s) for s in args.seeds.split(",")]
    runs = [(n, s, args.out / f"{n}-s{s}") for n in names for s in seeds]
    if args.report and args.no_score:
        p.error("--report scores the runs; --no-score trains them without scoring")
    if not args.report:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda r: train(table[r[0]], r[2], r[1]), runs))
    if args.no_score:
        return

    from rnnkit.data.conll import read_conll

    dev = args.split == "dev"
    evaluations = DEV_EVALUATIONS if dev else EVALUATIONS
    files = {f: read_conll(args.data / f, scheme=s) for f, s, _ in evaluations.values()}
    items = None if dev else parse_people_write()
    results = {
        str(out): scores(out, files, items, evaluations) for _, _, out in runs if finished(out)
    }
    if not results:
        sys.exit(f"{args.out}: no finished run of {args.configs} (seeds {args.seeds}) to score")
    path = args.out / ("results-dev.json" if dev else "results.json")
    kept = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**kept, **results}, indent=1))
    rows = list(next(iter(results.values()), {}))
    print("| evaluation (PER spans, mean ± sd over seeds) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for row in rows:
        cells = []
        for n in names:
            v = [results[str(o)][row] for c, _, o in runs if c == n and str(o) in results]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.4f} ± {sd:.4f} ({len(v)})" if v else "-")
        print(f"| {row} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
