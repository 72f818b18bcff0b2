"""Peak memory of a training run: one fresh process per system (and one that only reads the data),
each started as `compare_torch.py --child SYSTEM`, so that no system inherits another's."""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from systems import RnnkitSystem, torch_system
from timings import epoch_time
from workload import bucketed, load_data

HARNESS = Path(__file__).with_name("compare_torch.py")


def memory_child(system, cfg, data_dir, threads):
    """Read the data, train (one epoch or cfg.memory_batches batches), print peak RSS in bytes."""
    torch = None
    if system == "torch":
        import torch

        torch.set_num_threads(threads)
    train, _, _ = load_data(cfg, data_dir)
    batches = bucketed(train, cfg.batch, np.random.default_rng(0))
    if cfg.memory_batches:
        batches = batches[: cfg.memory_batches]
    if torch is not None:
        s = torch_system(cfg, cfg.n_a, False, "padded")
    else:
        s = RnnkitSystem(cfg, cfg.n_a) if system == "rnnkit" else None
    if s is not None:
        epoch_time(s, s.inputs(batches))
    print(json.dumps({"maxrss": peak_rss()}))


def peak_rss():
    """Peak resident memory of this process in bytes: VmHWM, which (unlike ru_maxrss on Linux)
    does not carry over the high-water mark of the parent that forked it."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmHWM:"))
    except (OSError, StopIteration):
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def bench_memory(cfg, data_dir, threads, with_torch, log):
    """{"data" | "rnnkit" | "torch": peak bytes}."""
    out = {}
    limits = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = dict(os.environ, **{v: str(threads) for v in limits})
    for system in ["data", "rnnkit"] + (["torch"] if with_torch else []):
        cmd = [sys.executable, str(HARNESS), "--child", system, "--threads", str(threads)]
        cmd += [f"--{cfg.mode}"] + (["--data", data_dir] if data_dir else [])
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"memory run for {system} failed:\n{res.stderr}")
        out[system] = json.loads(res.stdout.strip().splitlines()[-1])["maxrss"]
    log("  peak memory: " + ", ".join(f"{k} {v / 2**20:,.0f} MB" for k, v in out.items()))
    return out
