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

import os
import signal
import time
from contextlib import suppress
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from rnnkit import threads
from rnnkit.data.batching import make_batches
from rnnkit.data.features import Featurizer
from rnnkit.errors import RnnkitError
from rnnkit.ner import checkpoint, corpora
from rnnkit.ner.checkpoint import CHECKPOINT_FILE, Position
from rnnkit.ner.history import CURVES_FILE, curves_unavailable, write_history
from rnnkit.ner.labels import check_labels, encode_labelled
from rnnkit.ner.metrics import score
from rnnkit.ner.regularisers import drop_inputs, recase, swapped, update_average, word_drop_rates
from rnnkit.ner.run_directory import claim
from rnnkit.ner.tagger import MODEL_FILE, Tagger
from rnnkit.ner.tasks import Task, for_training
from rnnkit.ner.train_config import TrainConfig
from rnnkit.nn.chars import CharVocab
from rnnkit.nn.model import RNN
from rnnkit.nn.optim import Adam, NonFiniteLoss, train_step
from rnnkit.nn.spelling import SpellingRNN

# A character seen fewer times in training is read as the unknown character: one met once is
# more likely noise (an emoji, a stray symbol) than something to learn.
CHAR_MIN_COUNT = 2


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


def evaluate(tagger, sentences):
    """Entity-level scores of the tagger on gold sentences, and its predictions."""
    predictions = tagger.predict([s.tokens for s in sentences])
    gold = [tagger.gold_tags(s.tags) for s in sentences]
    return score(gold, [p.tags for p in predictions]), predictions


@dataclass
class Data:
    """A run's data: the training sentences encoded, xs [(T, K)] and ys [(T,)], the chance
    (n_x,) that each word id is shown as UNK (None: never), the dev sets as read
    (corpora.DevSet), the training sentences' tokens, in the order of xs (to recase and
    spell), and the characters the spelling knows (None without --char-hidden)."""

    task: Task
    featurizer: Featurizer
    xs: list
    ys: list
    word_rate: np.ndarray | None
    dev: list
    tokens: list
    chars: CharVocab | None = None


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
            asked, config = config, resumed_config(saved, config, out / CHECKPOINT_FILE)
            if ignored := ignored_settings(asked, config):
                log(
                    f"warning: --resume continues the run with its checkpoint's settings; "
                    f"ignored: {', '.join(ignored)}"
                )
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
        if config.char_hidden:
            data.chars = (
                CharVocab.from_dict(saved.chars)
                if saved
                else CharVocab.build((w for s in train_sentences for w in s.tokens), CHAR_MIN_COUNT)
            )
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


def ignored_settings(asked, resumed):
    """The settings `asked` changes from their defaults that the resumed run does not take
    (`--lr 0.01` where the run had 3e-3), as "--lr 0.01 (the run's: 0.003)"."""
    default = TrainConfig()
    return [
        f"--{f.name.replace('_', '-')} {_shown(getattr(asked, f.name))} "
        f"(the run's: {_shown(getattr(resumed, f.name))})"
        for f in fields(TrainConfig)
        if f.name not in ("task", "epochs")
        and getattr(asked, f.name) != getattr(default, f.name)
        and getattr(asked, f.name) != getattr(resumed, f.name)
    ]


def _shown(value):
    return ",".join(value) if isinstance(value, tuple) else value


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
    if config.char_hidden:
        model = SpellingRNN.build(model_config, data.chars, config.char_hidden, seed=config.seed)
    else:
        model = RNN.from_config(model_config, seed=config.seed)
    data.task.attach(model)  # a CRF's parameters, optimised with the RNN's
    opt = Adam(model.params, lr=config.lr)
    average = {k: p.copy() for k, p in model.params.items()} if config.average else None
    position = Position()
    if saved is not None:
        checkpoint.restore(saved, model, opt, average)
        position = saved.position
    meta = {"train": config.to_json()}
    tagger = Tagger(model, data.featurizer, data.task, meta, show=config.show)
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
    x, words = batch.x, None
    if config.case_augment:
        x, words = recase(x, batch.index, data.tokens, data.featurizer, config.case_augment, rng)
    if data.chars is not None and words is None:
        words = [data.tokens[i] for i in batch.index]
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
        words=words if data.chars is not None else None,
    )
    if run.average is not None:
        update_average(run.average, run.model.params, config.average)
    return loss


def end_epoch(run, data, config, out, tokens, loss_sum, seconds, log):
    """Score the epoch on dev, keep the model if it is the best so far, save the checkpoint."""
    pos = run.position
    with swapped(run.model.params, run.average):
        # --show changes what the model prints, not what it learns or is chosen by
        scores = corpora.dev_scores(evaluate, run.tagger.showing(None), data.dev, config.select)
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
        data.chars,
    )


_train_run = train  # train_tagger's keyword `train` names the files, as on the command line


def train_tagger(config=None, *, train, dev, out, log=None, **options):
    """Train a tagger and return it, as `rnnkit train` does: the Python entry point.

        tagger = rnnkit.train(train=["train.txt", "tweets.txt:0.5"], dev="valid.txt",
                              out="runs/mine", task="tags", output="crf", bidirectional=True)

    config: a TrainConfig, or None for TrainConfig(**options) (options name its fields, as
    the command line's options do); train and dev: a file or a list of them (train files may
    carry a weight, FILE:W); out: the run's directory. Other keywords go to `train` (resume,
    overwrite, keep_checkpoint, progress). Returns the best model by dev F1, loaded from
    out/model.npz. log: a function of one string for the per-epoch lines (default: silent).
    """
    if not isinstance(out, str | os.PathLike) or not os.fspath(out):  # "" was the working dir
        raise TypeError(f"out is the run's directory (a non-empty path), not {out!r}")
    run_options = {
        k: options.pop(k)
        for k in ("resume", "overwrite", "keep_checkpoint", "progress")
        if k in options
    }
    if config is None:
        config = TrainConfig(**options)
    elif options:
        raise TypeError(f"give a TrainConfig or its fields, not both ({', '.join(options)})")
    _train_run(config, train, dev, out, log=log or (lambda msg: None), **run_options)
    return Tagger.load(Path(out) / MODEL_FILE)
