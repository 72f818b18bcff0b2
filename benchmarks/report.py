"""The report: the machine and libraries, the table of ratios, and the scaling plot."""

import os
import platform

import numpy as np
from systems import CLIP, LR

import rnnkit

# Where rnnkit's CPU path earns its place beside the usual PyTorch model (several times its
# throughput, well under its latency and memory, a step near a bare product), and the fast
# path's allowance in dev F1, whose ratio is a difference: (row key): (kind, bound); "min": ratio
# >= bound, "max": ratio <= bound, "abs": |ratio| <= bound.
TARGETS = {
    "train_uni": ("min", 3.0),
    "train_bi": ("min", 3.0),
    "infer": ("min", 3.0),
    "latency": ("max", 0.5),
    "memory": ("max", 0.35),
    "step": ("max", 1.5),
    "accuracy": ("abs", 0.02),
}

# The variables that steer OpenBLAS and the thread pools, listed in the report where set.
BLAS_ENVIRONMENT = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)

SMOKE = "--tiny: a smoke run on synthetic data at toy sizes; its figures are not a measurement"


def environment(threads, torch):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    env = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rnnkit": rnnkit.__version__,
        "torch": torch.__version__ if torch is not None else "not used",
        "threads": threads,
        "blas": blas_libraries(),
    }
    if torch is not None:
        env["torch_threads"] = torch.get_num_threads()
    env["env"] = {k: os.environ[k] for k in BLAS_ENVIRONMENT if k in os.environ}
    return env


def blas_libraries():
    try:
        import threadpoolctl
    except ImportError:
        return "? (threadpoolctl not installed)"
    return (
        "; ".join(
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')}, "
            f"{i.get('num_threads')} threads)"
            for i in threadpoolctl.threadpool_info()
            if i.get("user_api") == "blas"
        )
        or "?"
    )


def fmt(v, unit):
    if v is None or not np.isfinite(v):
        return "—"
    if unit == "tok/s":
        return f"{v:,.0f} tok/s"
    if unit == "µs":
        return f"{v * 1e6:,.1f} µs"
    if unit == "MB":
        return f"{v / 2**20:,.0f} MB"
    if unit == "F1":
        return f"{v:.4f}"
    return f"{v:.3g}"


def best_torch(d):
    vals = {k: v for k, v in d.items() if k.startswith("PyTorch")}
    return max(vals.items(), key=lambda kv: kv[1]) if vals else (None, float("nan"))


def build_rows(r):
    """[(key, measure, rnnkit, other, other label, ratio, unit)]."""
    cfg = r["cfg"]

    def row(key, measure, ours, other, label, unit):
        return (key, measure, ours, other, label, ours / other, unit)

    rows = []
    for key, d in (("train_uni", "uni"), ("train_bi", "bi")):
        way = "one-" if d == "uni" else "bi"
        measure = f"training, {way}directional (batch {cfg.batch})"
        name, t = best_torch(r["train"][d])
        rows.append(row(key, measure, r["train"][d]["rnnkit"], t, name, "tok/s"))
    infer = r["infer"]["rnnkit"]
    name, t = best_torch(r["infer"])
    rows += [
        row("infer", f"inference, batch {cfg.infer_batch}", infer, t, name, "tok/s"),
        row(
            "latency",
            f"latency, one {cfg.latency_tokens}-token sentence",
            r["latency"]["rnnkit"],
            r["latency"].get("PyTorch", float("nan")),
            "PyTorch",
            "µs",
        ),
        row(
            "memory",
            "peak memory of a training run",
            r["memory"]["rnnkit"],
            r["memory"].get("torch", float("nan")),
            "PyTorch",
            "MB",
        ),
        row(
            "step",
            f"recurrence step vs bare matmul ({cfg.batch}x{cfg.n_a})",
            r["step"]["recurrence"],
            r["step"]["matmul"],
            "np.matmul",
            "µs",
        ),
        row(
            "reference",
            "textbook one-hot forward (floor) vs rnnkit inference",
            r["reference"],
            infer,
            "rnnkit",
            "tok/s",
        ),
    ]
    fast, plain = r["accuracy"]["fast"], r["accuracy"]["plain"]
    measure = (
        f"dev F1 after {cfg.accuracy_epochs} epoch(s): fast path (sparse W_ax gradient, "
        f"lazy Adam, bucketed batches; {fast['tokens_per_s']:,.0f} tok/s) vs plain"
    )
    label = f"plain: dense gradients and Adam, random batches; {plain['tokens_per_s']:,.0f} tok/s"
    rows.append(
        ("accuracy", measure, fast["f1"], plain["f1"], label, fast["f1"] - plain["f1"], "F1")
    )
    return rows


def target_cells(key, ratio, smoke):
    """(target, met) of a row; a smoke run meets or misses nothing."""
    if key not in TARGETS:
        return "", ""
    kind, bound = TARGETS[key]
    target = {"min": f"≥ {bound}x", "max": f"≤ {bound}x", "abs": f"Δ within ±{bound}"}[kind]
    if smoke or not np.isfinite(ratio):
        return target, "—"
    ok = {"min": ratio >= bound, "max": ratio <= bound, "abs": abs(ratio) <= bound}[kind]
    return target, "yes" if ok else "no"


def table(r):
    lines = [
        "| measure | rnnkit | compared with | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for key, measure, ours, other, label, ratio, unit in build_rows(r):
        target, met = target_cells(key, ratio, r["cfg"].mode == "tiny")
        other_s = f"{fmt(other, unit)} ({label})" if label and np.isfinite(other) else "—"
        if not np.isfinite(ratio):
            ratio_s = "—"
        else:
            ratio_s = f"Δ {ratio:+.4f}" if unit == "F1" else f"{ratio:.2f}x"
        lines.append(
            f"| {measure} | {fmt(ours, unit)} | {other_s} | {ratio_s} | {target} | {met} |"
        )
    return lines


def render(r):
    env, cfg = r["env"], r["cfg"]
    lines = [SMOKE, ""] if cfg.mode == "tiny" else []
    lines += [
        f"rnnkit benchmark ({cfg.mode}) — {env['cpu']}, {env['cores']} cores; "
        f"python {env['python']}, numpy {env['numpy']}, torch {env['torch']}; BLAS {env['blas']}",
        f"threads: {env['threads']} for BLAS (threadpoolctl) and torch.set_num_threads"
        + (f"; environment {env['env']}" if env["env"] else ""),
        f"data: {r['data']}; n_x = {cfg.n_x}, n_a = {cfg.n_a}, Adam lr {LR}, clip {CLIP}; "
        f"medians of {cfg.repeats} epochs"
        + (f" (each {cfg.epoch_fraction:.0%} of one)" if cfg.epoch_fraction < 1 else "")
        + f"; wall time {r['wall']:.0f} s",
        "",
        *table(r),
    ]
    variants = {
        d: ", ".join(f"{k} {v:,.0f}" for k, v in r["train"][d].items() if k != "rnnkit")
        for d in ("uni", "bi")
    }
    if variants["uni"]:
        lines += [
            "",
            f"PyTorch training variants (tok/s): uni {variants['uni']}; bi {variants['bi']}",
        ]
    by_epoch = "; ".join(
        f"{path} path " + ", ".join(f"{f:.4f}" for f in v["f1_by_epoch"])
        for path, v in r["accuracy"].items()
    )
    return "\n".join(lines + ["", f"dev F1 by epoch: {by_epoch}"])


def plot_scaling(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, sweep, xlabel in (
        (axes[0], "n_a", "n_a (hidden units), batch 32"),
        (axes[1], "batch", "batch size, n_a = 100"),
    ):
        for system in sorted({r["system"] for r in rows}):
            pts = sorted(
                (r[sweep], r["tokens_per_s"])
                for r in rows
                if r["sweep"] == sweep and r["system"] == system
            )
            if pts:
                ax.plot(*zip(*pts), marker="o", label=system)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("training tokens/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Training throughput (Adam, one-directional, CoNLL-2003 per)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
