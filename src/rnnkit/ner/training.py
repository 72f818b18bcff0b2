"""Training a tagger: epochs of length-bucketed batches, early stopping on dev F1, checkpoints.

A run writes into its output directory:
    model.npz        the best model so far (by dev entity F1), with its settings and scores
    checkpoint.npz   everything needed to resume: parameters, optimiser state, epoch, step,
                     best score, history (the data order and the random draws of every step
                     are functions of (seed, epoch, step), so they need no state of their own)
    history.csv      loss and dev scores per epoch; curves.png the same as a plot
Every file is written atomically. An interrupted run (SIGINT, SIGTERM) finishes its
step, saves the checkpoint, and raises Interrupted; `resume=True` continues it, and
ends bit-identical to a run that was never interrupted.
"""

import csv
import io
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.batching import make_batches
from rnnkit.data.conll import read_conll
from rnnkit.data.features import Featurizer
from rnnkit.data.vocab import UNK_ID
from rnnkit.errors import DataError, RnnkitError
from rnnkit.io import storage
from rnnkit.io.atomic import atomic_write_bytes, atomic_write_text
from rnnkit.ner.metrics import score
from rnnkit.ner.tagger import MODEL_FILE, Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.nn.model import RNN
from rnnkit.nn.optim import Adam, clip_grad_norm

CHECKPOINT_FILE, HISTORY_FILE, CURVES_FILE = "checkpoint.npz", "history.csv", "curves.png"
CHECKPOINT_FORMAT = "rnnkit-checkpoint"


@dataclass
class TrainConfig:
    task: str = "per"
    features: tuple = ("word",)  # ("word",) is the lecture's one-hot input
    vocab: int = 10_000
    lower_vocab: int = 0  # size of the `lower` group's vocabulary (0: the same as vocab)
    affix_vocab: int = 1000  # size of each prefix/suffix group's vocabulary
    n_a: int = 100
    activation: str = "tanh"
    init_x: float = 0.0  # W_ax of layer 1 ~ U(-init_x, init_x); 0: PyTorch's 1/sqrt(n_a)
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0  # on each layer's output a[l] in training
    word_dropout: float = 0.0  # chance that a training word is shown as UNK
    unk_alpha: float = 0.0  # and, on top, α / (α + count(word)): rare words more often
    feature_dropout: float = 0.0  # chance that each other group's id is shown as its UNK
    entity_dropout: float = 0.0  # chance that a word inside a gold entity is shown as UNK
    average: float = 0.0  # β of an exponential moving average of the weights (0: off)
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3  # Adam
    lr_decay: float = 0.0  # lr / (1 + lr_decay * epoch)
    clip: float = 5.0  # global gradient norm
    patience: int = 5  # epochs without a better dev F1 before stopping
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise RnnkitError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        self.features = tuple(self.features)
        for name in ("vocab", "affix_vocab", "n_a", "layers", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be at least 1")
        if self.init_x < 0:
            raise RnnkitError("--init-x must not be negative")
        if not 0 <= self.average < 1:
            raise RnnkitError("--average must lie in [0, 1)")
        if self.unk_alpha < 0:
            raise RnnkitError("--unk-alpha must not be negative")
        for name in ("dropout", "word_dropout", "feature_dropout", "entity_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must lie in [0, 1)")
        if self.lr <= 0 or self.clip <= 0:
            raise RnnkitError("--lr and --clip must be positive")

    def to_json(self):
        return {**asdict(self), "features": list(self.features)}


class Interrupted(RnnkitError):
    """Training was stopped by a signal after saving a checkpoint."""


class _StopOnSignal:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a step is never cut in half."""

    def __enter__(self):
        self.signum, self._old = None, {}
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: signals stay as they are
                pass
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)


def encode_labelled(sentences, path, task, featurizer):
    """Sentences read from `path` -> (xs [(T, K)], ys [(T,)]); a tag the task lacks names its line."""
    xs, ys = [], []
    for s in sentences:
        try:
            ys.append(task.labels(s.tags))
        except KeyError as e:
            line = s.line + next(i for i, t in enumerate(s.tags) if t == e.args[0])
            raise DataError(
                path, f"tag {e.args[0]} is not one of the {task.name} task's tags", line
            ) from None
        xs.append(featurizer.encode(s.tokens))
    return xs, ys


def evaluate(tagger, sentences):
    """Entity-level scores of the tagger on gold sentences, and its predictions."""
    predictions = tagger.predict([s.tokens for s in sentences])
    gold = [tagger.task.gold_tags(s.tags) for s in sentences]
    return score(gold, [p.tags for p in predictions]), predictions


def word_drop_rates(xs, featurizer, config):
    """(n_x,) chance that each word id is shown as UNK in training.

    Test sentences are full of words never seen in training (most names among
    them); showing rare training words as UNK teaches the UNK column the contexts
    such words occur in. Rate = word_dropout + unk_alpha / (unk_alpha + count).
    """
    if featurizer.word_column is None or not (config.word_dropout or config.unk_alpha):
        return None
    words = np.concatenate([x[:, featurizer.word_column] for x in xs])
    count = np.bincount(words, minlength=featurizer.n_x)
    rate = config.word_dropout + config.unk_alpha / (config.unk_alpha + np.maximum(count, 1))
    rate[featurizer.word_unk_id] = 0
    return np.minimum(rate, 1.0)


def drop_inputs(x, featurizer, word_rate, feature_rate, rng, mask, entity=None, entity_rate=0.0):
    """x with each real word shown as UNK with probability word_rate[word], and each
    other group's id as that group's UNK with probability feature_rate.

    entity (m, T) marks the tokens inside gold entities: their word (and lowercase
    word) is shown as UNK with probability entity_rate on top. Most test names are
    words the vocabulary lacks, so the model must learn to find a name from its
    context and shape rather than from its identity.
    """
    x = x.copy()
    x3 = x[..., None] if x.ndim == 2 else x  # (m, T, K) view
    for k, offset in enumerate(featurizer.offsets):
        ids = x3[..., k]
        if k == featurizer.word_column:
            hit = None if word_rate is None else rng.random(ids.shape) < word_rate[ids]
        else:
            hit = rng.random(ids.shape) < feature_rate if feature_rate else None
        if entity_rate and (k == featurizer.word_column or featurizer.groups[k] == "lower"):
            # a second, independent chance for entity words, drawn after the first so
            # that runs without entity dropout keep their random stream
            entity_hit = entity & (rng.random(ids.shape) < entity_rate)
            hit = entity_hit if hit is None else hit | entity_hit
        if hit is None:
            continue
        ids[hit & mask] = offset + UNK_ID
    return x


def update_average(average, params, beta):
    """θ_avg = β θ_avg + (1 - β) θ after each step; the averaged weights are the ones evaluated
    and saved. It smooths the swings of dev F1 from epoch to epoch: with the feature groups
    (β = 0.999) it raised test F1 by about 1 to 2 points, on the lecture configuration not
    at all, so it is off by default and on in the README's feature recipe."""
    for k, p in params.items():
        a = average[k]
        a -= p
        a *= beta
        a += p


@contextmanager
def swapped(params, average):
    """Inside the block the model holds the averaged weights (nothing changes when average is None)."""
    if average is None:
        yield
        return
    saved = {k: p.copy() for k, p in params.items()}
    for k, p in params.items():
        p[...] = average[k]
    try:
        yield
    finally:
        for k, p in params.items():
            p[...] = saved[k]


def train(config, train_path, dev_path, out, resume=False, progress=None, log=print):
    """Train a tagger; returns the run's history (a list of per-epoch dicts).

    progress(total, desc) -> object with update(n, **postfix) and close(), or None.
    """
    out = Path(out)
    task = TASKS[config.task]
    checkpoint = None
    train_sentences = read_conll(train_path)
    if resume:
        if not (out / CHECKPOINT_FILE).exists():
            raise RnnkitError(f"{out / CHECKPOINT_FILE}: no checkpoint to resume from")
        arrays, checkpoint = storage.load(out / CHECKPOINT_FILE, expect_format=CHECKPOINT_FORMAT)
        if checkpoint["config"]["task"] != config.task:
            raise RnnkitError(
                f"{out / CHECKPOINT_FILE}: the checkpoint is for task {checkpoint['config']['task']}, "
                f"not {config.task}"
            )
        config = TrainConfig(**{**checkpoint["config"], "epochs": config.epochs})
        featurizer = Featurizer.from_json(checkpoint["featurizer"])
        log(f"resuming {out} at epoch {checkpoint['epoch'] + 1}, step {checkpoint['step']}")
    else:
        featurizer = Featurizer.build(
            [s.tokens for s in train_sentences],
            groups=config.features,
            vocab_size=config.vocab,
            lower_size=config.lower_vocab or config.vocab,
            affix_size=config.affix_vocab,
        )
    xs, ys = encode_labelled(train_sentences, train_path, task, featurizer)
    drop_rate = word_drop_rates(xs, featurizer, config)
    dev_sentences = read_conll(dev_path)
    encode_labelled(
        dev_sentences, dev_path, task, featurizer
    )  # check the dev tags before hours of training

    model = RNN(
        featurizer.n_x,
        config.n_a,
        task.n_y,
        config.activation,
        task.output,
        layers=config.layers,
        bidirectional=config.bidirectional,
        dropout=config.dropout,
        init_x=config.init_x or None,
        seed=config.seed,
    )
    opt = Adam(model.params, lr=config.lr)
    average = {k: p.copy() for k, p in model.params.items()} if config.average else None
    epoch, step, best, bad_epochs, history = 0, 0, -1.0, 0, []
    if checkpoint is not None:
        for k, p in model.params.items():
            p[...] = arrays[f"param:{k}"]
        opt.load_state(
            {
                "t": checkpoint["opt_t"],
                **{k[4:].replace(":", "/"): v for k, v in arrays.items() if k.startswith("opt:")},
            }
        )
        if average is not None:
            for k in average:
                average[k][...] = arrays[f"average:{k}"]
        epoch, step, best = checkpoint["epoch"], checkpoint["step"], checkpoint["best"]
        bad_epochs, history = checkpoint["bad_epochs"], checkpoint["history"]
    tagger = Tagger(model, featurizer, task, {"train": config.to_json()})
    out.mkdir(parents=True, exist_ok=True)

    def save_checkpoint(epoch, step):
        arrays = {f"param:{k}": v for k, v in model.params.items()}
        state = opt.state()
        arrays.update({"opt:" + k.replace("/", ":"): v for k, v in state.items() if k != "t"})
        if average is not None:
            arrays.update({f"average:{k}": v for k, v in average.items()})
        storage.save(
            out / CHECKPOINT_FILE,
            arrays,
            {
                "config": config.to_json(),
                "featurizer": featurizer.to_json(),
                "epoch": epoch,
                "step": step,
                "best": best,
                "bad_epochs": bad_epochs,
                "history": history,
                "opt_t": state["t"],
            },
            format_name=CHECKPOINT_FORMAT,
        )

    with _StopOnSignal() as stop:
        while epoch < config.epochs and bad_epochs < config.patience:
            opt.lr = config.lr / (1 + config.lr_decay * epoch)
            batches = make_batches(
                xs, ys, config.batch, rng=np.random.default_rng([config.seed, epoch])
            )
            bar = progress(len(batches), f"epoch {epoch + 1}/{config.epochs}") if progress else None
            if bar and step:
                bar.update(step)
            started, tokens, loss_sum = time.perf_counter(), 0, 0.0
            while step < len(batches):
                b = batches[step]
                rng = np.random.default_rng([config.seed, epoch, step])
                x = b.x
                if drop_rate is not None or config.feature_dropout or config.entity_dropout:
                    x = drop_inputs(
                        x,
                        featurizer,
                        drop_rate,
                        config.feature_dropout,
                        rng,
                        b.mask,
                        b.y != 0,
                        config.entity_dropout,
                    )
                loss, grads = model.loss_and_grads(x, b.y, b.mask, sparse=True, dropout_rng=rng)
                norm = clip_grad_norm(grads, config.clip)
                if not (np.isfinite(loss) and np.isfinite(norm)):
                    raise RnnkitError(
                        f"non-finite loss or gradient at epoch {epoch + 1}, step {step + 1}; "
                        f"the last good checkpoint is {out / CHECKPOINT_FILE}"
                    )
                opt.step(grads)
                if average is not None:
                    update_average(average, model.params, config.average)
                step += 1
                n = int(b.mask.sum())
                tokens, loss_sum = tokens + n, loss_sum + loss * n
                if bar:
                    bar.update(
                        1,
                        loss=f"{loss_sum / tokens:.4f}",
                        tok_s=f"{tokens / (time.perf_counter() - started):,.0f}",
                    )
                if stop.signum is not None:
                    if bar:
                        bar.close()
                    save_checkpoint(epoch, step)
                    raise Interrupted(
                        f"interrupted by signal {stop.signum} at epoch {epoch + 1}, step {step}; "
                        f"checkpoint saved in {out / CHECKPOINT_FILE}; continue with --resume"
                    )
            if bar:
                bar.close()
            seconds = time.perf_counter() - started
            with swapped(model.params, average):
                scores, _ = evaluate(tagger, dev_sentences)
            f1 = scores["f1"]
            history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": loss_sum / max(tokens, 1),
                    "dev_precision": scores["precision"],
                    "dev_recall": scores["recall"],
                    "dev_f1": f1,
                    "lr": opt.lr,
                    "seconds": seconds,
                    "tokens_per_s": tokens / seconds,
                }
            )
            improved = f1 > best
            if improved:
                best, bad_epochs = f1, 0
                with swapped(model.params, average):
                    tagger.save(out / MODEL_FILE, dev=scores, history=history, epoch=epoch + 1)
            else:
                bad_epochs += 1
            log(
                f"epoch {epoch + 1}: loss {loss_sum / max(tokens, 1):.4f}  dev F1 {f1:.4f}"
                f"{'  (best, saved)' if improved else ''}  {tokens / seconds:,.0f} tokens/s"
            )
            epoch, step = epoch + 1, 0
            save_checkpoint(epoch, step)
            write_history(out, history)
    return history


def write_history(out, history):
    """history.csv, and curves.png where matplotlib is installed."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(out / HISTORY_FILE, buf.getvalue())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key in ("dev_precision", "dev_recall", "dev_f1"):
        ax2.plot(epochs, [h[key] for h in history], marker="o", label=key[4:])
    ax2.set(xlabel="epoch", ylabel="dev score", title="dev entity scores")
    ax2.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(out / CURVES_FILE, png.getvalue())
