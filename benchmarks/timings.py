"""The timed measures: training, inference, latency, the recurrence step, the textbook floor and
the scaling sweeps. Systems are timed alternately in one process; every figure is a median."""

import time

import numpy as np
from systems import RnnkitSystem, torch_system
from workload import bucketed, tokens

import rnnkit
from rnnkit.nn.recurrence import rnn_forward
from rnnkit.nn.reference import reference_forward


def median(xs):
    return float(np.median(xs)) if len(xs) else float("nan")


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def epoch_time(system, feed):
    t = time.perf_counter()
    for inp in feed:
        system.train_step(inp)
    return time.perf_counter() - t


def interleaved(systems, run, repeats):
    """{name: [seconds]}: each repeat runs every system once, the order alternating between
    repeats."""
    times = {s.name: [] for s in systems}
    for r in range(repeats):
        for s in systems if r % 2 == 0 else systems[::-1]:
            times[s.name].append(run(s))
    return times


def train_epochs(systems, feeds, repeats):
    """{name: [seconds]} of training epochs, each system on its own feed, interleaved."""
    return interleaved(systems, lambda s: epoch_time(s, feeds[s.name]), repeats)


def systems_for(cfg, torch, n_a, bidirectional=False, torch_inputs=None):
    """rnnkit, then PyTorch in each of torch_inputs (default cfg.torch_inputs) where installed."""
    systems = [RnnkitSystem(cfg, n_a, bidirectional)]
    if torch is not None:
        systems += [
            torch_system(cfg, n_a, bidirectional, form) for form in torch_inputs or cfg.torch_inputs
        ]
    return systems


def bench_training(cfg, train, torch, rng, log):
    """{direction: {system name: tokens/s}}."""
    batches = bucketed(train, cfg.batch, rng)
    n = max(1, round(len(batches) * cfg.epoch_fraction))
    epoch, n_tokens = batches[:n], tokens(batches[:n])
    out = {}
    for direction, bi in (("uni", False), ("bi", True)):
        systems = systems_for(cfg, torch, cfg.n_a, bi)
        feeds = {s.name: s.inputs(epoch) for s in systems}
        for s in systems:  # warm-up: first calls, allocator, caches
            epoch_time(s, s.inputs(batches[-3:]))
        times = train_epochs(systems, feeds, cfg.repeats)
        out[direction] = {k: n_tokens / median(v) for k, v in times.items()}
        log(
            f"  training {direction}: "
            + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in out[direction].items())
            + f"  ({n} batches, {n_tokens:,} tokens)"
        )
    return out


def bench_inference(cfg, test, torch, log):
    batches = bucketed(test, cfg.infer_batch)
    n_tokens = tokens(batches)
    systems = systems_for(cfg, torch, cfg.n_a)
    feeds = {s.name: s.inputs(batches) for s in systems}

    def run(s):
        return timed(lambda: [s.predict(inp) for inp in feeds[s.name]])

    for s in systems:
        run(s)
    times = interleaved(systems, run, cfg.infer_repeats)
    out = {k: n_tokens / median(v) for k, v in times.items()}
    log("  inference: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in out.items()))
    return out


def bench_latency(cfg, test, torch, log):
    """Median seconds of one call on one sentence of cfg.latency_tokens tokens."""
    ids = next((ids for ids, _ in test if len(ids) == cfg.latency_tokens), None)
    if ids is None:
        ids = np.resize(test[0][0], cfg.latency_tokens)
    systems = systems_for(cfg, torch, cfg.n_a, torch_inputs=("padded",))
    args = {systems[0].name: ids[None, :]}
    if torch is not None:
        systems[1].name = "PyTorch"
        args["PyTorch"] = torch.from_numpy(ids[None, :])
    per_call = {s.name: [] for s in systems}
    block = 50
    for s in systems:
        for _ in range(block):
            s.predict_one(args[s.name])
    clock = time.perf_counter_ns
    for r in range(max(1, cfg.latency_calls // block)):
        for s in systems if r % 2 == 0 else systems[::-1]:
            f, x, acc = s.predict_one, args[s.name], per_call[s.name]
            for _ in range(block):
                t = clock()
                f(x)
                acc.append(clock() - t)
    out = {k: median(v) * 1e-9 for k, v in per_call.items()}
    log("  latency: " + ", ".join(f"{k} {v * 1e6:,.1f} µs" for k, v in out.items()))
    return out


def bench_step(cfg, log):
    """Seconds per step of rnnkit's recurrence against one bare product of the same shape."""
    rng = np.random.default_rng(0)
    m, n_a, T = cfg.batch, cfg.n_a, cfg.step_T
    W_aa = rnnkit.RNN(2, n_a, 1).params["W_aa"]  # the model's own layout (a view into W_a)
    z = rng.uniform(-1, 1, (T, m, n_a)).astype(np.float32)
    W_aa_T = W_aa.T
    buf = np.empty_like(z)

    def recurrence():
        rnn_forward(z, W_aa, "tanh")  # in place: re-running on its own output is fine

    def products():
        for t in range(1, T):
            np.matmul(buf[t - 1], W_aa_T, out=buf[t])

    buf[0] = z[0]
    reps = max(3, 2000 // T) if cfg.mode != "tiny" else 3
    res = {"recurrence": [], "matmul": []}
    for _ in range(7 if cfg.mode != "tiny" else 1):
        res["recurrence"].append(timed(lambda: [recurrence() for _ in range(reps)]) / (reps * T))
        res["matmul"].append(timed(lambda: [products() for _ in range(reps)]) / (reps * (T - 1)))
    out = {k: median(v) for k, v in res.items()}
    log(
        f"  recurrence step: {out['recurrence'] * 1e6:.2f} µs, bare matmul "
        f"({m}x{n_a} @ {n_a}x{n_a}) {out['matmul'] * 1e6:.2f} µs"
    )
    return out


def bench_reference(cfg, test, rnnkit_infer, log):
    """Tokens/s of the textbook dense one-hot forward pass, one sentence at a time."""
    model = rnnkit.RNN(cfg.n_x, cfg.n_a, 1)
    sents = test[: cfg.reference_sentences]
    n_tokens = sum(len(ids) for ids, _ in sents)
    times = []
    for _ in range(3 if cfg.mode != "tiny" else 1):
        times.append(timed(lambda: [reference_forward(model, ids[None, :]) for ids, _ in sents]))
    out = n_tokens / median(times)
    log(
        f"  textbook one-hot forward: {out:,.0f} tok/s "
        f"(rnnkit batched inference {rnnkit_infer:,.0f})"
    )
    return out


def bench_scaling(cfg, train, torch, log):
    """Rows (sweep, n_a, batch, system, tokens/s) of training throughput."""
    rows = []
    points = [("n_a", n_a, cfg.batch) for n_a in cfg.scale_n_a] + [
        ("batch", cfg.n_a, b) for b in cfg.scale_batch
    ]
    rng = np.random.default_rng(1)
    for sweep, n_a, size in points:
        batches = bucketed(train, size, rng)
        chosen, n_tokens = [], 0
        for b in batches:  # about scale_tokens real tokens, at least 3 batches
            if n_tokens >= cfg.scale_tokens and len(chosen) >= 3:
                break
            chosen.append(b)
            n_tokens += tokens([b])
        systems = systems_for(cfg, torch, n_a, torch_inputs=("padded",))
        if torch is not None:
            systems[1].name = "PyTorch"
        feeds = {s.name: s.inputs(chosen) for s in systems}
        for s in systems:
            epoch_time(s, s.inputs(batches[-1:]))
        times = train_epochs(systems, feeds, cfg.scale_repeats)
        for k, v in times.items():
            rows.append(
                dict(
                    sweep=sweep,
                    n_a=n_a,
                    batch=size,
                    system=k,
                    tokens_per_s=round(n_tokens / median(v), 1),
                )
            )
        log(
            f"  scaling n_a={n_a} batch={size}: "
            + ", ".join(f"{k} {n_tokens / median(v):,.0f}" for k, v in times.items())
        )
    return rows
