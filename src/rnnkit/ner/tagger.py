"""A trained tagger: the model, its input features and its task, loaded and applied as one.

tagger = Tagger.load()                      # the default model shipped with rnnkit
tagger.predict([["Teddy", "Roosevelt", "was", "here"]])   # tags and probabilities
tagger.tag('He said, "Teddy Roosevelt was a great President."')   # spans with offsets

A token's "prob" is ŷ of the label chosen for it (for a per model that is P(person) on
a person's tokens and 1 - P(person) elsewhere; a CRF's is its marginal; where the tagger
shows only some types, an O's is 1 - p of every label of a shown type); an entity's "score"
is the mean of its tokens' prob (for a per model: the mean P(person) of its words).
"""

import copy
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from rnnkit import threads
from rnnkit.data.batching import check_count, make_batches
from rnnkit.data.features import Featurizer
from rnnkit.data.tokenize import iter_sentences, iter_tokens
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.schemes import spans_from_bio
from rnnkit.ner.tasks import Task
from rnnkit.nn.config import DTYPES, RNNConfig
from rnnkit.nn.model import RNN
from rnnkit.nn.spelling import SpellingRNN
from rnnkit.normalise import lookup_form

MODEL_FILE = "model.npz"
SHIPPED = ("default", "lecture", "conll")  # person taggers, then all four CoNLL types
# Padded steps per predict batch (B * T): about 70 MB of working memory for the shipped
# default model (4.5 KB a step); a longer sentence is predicted alone (docs/guarantees.md).
MAX_TOKENS = 16_384
# Characters that set the direction of the text around them: never part of a name.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass
class Prediction:
    tags: list
    probs: np.ndarray  # (T,) ŷ of each predicted label


def shipped_model_path(name="default"):
    if name not in SHIPPED:
        raise RnnkitError(f"no shipped model named {name!r}; shipped: {', '.join(SHIPPED)}")
    return Path(str(resources.files("rnnkit") / "models" / f"{name}.npz"))


def resolve_model_path(path):
    """None -> the shipped default; a path that exists -> itself (a directory: DIR/model.npz),
    even when it is named like a shipped model; otherwise a shipped name -> the shipped file."""
    if path is None:
        return shipped_model_path("default")
    if not os.fspath(path):  # Path("") is the working directory: `--model "$UNSET"` loaded it
        raise RnnkitError(
            "an empty model path: give a model file, a run directory or a shipped name"
        )
    if not Path(path).exists() and str(path) in SHIPPED:
        return shipped_model_path(str(path))
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def describe_model(path):
    """Which model `path` (what Tagger.load takes) names, in words: 'FILE' or 'NAME (shipped)';
    a list of them (an ensemble's): their words joined by ' + '."""
    if isinstance(path, list):
        return " + ".join(describe_model(p) for p in path)
    file = resolve_model_path(path)
    for name in SHIPPED:
        if file == shipped_model_path(name):
            return f"{name} (shipped)"
    return str(file)


class Tagger:
    """threshold: a per model's tokens with P(person) >= threshold are a person's; a model of
    several labels takes a shown label X over O (and the types not shown) where P(X) / P(O) >=
    threshold / (1 - threshold) (Task.decode_batch).
    show: the entity types it prints (None: every type the model tags); the model file's
    header holds it, so that a model that learned persons, places and organisations can ship
    as a person tagger."""

    def __init__(self, model, featurizer, task, meta=None, threshold=0.5, show=None):
        self.model, self.featurizer, self.task = model, featurizer, task
        self._runner, self._runner_of = model, model
        self.meta = meta or {}
        self.threshold = threshold
        self.show = show

    @property
    def threshold(self):
        return self._threshold

    @threshold.setter
    def threshold(self, t):
        """Task.check_threshold's number, refused when set, not at the first text tagged."""
        self._threshold = self.task.check_threshold(t)

    @property
    def show(self):
        return self._show

    @show.setter
    def show(self, types):
        """A tuple of the model's types, "PER,LOC" or None; RnnkitError for a type it lacks."""
        self._show = self.task.check_show(types)

    def showing(self, types):
        """This tagger, the same model (not a copy of it), printing only `types` (None: all)."""
        other = copy.copy(self)
        other.meta = dict(self.meta)
        other.show = types
        return other

    def gold_tags(self, tags):
        """Gold IOB2 tags as this tagger's predictions have them: its task's view, with only
        the types it shows."""
        return self.task.gold_tags(tags, self.show)

    # -- storage ---------------------------------------------------------------
    @classmethod
    def load(cls, path=None, *, show=None, threshold=None, fold=True):
        """Load a model file, a training directory, or a shipped model (None = 'default').
        show, threshold: set on the loaded tagger (None: the types its file names, and 0.5);
        RnnkitError for a type the model does not tag. fold=False tags with a model that reads
        an embedding E as it was trained, E gathered at every step (RNN.folded: the default
        multiplies W_ax E out once, here)."""
        if isinstance(path, list | tuple):  # several models: an ensemble's, not one tagger's
            raise TypeError(
                f"Tagger.load takes one model, not {len(path)}; to decode several as one: "
                "rnnkit.Ensemble.load([...])"
            )
        file = resolve_model_path(path)
        arrays, meta = storage.load(file, expect_format=storage.MODEL_FORMAT)
        try:
            task = Task.from_meta(meta)
            config = RNNConfig.from_json(meta["model"]).replace(dtype="float32")
            featurizer = Featurizer.from_json(meta["featurizer"])
            _check_header(file, config, featurizer, task, arrays, meta.get("chars"))
            if "chars" in meta:
                model = SpellingRNN.from_meta(config, meta["chars"])
            else:
                model = RNN.from_config(config)
            task.attach(model)  # a CRF's parameters
            shown = task.check_show(meta.get("show"))
        except (KeyError, TypeError, ValueError, AttributeError, RnnkitError) as e:
            raise storage.ModelFileError(
                f"{file}: not a valid rnnkit tagger ({type(e).__name__}: {e})"
            ) from None
        if set(arrays) != set(model.params):
            raise storage.ModelFileError(
                f"{file}: parameters {sorted(arrays)} do not match the settings, "
                f"which need {sorted(model.params)}"
            )
        for name, p in model.params.items():
            if arrays[name].shape != p.shape:
                raise storage.ModelFileError(
                    f"{file}: {name} has shape {arrays[name].shape}, the settings need {p.shape}"
                )
            if not np.issubdtype(arrays[name].dtype, np.floating):
                raise storage.ModelFileError(
                    f"{file}: {name} has dtype {arrays[name].dtype}, not a float type"
                )
            p[...] = arrays[name]
            if not np.isfinite(p).all():
                raise storage.ModelFileError(f"{file}: {name} holds non-finite values")
        tagger = cls(model, featurizer, task, meta, show=shown)
        # A file's model is not trained further: with an embedding E, W_ax E is multiplied out
        # once here, and tagging runs at the speed of a model without E
        tagger._runner = model.folded() if fold else model
        return tagger._given(show, threshold)

    def _given(self, show=None, threshold=None):
        """This tagger with the show and threshold a load was given (None: keep its own)."""
        if show is not None:
            self.show = show
        if threshold is not None:
            self.threshold = threshold
        return self

    def save(self, path, dtype=None, **meta):
        """Write the tagger to one .npz file, atomically. dtype=np.float16 halves the file, rounding
        every weight to float16: lossy (predictions move by about 1e-3). A dtype that is not
        float16, 32 or 64 is refused before anything is written: Tagger.load refuses such a
        file, and the write would have replaced the file at `path`."""
        if dtype is not None and np.dtype(dtype).name not in DTYPES:
            raise ValueError(
                f"{path}: a model is saved as float16, float32 or float64, not {np.dtype(dtype)}"
            )
        arrays = {
            k: (v if dtype is None else v.astype(dtype)) for k, v in self.model.params.items()
        }
        self.meta.update(meta)
        # storage.load adds "format" and "format_version" to a loaded tagger's meta, and
        # storage.save writes them itself (refusing them in meta): a loaded tagger must save.
        # "show" is the tagger's own, as it is now.
        kept = {k: v for k, v in self.meta.items() if k not in ("format", "format_version")}
        kept.pop("show", None)
        if self.show is not None:
            kept["show"] = list(self.show)
        storage.save(
            path,
            arrays,
            {
                **kept,
                **self.task.to_meta(),
                "model": self.model.config.to_json(),
                "featurizer": self.featurizer.to_json(),
                **({"chars": self.model.to_meta()} if self.spells else {}),
            },
        )

    @property
    def runner(self):
        """The model that computes ŷ: `model`, or (loaded from a file) its folded twin, which
        is `model` unless it has an embedding E (RNN.folded). `model` is what save writes."""
        return self._runner if self._runner_of is self.model else self.model

    def forget(self):
        """Drop the spellings the model remembers (nn.spelling), as a cold start has none."""
        for model in (self.model, self.runner):  # the same one twice forgets nothing more
            if isinstance(model, SpellingRNN):
                model.forget()

    @property
    def spells(self):
        """Whether the model reads each word's spelling (nn.spelling) as well as its features."""
        return isinstance(self.model, SpellingRNN)

    # -- tagging -----------------------------------------------------------------
    def predict(self, sentences, batch_size=256, max_tokens=MAX_TOKENS):
        """Token lists -> one Prediction per sentence, in order.

        Tokens are looked up in their lookup form (rnnkit.normalise: NFC, and a few typed forms
        read as ASCII), so text composed either way, or typed in fullwidth letters, tags alike.
        Batches hold at most batch_size sentences and max(max_tokens, the longest
        sentence) padded steps; they run with rnnkit's BLAS threads (rnnkit.threads).
        """
        sentences = token_lists(sentences)
        out = [None] * len(sentences)
        for index, y_hat, mask in self._batches(sentences, batch_size, max_tokens):
            decoded = self.task.decode_batch(
                y_hat, mask, self.model.params, self.threshold, self.show
            )
            for i, (tags, probs) in zip(index, decoded):
                out[i] = Prediction(tags, probs)
        return out

    def model_outputs(self, sentences, batch_size=256, max_tokens=MAX_TOKENS):
        """The model's ŷ of sentences (as predict takes them), a batch at a time, before
        decoding: an iterator of (the batch's sentence indices, ŷ (m, T, n_y), mask (m, T)), what
        an Ensemble averages. ŷ may be a buffer that the next batch overwrites."""
        return self._batches(token_lists(sentences, "model_outputs"), batch_size, max_tokens)

    def _batches(self, sentences, batch_size, max_tokens):
        """model_outputs of token lists in their lookup form (token_lists)."""
        xs = [self.featurizer.encode(tokens) for tokens in sentences]
        with threads.limited():
            for batch in make_batches(xs, None, batch_size, max_tokens=max_tokens):
                spelled = {"words": [sentences[i] for i in batch.index]} if self.spells else {}
                y_hat, _ = self.runner.forward(batch.x, batch.mask, **spelled)
                yield batch.index, y_hat, batch.mask

    def tag(self, text, max_len=100, chunk=256):
        """Raw text -> {"text", "tokens": [{text, start, end, label, prob}],
        "entities": [{text, start, end, type, score}]}.

        Offsets index into `text`. Long input is tagged in sentences of at most
        max_len tokens, `chunk` sentences at a time, so memory stays bounded.
        """
        if not isinstance(text, str):
            raise TypeError(f"tag takes a text (str), not {type(text).__name__}")
        check_count("chunk", chunk)  # max_len: iter_sentences checks it, at the loop's start
        tokens_out, entities = [], []
        pending = []
        for sentence in iter_sentences(iter_tokens(text), max_len=max_len):
            pending.append(sentence)
            if len(pending) == chunk:
                self._tag_sentences(text, pending, tokens_out, entities)
                pending = []
        self._tag_sentences(text, pending, tokens_out, entities)
        return {"text": text, "tokens": tokens_out, "entities": entities}

    def _tag_sentences(self, text, sentences, tokens_out, entities):
        if not sentences:
            return
        for sentence, pred in zip(
            sentences, self.predict([[t.text for t in s] for s in sentences])
        ):
            tagged_sentence(text, sentence, pred, tokens_out, entities)

    # -- many texts, whole files: rnnkit.ner.pipeline ------------------------------
    def pipe(self, texts, batch_size=64, workers=1):
        """Yield self.tag(text) for each of `texts`, lazily, in order, a batch of texts at a
        time, on `workers` processes (each loads the model once)."""
        from rnnkit.ner import pipeline

        if isinstance(texts, str | bytes):  # a text is an iterable too: of one-letter texts
            raise TypeError(
                "pipe takes an iterable of texts (['Ann met Bob.', ...]); for one text use tag()"
            )
        return pipeline.pipe(self, texts, batch_size, workers)

    def tag_file(self, path, batch_size=64, workers=1):
        """Yield the tagged paragraphs of a raw-text file, lazily, offsets into its text."""
        from rnnkit.ner import pipeline

        return pipeline.tag_file(self, path, batch_size, workers)


def token_lists(sentences, caller="predict"):
    """predict's sentences as lists of tokens in their lookup form (rnnkit.normalise);
    TypeError for a text or one sentence."""
    sentences = [sentences] if isinstance(sentences, str) else list(sentences)
    if any(isinstance(s, str) for s in sentences):  # a text, or one sentence's tokens
        raise TypeError(
            f"{caller} takes sentences as token lists ([['Ann', 'Lee', 'said']]); "
            "for a text use tag()"
        )
    try:
        return [[lookup_form(t) for t in tokens] for tokens in sentences]
    except TypeError:  # found only after a failure: a check of every token costs a short call
        for i, tokens in enumerate(sentences):
            if isinstance(tokens, str) or not hasattr(tokens, "__iter__"):
                raise TypeError(
                    f"{caller}: sentence {i} is {tokens!r}, not a list of tokens"
                ) from None
            for j, t in enumerate(tokens):
                if not isinstance(t, str):
                    raise TypeError(
                        f"{caller}: token {j} of sentence {i} is {type(t).__name__} {t!r}, "
                        "not a str"
                    ) from None
        raise


def tagged_sentence(text, sentence, pred, tokens_out, entities):
    """Append a sentence's tokens (a list of Tokens of `text`) and its entities, with their
    offsets into `text`, as Tagger.tag gives them. A bidirectional-control character between
    two tokens of an entity cuts it in two: entities never hold one."""
    for tok, tag, p in zip(sentence, pred.tags, pred.probs):
        tokens_out.append(
            {
                "text": tok.text,
                "start": tok.start,
                "end": tok.end,
                "label": tag,
                "prob": round(float(p), 4),
            }
        )
    for kind, i, j in spans_from_bio(pred.tags):
        cuts = [
            k for k in range(i + 1, j) if _has_bidi(text[sentence[k - 1].end : sentence[k].start])
        ]
        for a, b in zip([i, *cuts], [*cuts, j]):
            start, end = sentence[a].start, sentence[b - 1].end
            score = round(float(np.mean(pred.probs[a:b])), 4)
            entities.append(
                {"text": text[start:end], "start": start, "end": end, "type": kind, "score": score}
            )


def _has_bidi(gap):
    return not BIDI_CONTROLS.isdisjoint(gap)


def _check_header(file, config, featurizer, task, arrays, chars=None):
    """Hold the settings against the task, the vocabulary and the stored arrays before the
    model is built: a crafted header (n_a = 10**6) must be refused, not make RNN() allocate
    terabytes first, and a model whose g2 is not its task's scores nonsense."""
    n_x, n_y, n_a, layers = config.n_x, config.n_y, config.n_a, config.layers
    if featurizer.n_x != n_x or task.n_y != n_y:
        raise storage.ModelFileError(
            f"{file}: the settings say n_x = {n_x}, n_y = {n_y}, "
            f"but the vocabulary and task give {featurizer.n_x} and {task.n_y}"
        )
    if config.output != task.output:
        raise storage.ModelFileError(
            f"{file}: corrupt or inconsistent model file: the {task.name} task has a "
            f"{task.output} output, but the settings say {config.output}"
        )
    # Every chain stores W_aa (n_a, n_a) and the first layer's W_ax (n_a, n_x), or with an
    # embedding E (n_e, n_x) and W_ax (n_a, n_e): a lower bound on what such a file holds.
    n_e = config.n_e or 0
    needed = len(config.directions) * n_a * (layers * n_a + (n_e or n_x)) + n_e * n_x
    if chars is not None:  # and the character RNN its W_aa.char and W_ax.char
        n_c = chars["n_c"]
        if not isinstance(n_c, int) or isinstance(n_c, bool) or n_c < 1 or config.n_s != 2 * n_c:
            raise storage.ModelFileError(
                f"{file}: the settings say n_s = {config.n_s}, but the spelling has n_c = {n_c!r}"
            )
        needed += 2 * n_c * (n_c + len(chars["chars"]))
    elif config.n_s is not None:
        raise storage.ModelFileError(
            f"{file}: the settings say n_s = {config.n_s}, but the file has no spelling (chars)"
        )
    stored = sum(a.size for a in arrays.values())
    if needed > stored:
        raise storage.ModelFileError(
            f"{file}: the settings say n_a = {n_a}, layers = {layers}, which need at "
            f"least {needed:,} parameters, but the file holds {stored:,}"
        )


def mark(result):
    """The text with each entity shown as [words](TYPE)."""
    text, parts, at = result["text"], [], 0
    for e in result["entities"]:
        parts += [text[at : e["start"]], f"[{e['text']}]({e['type']})"]
        at = e["end"]
    return "".join(parts + [text[at:]])
