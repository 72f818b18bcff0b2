"""Train each named configuration with several seeds and report dev and test entity F1.

    python experiments/quality.py --data ../shared/data/conll2003 --out runs/quality \
        [--configs lecture,shape] [--seeds 0,1,2]

Each run is the `rnnkit train` command printed beside it (selection on valid,
early stopping on dev F1); test is scored once, on the selected model, with
`rnnkit eval`. Prints a Markdown table of mean ± standard deviation over seeds
(the time is the sum of the epochs' training time in history.csv, without the
dev evaluation after each) and adds every run's scores to OUT/results.json (a run scored again
replaces its entry).
`--report DIR ...` trains nothing and tabulates the runs already in those folders.
`--ensemble K` also scores each configuration's runs K at a time as one tagger (rnnkit.ner.ensemble:
`rnnkit eval --model A --model B ...`), in disjoint groups in the order of their seeds (0-2, 3-5,
... for K = 3; a remainder is left out), and tabulates the groups as a row of their own.
The ABLATIONS (named in --configs only) show what each part of the feature recipe adds.
"""

import argparse
import csv
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

SIZES = ["--n-a", "100", "--vocab", "10000", "--batch", "32"]
COMMON = [*SIZES, "--epochs", "40", "--lr", "3e-3"]
# Words plus word-shape, lowercase-word and 2- to 4-character affix groups, with
# dropout of rare words (unk-alpha) and of the other groups, so that the unknown
# word and unknown-affix columns learn from the training set.
FEATURES_BASE = [
    "--features",
    "word,shape,prefix,suffix,lower,suffix2,suffix4,prefix2,prefix4",
    "--lower-vocab",
    "5000",
    "--word-dropout",
    "0.1",
    "--unk-alpha",
    "1",
    "--feature-dropout",
    "0.1",
    "--patience",
    "6",
]
# Entity dropout, so that names are found by their context and shape, as the unseen
# names of the test set must be; and a moving average of the weights, which smooths
# the dev F1 that selects them.
ENTITY, AVERAGE = ["--entity-dropout", "0.3"], ["--average", "0.999"]
FEATURES = [*FEATURES_BASE, *ENTITY, *AVERAGE]
LECTURE = ["--task", "per", "--init-x", "1", "--word-dropout", "0.3", "--patience", "8"]
BI2_INIT = [
    "--task",
    "per",
    "--bidirectional",
    "--layers",
    "2",
    "--dropout",
    "0.2",
    "--init-x",
    "0.33",
]
CONFIGS = {
    # the lecture's model: one direction, one-hot words only
    "lecture": LECTURE,
    # one direction, with the feature groups
    "shape": ["--task", "per", *FEATURES],
    "bi-per": ["--task", "per", "--bidirectional", *FEATURES],
    "bi2-per": ["--task", "per", "--bidirectional", "--layers", "2", "--dropout", "0.2", *FEATURES],
    "bi2-per-init": [*BI2_INIT, *FEATURES],
    "bi-bio": ["--task", "bio", "--bidirectional", *FEATURES],
    "bi2-bio": ["--task", "bio", "--bidirectional", "--layers", "2", "--dropout", "0.2", *FEATURES],
    # all four types with a CRF output layer: transitions learned with the RNN, Viterbi decoding
    "bi2-bio-crf": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES],
    ],
    # and each word's spelling: the character RNN of rnnkit.nn.spelling, 25 units a direction
    "bi2-bio-crf-chars": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--char-hidden", "25"],
    ],
    # the CRF tagger with the shipped person model's dropout (0.35 on each layer's output,
    # 0.2 on the feature groups), which helped it on every held-out row
    "bi2-bio-crf-reg": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *[*FEATURES, "--dropout", "0.35", "--feature-dropout", "0.2"],
    ],
    # and twice the hidden units
    "bi2-bio-crf-wide": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *[*FEATURES, "--dropout", "0.35", "--feature-dropout", "0.2", "--n-a", "200"],
    ],
    # the CRF tagger with gated recurrent units (rnnkit.nn.gru) in place of the lecture's cell
    "bi2-bio-crf-gru": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru"],
    ],
    # a GRU for layer 2 only, over the lecture's cell: the first layer's W_ax, most of the
    # file, keeps one block, so that the model fits the 10 MB of a shipped one
    "bi2-bio-crf-rnngru": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "rnn,gru"],
    ],
    # and the default's dropout (0.35 on each layer's output, 0.2 on the feature groups)
    "bi2-bio-crf-gru-reg": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *[*FEATURES, "--dropout", "0.35", "--feature-dropout", "0.2", "--cell", "gru"],
    ],
    # the GRU tagger with the first layer's W_ax drawn wider (U(-0.33, 0.33)), which helped
    # the person tagger (bi2-per-init)
    "bi2-bio-crf-gru-init": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--init-x", "0.33"],
    ],
    # the GRU tagger with Adam's usual learning rate (1e-3): it peaked by epoch 7-13 at 3e-3
    "bi2-bio-crf-gru-slow": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--lr", "1e-3"],
    ],
    # the GRU tagger reading e<t> = E x<t> (--n-e): one learned embedding of 100 units in place
    # of every chain's one-hot W_ax, so that the model takes the room of the lecture's cell
    "bi2-bio-crf-gru-e100": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--n-e", "100"],
    ],
    # and an embedding of 200 units
    "bi2-bio-crf-gru-e200": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--n-e", "200"],
    ],
    # e100 with dropout 0.5 on e<t> (--embedding-dropout), as Lample et al. 2016 drop their
    # embeddings: the embedding models peaked by epoch 5-10 and then overfitted
    "bi2-bio-crf-gru-e100-drop": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--n-e", "100"],
        *["--embedding-dropout", "0.5"],
    ],
    # the GRU tagger and each word's spelling (the character RNN, 25 units a direction): the
    # test set's names are mostly unseen, and the letters are what they still show
    "bi2-bio-crf-gru-chars": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--char-hidden", "25"],
    ],
    # the GRU tagger without entity dropout: it was chosen for the person tagger, and it hides
    # the known names of places and organisations, which recur in the test set, too
    "bi2-bio-crf-gru-noent": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES_BASE, *AVERAGE, "--cell", "gru"],
    ],
    # the CRF tagger (the shipped conll's recipe) learning BIOES tags from the BIO files
    "bi2-bio-crf-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--model-scheme", "bioes"],
    ],
    # the GRU tagger learning BIOES tags from the BIO files (--model-scheme): E- and S- tell the
    # last word of a name from the others, which Ratinov & Roth 2009 find helps on CoNLL-2003
    "bi2-bio-crf-gru-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--model-scheme", "bioes"],
    ],
    # and without entity dropout (the best configuration by dev F1 before)
    "bi2-bio-crf-gru-noent-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES_BASE, *AVERAGE, "--cell", "gru", "--model-scheme", "bioes"],
    ],
    # entity dropout at half the rate: with 0.3 the GRU-BIOES tagger was ahead on test, without it
    # on dev, so the rate that hides known names is the setting between them to search on dev
    "bi2-bio-crf-gru-ent15-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES_BASE, "--entity-dropout", "0.15", *AVERAGE],
        *["--cell", "gru", "--model-scheme", "bioes"],
    ],
    # and at a third of it
    "bi2-bio-crf-gru-ent10-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES_BASE, "--entity-dropout", "0.1", *AVERAGE],
        *["--cell", "gru", "--model-scheme", "bioes"],
    ],
    # the GRU on a learned embedding (e100-drop, which fits a shipped model's 10 MB) learning BIOES
    "bi2-bio-crf-gru-e100-drop-bioes": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--cell", "gru", "--n-e", "100"],
        *["--embedding-dropout", "0.5", "--model-scheme", "bioes"],
    ],
    # the CRF tagger with twice the vocabularies: a word seen in training keeps its own column
    "bi2-bio-crf-vocab": [
        *["--task", "bio", "--output", "crf", "--bidirectional", "--layers", "2"],
        *["--dropout", "0.2", *FEATURES, "--vocab", "20000", "--lower-vocab", "10000"],
    ],
}
# What each part of the recipe adds (not run unless named in --configs).
ABLATIONS = {
    "lecture-ent": [*LECTURE, *ENTITY],
    "lecture-ent-avg": [*LECTURE, *ENTITY, *AVERAGE],
    "shape-base": ["--task", "per", *FEATURES_BASE],
    "shape-ent": ["--task", "per", *FEATURES_BASE, *ENTITY],
    "shape-avg": ["--task", "per", *FEATURES_BASE, *AVERAGE],
    "bi2-per-init-base": [*BI2_INIT, *FEATURES_BASE],
    "bi2-per-init-ent": [*BI2_INIT, *FEATURES_BASE, *ENTITY],
    "bi2-per-init-avg": [*BI2_INIT, *FEATURES_BASE, *AVERAGE],
}


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {shlex.join(cmd)}\n{done.stderr}")
    return done.stdout


def softmax_of_several_types(flags):
    """Whether a configuration trains a softmax tagger of several types (Viterbi-decoded)."""
    task = flags[flags.index("--task") + 1] if "--task" in flags else "per"
    return task in ("bio", "tags") and "crf" not in flags


def score_run(model, data, argmax=False):
    """dev and test scores of a trained run directory, and the seconds its epochs took;
    argmax: also test F1 with each step's most probable tag (the decoding before Viterbi)."""
    dev = json.loads(
        run(["rnnkit", "eval", "--model", str(model), "--data", str(data / "valid.txt"), "--json"])
    )
    test = json.loads(
        run(["rnnkit", "eval", "--model", str(model), "--data", str(data / "test.txt"), "--json"])
    )
    if argmax:  # the ablation of the decoding: each step's argmax, as before Viterbi
        command = ["rnnkit", "eval", "--model", str(model), "--data", str(data / "test.txt")]
        argmax = json.loads(run([*command, "--json", "--decode", "argmax"]))["f1"]
    with open(model / "history.csv") as f:
        seconds = sum(float(row["seconds"]) for row in csv.DictReader(f))
    return {
        "dev_f1": dev["f1"],
        "test_f1": test["f1"],
        "test_per_f1": test["per_type"].get("PER", {}).get("f1", 0.0),
        "test_f1_argmax": argmax or None,
        "train_seconds": seconds,
    }


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data",
        default="../shared/data/conll2003",
        help="folder with train.txt, valid.txt, test.txt",
    )
    p.add_argument("--out", default="runs/quality")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument(
        "--report",
        nargs="*",
        metavar="DIR",
        help="train nothing: score the runs already in these output folders",
    )
    p.add_argument(
        "--ensemble",
        type=int,
        default=None,
        metavar="K",
        help="also score each configuration's runs as ensembles of K, disjoint, by seed",
    )
    args = p.parse_args(argv)
    if args.ensemble is not None and args.ensemble < 2:
        p.error(f"--ensemble is 2 or more models, not {args.ensemble}")
    data, out = Path(args.data), Path(args.out)
    names = args.configs.split(",")
    known = {**CONFIGS, **ABLATIONS}
    unknown = set(names) - set(known)
    if unknown:
        p.error(
            f"unknown configurations {', '.join(sorted(unknown))}; choose from {', '.join(known)}"
        )
    if args.report is None:
        for name in names:
            for seed in args.seeds.split(","):
                cmd = [
                    "rnnkit",
                    "train",
                    "--train",
                    str(data / "train.txt"),
                    "--dev",
                    str(data / "valid.txt"),
                    "--out",
                    str(out / f"{name}-seed{seed}"),
                    "--seed",
                    seed,
                    "--quiet",
                    *COMMON,
                    *known[name],
                ]
                print("$", shlex.join(cmd), flush=True)
                run(cmd)
        folders = [out]
    else:
        folders = [Path(f) for f in args.report]
    results = []
    for folder in folders:
        for model in sorted(folder.glob("*-seed*")):
            name, seed = model.name.rsplit("-seed", 1)
            if name in names:
                scores = score_run(model, data, softmax_of_several_types(known[name]))
                results.append({"config": name, "seed": int(seed), "dir": str(model), **scores})
                dev, test = results[-1]["dev_f1"], results[-1]["test_f1"]
                print(f"  {model}: dev F1 {dev:.4f}  test F1 {test:.4f}", flush=True)
    if args.ensemble:
        results += score_ensembles(results, args.ensemble, data)
    if args.report is None:
        path = out / "results.json"
        kept = json.loads(path.read_text()) if path.exists() else []
        scored = {r["dir"] for r in results}
        kept = [r for r in kept if r["dir"] not in scored]
        path.write_text(json.dumps(kept + results, indent=2))
    print(
        "\n| configuration | seeds | dev F1 | test F1 | test PER F1 | test F1, argmax decoding "
        "| time in training epochs |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = [*names, *(f"{name} ×{args.ensemble}" for name in names if args.ensemble)]
    for name in rows:
        rs = [r for r in results if r["config"] == name]
        if not rs:
            continue
        dev, test, per = (
            mean_sd([r[key] for r in rs]) for key in ("dev_f1", "test_f1", "test_per_f1")
        )
        argmax = [r.get("test_f1_argmax") for r in rs]
        argmax = mean_sd(argmax) if None not in argmax else ""
        secs = statistics.mean(r["train_seconds"] for r in rs)
        print(f"| {name} | {len(rs)} | {dev} | {test} | {per} | {argmax} | {secs:.0f} s |")


def score_ensembles(results, k, data):
    """Each configuration's runs (scored singly in `results`) k at a time, in disjoint groups
    in the order of their seeds, decoded as one tagger: one result per group, whose config is
    "NAME ×k", whose seed is the group's first and whose time is its members' total."""
    groups = []
    for name in dict.fromkeys(r["config"] for r in results):
        runs = sorted((r for r in results if r["config"] == name), key=lambda r: r["seed"])
        groups += [runs[i : i + k] for i in range(0, len(runs) - k + 1, k)]
    scored = []
    for group in groups:
        models = [arg for r in group for arg in ("--model", r["dir"])]
        f1 = {}
        for split in ("valid", "test"):
            command = ["rnnkit", "eval", *models, "--data", str(data / f"{split}.txt"), "--json"]
            f1[split] = json.loads(run(command))
        scored.append(
            {
                "config": f"{group[0]['config']} ×{k}",
                "seed": group[0]["seed"],
                "dir": " + ".join(r["dir"] for r in group),
                "dev_f1": f1["valid"]["f1"],
                "test_f1": f1["test"]["f1"],
                "test_per_f1": f1["test"]["per_type"].get("PER", {}).get("f1", 0.0),
                "test_f1_argmax": None,
                "train_seconds": sum(r["train_seconds"] for r in group),
            }
        )
        seeds = ", ".join(str(r["seed"]) for r in group)
        print(f"  seeds {seeds}: dev F1 {f1['valid']['f1']:.4f}  test F1 {f1['test']['f1']:.4f}")
    return scored


def mean_sd(values):
    return f"{statistics.mean(values):.4f} ± {statistics.pstdev(values):.4f}"


if __name__ == "__main__":
    main()
