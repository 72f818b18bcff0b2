"""Train each named configuration with several seeds and report dev and test entity F1.

    python experiments/quality.py --data ../shared/data/conll2003 --out runs/quality [--configs lecture,shape] [--seeds 0,1,2]

Each run is the `rnnkit train` command printed beside it (selection on valid,
early stopping on dev F1); test is scored once, on the selected model, with
`rnnkit eval`. Prints a Markdown table of mean ± standard deviation over seeds and
writes every run's scores to OUT/results.json.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMON = ["--n-a", "100", "--vocab", "10000", "--batch", "32", "--epochs", "40", "--lr", "3e-3"]
# Words plus word-shape, lowercase-word and 2- to 4-character affix groups, with
# dropout of rare words (unk-alpha) and of the other groups, so that the unknown
# word and unknown-affix columns learn from the training set.
FEATURES = ["--features", "word,shape,prefix,suffix,lower,suffix2,suffix4,prefix2,prefix4", "--lower-vocab", "5000",
            "--word-dropout", "0.1", "--unk-alpha", "1", "--feature-dropout", "0.1", "--patience", "6"]
CONFIGS = {
    # the lecture's model: one direction, one-hot words only
    "lecture": ["--task", "per", "--init-x", "1", "--word-dropout", "0.1", "--patience", "8"],
    # one direction, with the feature groups
    "shape": ["--task", "per", *FEATURES],
    "bi-per": ["--task", "per", "--bidirectional", *FEATURES],
    "bi2-per": ["--task", "per", "--bidirectional", "--layers", "2", "--dropout", "0.2", *FEATURES],
    "bi2-per-init": ["--task", "per", "--bidirectional", "--layers", "2", "--dropout", "0.2", "--init-x", "0.33",
                     *FEATURES],
    "bi-bio": ["--task", "bio", "--bidirectional", *FEATURES],
    "bi2-bio": ["--task", "bio", "--bidirectional", "--layers", "2", "--dropout", "0.2", *FEATURES],
}


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {shlex.join(cmd)}\n{done.stderr}")
    return done.stdout


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/conll2003", help="folder with train.txt, valid.txt, test.txt")
    p.add_argument("--out", default="runs/quality")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--seeds", default="0,1,2")
    args = p.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    results = []
    for name in args.configs.split(","):
        for seed in args.seeds.split(","):
            model = out / f"{name}-seed{seed}"
            cmd = ["rnnkit", "train", "--train", str(data / "train.txt"), "--dev", str(data / "valid.txt"),
                   "--out", str(model), "--seed", seed, "--quiet", *COMMON, *CONFIGS[name]]
            print("$", shlex.join(cmd), flush=True)
            started = time.perf_counter()
            run(cmd)
            seconds = time.perf_counter() - started
            dev = json.loads(run(["rnnkit", "eval", "--model", str(model), "--data", str(data / "valid.txt"), "--json"]))
            test = json.loads(run(["rnnkit", "eval", "--model", str(model), "--data", str(data / "test.txt"), "--json"]))
            results.append({"config": name, "seed": int(seed), "dev_f1": dev["f1"], "test_f1": test["f1"],
                            "test_per_f1": test["per_type"].get("PER", {}).get("f1", 0.0), "train_seconds": seconds})
            print(f"  dev F1 {dev['f1']:.4f}  test F1 {test['f1']:.4f}  ({seconds:.0f} s)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print("\n| configuration | dev F1 | test F1 | test PER F1 | training time |")
    print("|---|---|---|---|---|")
    for name in args.configs.split(","):
        rs = [r for r in results if r["config"] == name]
        cell = lambda key: f"{statistics.mean(r[key] for r in rs):.4f} ± {statistics.pstdev(r[key] for r in rs):.4f}"
        secs = statistics.mean(r["train_seconds"] for r in rs)
        print(f"| {name} | {cell('dev_f1')} | {cell('test_f1')} | {cell('test_per_f1')} | {secs:.0f} s |")


if __name__ == "__main__":
    main()
