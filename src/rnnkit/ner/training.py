"""Training a tagger: epochs of length-bucketed batches, early stopping on dev F1, checkpoints.

A run writes into its output directory:
    model.npz        the best model so far (by dev entity F1), with its settings and scores
    checkpoint.npz   everything needed to resume (see rnnkit.ner.checkpoint)
    history.csv      loss and dev scores per epoch; curves.png the same as a plot
Every file is written atomically. An interrupted run (SIGINT, SIGTERM) finishes its
step, saves the checkpoint, and raises Interrupted; `resume=True` continues it, and
ends bit-identical to a run that was never interrupted. A run that completes removes
its checkpoint (unless `keep_checkpoint`). The directory is held by one run at a time,
and one that holds files is only written into with `resume` or `overwrite`
(rnnkit.ner.run_directory). Training runs under rnnkit.threads.limited().

`train` reads top to bottom: prepare the data, start (or restore) the run, then
epochs of `train_epoch` and `end_epoch` (dev scores, the best model, the checkpoint).
"""

import math
import os
import signal
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnkit import threads
from rnnkit.data.batching import make_batches
from rnnkit.data.features import GROUPS, Featurizer
from rnnkit.errors import DataError, RnnkitError
from rnnkit.ner import checkpoint, corpora
from rnnkit.ner.checkpoint import CHECKPOINT_FILE, Position
from rnnkit.ner.history import CURVES_FILE, curves_unavailable, write_history
from rnnkit.ner.metrics import score
from rnnkit.ner.regularisers import drop_inputs, recase, swapped, update_average, word_drop_rates
from rnnkit.ner.run_directory import claim
from rnnkit.ner.tagger import MODEL_FILE, Tagger
from rnnkit.ner.tasks import Task, check_settings, for_training
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.model import RNN
from rnnkit.nn.optim import Adam, NonFiniteLoss, train_step

# The model's settings a run chooses: RNNConfig's fields but the sizes n_x and n_y, which
# the features and the task give, the output g2, which the task gives, and the dtype.
MODEL_FIELDS = ("n_a", "activation", "init_x", "layers", "bidirectional", "dropout")
# Options that are off at 0 as well as at None; a config holds None for off.
OFF_AT_ZERO = (
    "word_dropout",
    "unk_alpha",
    "feature_dropout",
    "entity_dropout",
    "case_augment",
    "average",
    "lr_decay",
)
# Arrays of the parameters' size a run holds: θ, its gradient, Adam's m and v (and θ_avg).
COPIES = 4


@dataclass
class TrainConfig:
    """A run's settings; None means "off". The model's (MODEL_FIELDS) are checked by
    RNNConfig, once, when the config is made; the rest are checked here."""

    task: str = "per"
    features: tuple = ("word",)  # ("word",) is the lecture's one-hot input
    vocab: int = 10_000
    lower_vocab: int | None = None  # size of the `lower` group's vocabulary (None: vocab)
    affix_vocab: int = 1000  # size of each prefix/suffix group's vocabulary
    n_a: int = 100
    activation: str = "tanh"
    init_x: float | None = None  # W_ax of layer 1 ~ U(-init_x, init_x); None: 1/sqrt(n_a)
    layers: int = 1
    bidirectional: bool = False
    dropout: float | None = None  # on each layer's output a[l] in training
    word_dropout: float | None = None  # chance that a training word is shown as UNK
    unk_alpha: float | None = None  # and, on top, α / (α + count(word)): rare words more often
    feature_dropout: float | None = None  # chance that each other group's id is its UNK
    entity_dropout: float | None = None  # chance that a word inside a gold entity is UNK
    case_augment: float | None = None  # share of sentences shown lower-, upper- or title-cased
    average: float | None = None  # β of an exponential moving average of the weights
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3  # Adam
    lr_decay: float | None = None  # lr / (1 + lr_decay * epoch)
    clip: float = 5.0  # global gradient norm
    patience: int = 5  # epochs without a better dev F1 before stopping
    seed: int = 0
    scheme: str | None = None  # the files' tag scheme (None: detected in each file)
    types: str | None = None  # "PER,LOC": the entity types kept (the rest become O)
    type_map: str | None = None  # "PERSON=PER,person=PER": types renamed as they are read
    output: str | None = None  # "crf": a CRF on the RNN (bio, tags); None: the task's own
    select: str | None = None  # the dev file (as given) that chooses the model; None: the mean

    def __post_init__(self):
        """Every setting is checked here, before any work: a bad one fails in an instant,
        not after an epoch (NaN and ±inf included)."""
        check_settings(self)  # the task's: task, scheme, types, type_map, output
        self.features = tuple(self.features)
        groups = set(self.features)
        if not groups or len(groups) != len(self.features) or not groups <= set(GROUPS):
            raise RnnkitError(
                f"--features must be distinct names from {', '.join(GROUPS)}, "
                f"not {','.join(self.features) or 'none'}"
            )
        for name in ("vocab", "affix_vocab", "epochs", "batch", "patience"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be at least 1")
        if self.lower_vocab is not None and self.lower_vocab < 1:
            raise RnnkitError("--lower-vocab must be at least 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise RnnkitError(f"--seed must be an integer, not {self.seed!r}")
        if self.seed < 0:  # NumPy's generators take none
            raise RnnkitError(f"--seed must not be negative, not {self.seed}")
        for name in ("word_dropout", "feature_dropout", "entity_dropout", "average"):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) < 1:
                raise RnnkitError(
                    f"--{name.replace('_', '-')} must lie in [0, 1), not {getattr(self, name)}"
                )
        if self.case_augment is not None and not 0 <= self.case_augment <= 1:
            raise RnnkitError(f"--case-augment must lie in [0, 1], not {self.case_augment}")
        _check_number("lr", self.lr, positive=True)
        _check_number("clip", self.clip, positive=True)
        _check_number("lr_decay", self.lr_decay, positive=False)  # < 0: the lr would turn
        _check_number("unk_alpha", self.unk_alpha, positive=False)
        for name in OFF_AT_ZERO:
            if getattr(self, name) == 0:
                setattr(self, name, None)
        model = self.rnn_config(n_x=1, n_y=1)  # n_x and n_y come later, from the data
        for name in MODEL_FIELDS:  # as RNNConfig holds them: dropout 0 is None, and so on
            setattr(self, name, getattr(model, name))
        self.check_memory(model, inputs_known=False)

    def rnn_config(self, n_x, n_y, output="sigmoid"):
        """The run's model configuration, for n_x inputs and n_y outputs."""
        try:
            return RNNConfig(
                n_x, n_y=n_y, output=output, **{k: getattr(self, k) for k in MODEL_FIELDS}
            )
        except (TypeError, ValueError) as e:
            name, _, rest = str(e).partition(" ")  # "init_x must be ...": say the option
            if name in MODEL_FIELDS:
                e = f"--{name.replace('_', '-')} {rest}"
            raise RnnkitError(f"bad model setting: {e}") from None

    def check_memory(self, model, inputs_known=True):
        """Refuse a model (RNNConfig) whose parameters, with their gradients and the
        optimiser's state, would not fit in this machine's memory, before allocating any.
        Before the data are read n_x is not known: the check counts the rest."""
        n_in = [model.n_x] + [model.n_a * len(model.directions)] * (model.layers - 1)
        per_chain = [model.n_a * (model.n_a + n + 1) for n in n_in]  # W_aa, W_ax, b_a
        n_params = sum(per_chain) * len(model.directions)
        n_params += model.n_y * (model.n_a * len(model.directions) + 1)  # W_ya, b_y
        needed = n_params * np.dtype(model.dtype).itemsize * (COPIES + bool(self.average))
        available = physical_memory()
        if available is not None and needed > available:
            raise RnnkitError(
                f"--n-a {model.n_a} with --layers {model.layers}"
                + (f" and {model.n_x:,} inputs makes " if inputs_known else " makes at least ")
                + f"{n_params:,} parameters, which with their gradients and the "
                f"optimiser's state need {needed / 2**30:,.1f} GiB; this machine has "
                f"{available / 2**30:,.1f} GiB"
            )

    def to_json(self):
        return {**asdict(self), "features": list(self.features)}

    @classmethod
    def from_json(cls, data):
        """The config a checkpoint stores. Checkpoints written before None meant "off" hold 0
        for off (where 0 is not a value, too: init_x, lower_vocab) and an unused "extra"."""
        data = {k: v for k, v in data.items() if k != "extra"}
        for name in ("init_x", "lower_vocab", "scheme", "types", "type_map", "output", "select"):
            if data.get(name) == 0:
                data[name] = None
        return cls(**data)


def _check_number(name, value, positive):
    """A setting that must be a finite number, > 0 (positive) or >= 0; None passes."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise RnnkitError(f"--{name.replace('_', '-')} must be a finite {kind} number, not {value}")


def physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class Interrupted(RnnkitError):
    """Training was stopped by a signal after saving a checkpoint."""


class _StopOnSignal:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a step is never cut in half."""

    def __enter__(self):
        self.signum, self._old = None, {}
        for s in (signal.SIGINT, signal.SIGTERM):
            with suppress(ValueError):  # not the main thread: signals stay as they are
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)


def encode_labelled(sentences, path, task, featurizer):
    """Sentences read from `path` -> (xs [(T, K)], ys [(T,)]); a tag the task lacks names its
    line."""
    xs, ys = [], []
    for s in sentences:
        try:
            ys.append(task.labels(s.tags))
        except KeyError as e:
            tag = e.args[0]
            line = s.line + next(i for i, t in enumerate(s.tags) if t == tag)
            like = _resembles(tag[2:], entity_types(task))
            hint = f" (did you mean {tag[:2]}{like}?)" if like else ""
            raise DataError(
                path, f"tag {tag} is not one of the {task.name} task's tags{hint}", line
            ) from None
        xs.append(featurizer.encode(s.tokens))
    return xs, ys


def entity_types(task):
    """The entity types the task learns: ("PER",) for per."""
    return tuple(dict.fromkeys(t[2:] for t in task.tags if t != "O"))


def check_labels(sentences, ys, path, task, log, required):
    """A file whose tags give the task no entity at all is a mistake (B-PERSON where the per
    task reads B-PER): an error if `required` (the training file), else a warning. Types that
    look like the task's but are read as O (B-Per) are named either way."""
    wanted = entity_types(task)
    # The tags as the task reads them (types renamed or dropped); per's view keeps only PER
    as_read = (s.tags if task.name == "per" else task.gold_tags(s.tags) for s in sentences)
    found = sorted({t[2:] for tags in as_read for t in tags if t != "O"})
    alike = {t: _resembles(t, wanted) for t in found if t not in wanted and _resembles(t, wanted)}
    hint = ""
    if alike:
        meant = ", ".join(dict.fromkeys(alike.values()))
        hint = (
            f"did you mean {meant}? the {task.name} task reads the file's {', '.join(alike)} as O"
        )
    if any(y.any() for y in ys):  # label 0 is O: anything else is part of an entity
        if alike:
            log(f"warning: {path}: {hint}")
        return
    problem = f"no token is tagged as {' or '.join(wanted)}, the {task.name} task's entities"
    if hint:
        problem += f" ({hint})"
    elif found:
        problem += f" (the file's types are {', '.join(found)})"
    if required:
        raise DataError(path, f"{problem}: there is nothing to learn")
    log(f"warning: {path}: {problem}: dev F1 is 0 every epoch and cannot choose the best model")


def _resembles(kind, wanted):
    """The type of `wanted` that `kind` looks like, by case or as a prefix (PERSON, Per: PER);
    None if none."""
    for w in wanted:
        a, b = kind.upper(), w.upper()
        if kind != w and (a == b or (min(len(a), len(b)) >= 3 and a.startswith(b))):
            return w
    return None


def evaluate(tagger, sentences):
    """Entity-level scores of the tagger on gold sentences, and its predictions."""
    predictions = tagger.predict([s.tokens for s in sentences])
    gold = [tagger.task.gold_tags(s.tags) for s in sentences]
    return score(gold, [p.tags for p in predictions]), predictions


@dataclass
class Data:
    """A run's data: the training sentences encoded, xs [(T, K)] and ys [(T,)], the chance
    (n_x,) that each word id is shown as UNK (None: never), the dev sets as read
    (corpora.DevSet), and the training sentences' tokens, in the order of xs (to recase)."""

    task: Task
    featurizer: Featurizer
    xs: list
    ys: list
    word_rate: np.ndarray | None
    dev: list
    tokens: list


@dataclass
class Run:
    """What a run changes as it goes: the model (inside the tagger), its optimiser, the
    averaged weights (None without --average) and where it stands."""

    tagger: Tagger
    opt: Adam
    average: dict | None
    position: Position

    @property
    def model(self):
        return self.tagger.model


def train(
    config,
    train_path,
    dev_path,
    out,
    resume=False,
    progress=None,
    log=print,
    overwrite=False,
    keep_checkpoint=False,
):
    """Train a tagger; returns the run's history (a list of per-epoch dicts).

    progress(total, desc) -> object with update(n, **postfix) and close(), or None.
    resume: continue the run in `out`; overwrite: start a new run in an `out` that holds
    files; keep_checkpoint: keep checkpoint.npz when the run completes, so that it can be
    continued with more epochs.
    """
    out = Path(out)
    with claim(out, resume, overwrite), threads.limited():
        saved = None
        if resume:
            saved = load_checkpoint(out)
            config = resumed_config(saved, config, out / CHECKPOINT_FILE)
            log(f"resuming {out} at epoch {saved.position.epoch + 1}, step {saved.position.step}")
        # one file or several, with weights (rnnkit.ner.corpora); read as the run's config says
        train_files, train_scheme = corpora.read_train(train_path, config.scheme, config.seed)
        train_sentences = corpora.picked(train_files)
        featurizer = (
            Featurizer.from_json(saved.featurizer)
            if saved
            else build_featurizer(train_sentences, config)
        )
        data = prepare_data(config, featurizer, train_files, dev_path, log, train_scheme)
        run = start(config, data, saved)
        if reason := curves_unavailable():
            log(f"{CURVES_FILE} is not written: {reason}")
        with _StopOnSignal() as stop:
            while run.position.epoch < config.epochs and run.position.bad_epochs < config.patience:
                tokens, loss_sum, seconds = train_epoch(run, data, config, out, progress, stop)
                end_epoch(run, data, config, out, tokens, loss_sum, seconds, log)
        if not keep_checkpoint:  # the run is complete: model.npz holds what it made
            (out / CHECKPOINT_FILE).unlink(missing_ok=True)
    return run.position.history


def load_checkpoint(out):
    path = out / CHECKPOINT_FILE
    if not path.exists() and (out / MODEL_FILE).exists():
        raise RnnkitError(
            f"{path}: no checkpoint to resume from: the run in {out} is complete, and removed "
            "it (--keep-checkpoint keeps it, to continue a run with more epochs)"
        )
    return checkpoint.load(path)


def resumed_config(saved, config, path):
    """The settings of the run a checkpoint continues: all its own, but the epochs asked for."""
    if saved.config["task"] != config.task:
        raise RnnkitError(
            f"{path}: the checkpoint is for task {saved.config['task']}, not {config.task}"
        )
    return TrainConfig.from_json({**saved.config, "epochs": config.epochs})


def build_featurizer(train_sentences, config):
    return Featurizer.build(
        [s.tokens for s in train_sentences],
        groups=config.features,
        vocab_size=config.vocab,
        lower_size=config.lower_vocab,
        affix_size=config.affix_vocab,
    )


def prepare_data(config, featurizer, train_files, dev_path, log=print, train_scheme="iob2"):
    dev_sets = corpora.read_dev(dev_path, config.scheme, config.select)
    train_sentences = corpora.picked(train_files)
    dev = [s for d in dev_sets for s in d.sentences]
    tags = [s.tags for s in train_sentences], [s.tags for s in dev]
    task = for_training(config, tags[0], train_scheme, tags[1], corpora.names(dev_path), log)
    # each file encoded once, its errors naming it; then its sentences as its weight picks them
    pairs = corpora.picked(
        train_files, lambda f: list(zip(*encode_labelled(f.sentences, f.path, task, featurizer)))
    )
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    check_labels(train_sentences, ys, corpora.names(train_files), task, log, required=True)
    for d in dev_sets:  # check the dev tags before hours of training
        _, dev_ys = encode_labelled(d.sentences, d.name, task, featurizer)
        check_labels(d.sentences, dev_ys, d.name, task, log, required=False)
    rates = word_drop_rates(xs, featurizer, config)
    return Data(task, featurizer, xs, ys, rates, dev_sets, [s.tokens for s in train_sentences])


def start(config, data, saved=None):
    """A new run, or the run the checkpoint `saved` holds."""
    model_config = config.rnn_config(data.featurizer.n_x, data.task.n_y, data.task.output)
    config.check_memory(model_config)
    model = RNN.from_config(model_config, seed=config.seed)
    data.task.attach(model)  # a CRF's parameters, optimised with the RNN's
    opt = Adam(model.params, lr=config.lr)
    average = {k: p.copy() for k, p in model.params.items()} if config.average else None
    position = Position()
    if saved is not None:
        checkpoint.restore(saved, model, opt, average)
        position = saved.position
    tagger = Tagger(model, data.featurizer, data.task, {"train": config.to_json()})
    return Run(tagger, opt, average, position)


def train_epoch(run, data, config, out, progress, stop):
    """The rest of the current epoch, from run.position.step on; returns the epoch's (tokens,
    the loss summed over them, seconds), counted from its start also in a resumed run (the
    position holds the sums so far). On a signal it saves the checkpoint and raises
    Interrupted."""
    pos = run.position
    run.opt.lr = learning_rate(config, pos.epoch)
    batches = make_batches(
        data.xs, data.ys, config.batch, rng=np.random.default_rng([config.seed, pos.epoch])
    )
    bar = progress(len(batches), f"epoch {pos.epoch + 1}/{config.epochs}") if progress else None
    if bar and pos.step:
        bar.update(pos.step)
    started = time.perf_counter() - pos.seconds
    while pos.step < len(batches):
        batch = batches[pos.step]
        try:
            loss = train_batch(run, data, config, batch)
        except NonFiniteLoss:
            last = out / CHECKPOINT_FILE
            kept = (
                f"the last good checkpoint is {last}"
                if last.exists()
                else "no checkpoint was saved yet (one is at the end of each epoch)"
            )
            raise RnnkitError(
                f"non-finite loss or gradient at epoch {pos.epoch + 1}, step {pos.step + 1}; "
                + kept
            ) from None
        pos.step += 1
        n = int(batch.mask.sum())
        pos.tokens, pos.loss_sum = pos.tokens + n, pos.loss_sum + loss * n
        pos.seconds = time.perf_counter() - started
        if bar:
            tok_s = pos.tokens / pos.seconds
            bar.update(1, loss=f"{pos.loss_sum / pos.tokens:.4f}", tok_s=f"{tok_s:,.0f}")
        if stop.signum is not None:
            if bar:
                bar.close()
            save_checkpoint(run, data, config, out)
            raise Interrupted(
                f"interrupted by signal {stop.signum} at epoch {pos.epoch + 1}, step {pos.step}; "
                f"checkpoint saved in {out / CHECKPOINT_FILE}; continue with --resume"
            )
    if bar:
        bar.close()
    return pos.tokens, pos.loss_sum, time.perf_counter() - started


def learning_rate(config, epoch):
    """lr / (1 + lr_decay * epoch)."""
    return config.lr if config.lr_decay is None else config.lr / (1 + config.lr_decay * epoch)


def train_batch(run, data, config, batch):
    """One step on one batch, its sentences recased and inputs dropped out as configured;
    returns the loss.

    Its random draws (casings, input dropout, then dropout on a[l]) come from (seed, epoch,
    step)."""
    pos = run.position
    rng = np.random.default_rng([config.seed, pos.epoch, pos.step])
    x = batch.x
    if config.case_augment:
        x = recase(x, batch.index, data.tokens, data.featurizer, config.case_augment, rng)
    if data.word_rate is not None or config.feature_dropout or config.entity_dropout:
        x = drop_inputs(
            x,
            data.featurizer,
            data.word_rate,
            config.feature_dropout,
            rng,
            batch.mask,
            batch.y != 0,
            config.entity_dropout,
        )
    loss_fn = data.task.loss_fn(run.model.params)  # a CRF's, or None for the output's own
    loss, _ = train_step(
        run.model,
        run.opt,
        x,
        batch.y,
        batch.mask,
        clip=config.clip,
        sparse=True,
        dropout_rng=rng,
        loss_fn=loss_fn,
    )
    if run.average is not None:
        update_average(run.average, run.model.params, config.average)
    return loss


def end_epoch(run, data, config, out, tokens, loss_sum, seconds, log):
    """Score the epoch on dev, keep the model if it is the best so far, save the checkpoint."""
    pos = run.position
    with swapped(run.model.params, run.average):
        scores = corpora.dev_scores(evaluate, run.tagger, data.dev, config.select)
    f1 = scores["f1"]
    pos.history.append(
        {
            "epoch": pos.epoch + 1,
            "train_loss": loss_sum / max(tokens, 1),
            "dev_precision": scores["precision"],
            "dev_recall": scores["recall"],
            "dev_f1": f1,
            **corpora.history_columns(scores),  # each dev set's F1, when there are several
            "lr": run.opt.lr,
            "seconds": seconds,
            "tokens_per_s": tokens / seconds,
        }
    )
    improved = f1 > pos.best
    if improved:
        pos.best, pos.bad_epochs = f1, 0
        with swapped(run.model.params, run.average):
            run.tagger.save(out / MODEL_FILE, dev=scores, history=pos.history, epoch=pos.epoch + 1)
    else:
        pos.bad_epochs += 1
    log(
        f"epoch {pos.epoch + 1}: loss {loss_sum / max(tokens, 1):.4f}  dev F1 {f1:.4f}"
        f"{'  (best, saved)' if improved else ''}  {tokens / seconds:,.0f} tokens/s"
    )
    pos.epoch, pos.step = pos.epoch + 1, 0
    pos.tokens, pos.loss_sum, pos.seconds = 0, 0.0, 0.0
    save_checkpoint(run, data, config, out)
    write_history(out, pos.history)


def save_checkpoint(run, data, config, out):
    checkpoint.save(
        out / CHECKPOINT_FILE,
        config,
        data.featurizer,
        run.model,
        run.opt,
        run.average,
        run.position,
    )
