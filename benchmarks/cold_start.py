"""Cold start of `rnnkit tag`: fresh processes with and without Numba, side by side.

    python benchmarks/cold_start.py [--runs 5] [--text 'Some text.']

Each row is the median wall time and the median peak RSS of `runs` fresh processes tagging one
text with the shipped model, after one untimed process of the same kind (which compiles the
kernel if the machine has never done so). Rows: `rnnkit tag` as installed (Numba present, if it
is: the kernel is not loaded for one text, see rnnkit/nn/kernels.py), the same with
RNNKIT_NO_NUMBA=1, and a process that loads the kernel first (kernels.load(), what a server or a
benchmark does): the cost of Numba with its on-disk cache hitting. The kernel's cache directory
is counted before and after: it must not grow from one process to the next.
"""

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TEXT = 'He said, "Teddy Roosevelt was a great President."'
FORCED = (
    "import sys; from rnnkit.nn import kernels; kernels.load(); "
    "from rnnkit.cli import main; sys.exit(main(['tag', sys.argv[1]]))"
)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed processes per row (default 5)")
    ap.add_argument("--text", default=TEXT, help="the text to tag")
    return ap.parse_args(argv)


def run_once(cmd, env):
    """(wall seconds, peak RSS in MiB) of one process; it must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def row(cmd, env, runs):
    run_once(cmd, env)  # untimed: compiles, or fills the OS's file cache
    times, peaks = zip(*(run_once(cmd, env) for _ in range(runs)))
    return statistics.median(times), statistics.median(peaks)


def cache_files():
    """The files of Numba's on-disk cache in the kernel's folder (rnnkit/nn/__pycache__), or []."""
    spec = importlib.util.find_spec("rnnkit.nn.kernels")
    folder = Path(os.environ.get("NUMBA_CACHE_DIR") or Path(spec.origin).parent / "__pycache__")
    return [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")] if folder.is_dir() else []


def main(argv=None):
    args = parse_args(argv)
    rnnkit = shutil.which("rnnkit", path=str(Path(sys.executable).parent)) or shutil.which("rnnkit")
    tag = [rnnkit] if rnnkit else [sys.executable, "-m", "rnnkit.cli"]
    tag += ["tag", args.text]
    plain = {k: v for k, v in os.environ.items() if k != "RNNKIT_NO_NUMBA"}
    has_numba = all(importlib.util.find_spec(n) is not None for n in ("numba", "scipy"))
    before = len(cache_files())
    rows = [
        ("rnnkit tag" + (" (Numba installed)" if has_numba else ""), row(tag, plain, args.runs)),
        ("rnnkit tag, RNNKIT_NO_NUMBA=1", row(tag, {**plain, "RNNKIT_NO_NUMBA": "1"}, args.runs)),
    ]
    if has_numba:
        forced = [sys.executable, "-c", FORCED, args.text]
        rows.append(("kernel loaded first (kernels.load())", row(forced, plain, args.runs)))
    after = len(cache_files())
    print(f"cold start of `rnnkit tag`: median of {args.runs} fresh processes each")
    print("| process | wall time | peak RSS |")
    print("|---|---|---|")
    for name, (seconds, peak) in rows:
        print(f"| {name} | {seconds:.2f} s | {peak:.0f} MiB |")
    print(f"kernel cache files: {before} before, {after} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
