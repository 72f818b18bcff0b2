"""The tagging tasks: what y<t> is, and how ŷ<t> becomes tags.

per   the lecture's: one sigmoid output, y<t> = 1 when word t is part of a person's name. A
      predicted person is a maximal run of tokens with ŷ<t> >= 0.5; gold persons are read the
      same way from the gold labels, and both are written as B-PER/I-PER/O tags.
bio   CoNLL-2003's four types (PER, LOC, ORG, MISC): 9 IOB2 tags, one softmax output over
      them; a tag of another type is an error.
tags  any tag set: the entity types of the training data (or --types), in the scheme of the
      training file (IOB1 read as IOB2), one softmax output over them.

bio and tags may learn another scheme than that (--model-scheme): gold tags are converted to it
as they are read, so that a model trained on BIO files can learn BIOES, whose E- and S- tags
say where a chunk ends (Ratinov & Roth 2009 find BILOU better than BIO on CoNLL-2003).

bio and tags may put a CRF on the RNN instead of the softmax (--output crf): the RNN's logits
are the CRF's emissions, and its transition scores A, start and end join the model's parameters
as crf.A, crf.start, crf.end, so that one optimiser, clipping, averaging, checkpoint and model
file carry them. Softmax taggers decode with Viterbi over log ŷ, taking only the transitions the
scheme allows (no I-LOC after O in IOB2); a CRF decodes with Viterbi over its own scores, under
the same constraints. Predicted tags come back as IOB2 whatever the model's scheme.
"""

import functools
import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.ner import schemes
from rnnkit.ner.schemes import binary_to_bio
from rnnkit.ner.tagsets import Relabel, TagSet, parse_types, types_of
from rnnkit.nn.crf import crf_decode, crf_decode_folded, crf_marginals, crf_nll, fold
from rnnkit.nn.viterbi import viterbi

CONLL_TYPES = ("PER", "LOC", "ORG", "MISC")
BIO_TAGS = TagSet("iob2", CONLL_TYPES).tags
CRF_PARAMS = ("crf.A", "crf.start", "crf.end")
OUTPUTS = ("softmax", "crf")  # --output of the bio and tags tasks
DECODINGS = ("viterbi", "argmax")


@dataclass(frozen=True)
class Task:
    name: str  # per, bio or tags
    output: str  # g2 of the RNN: sigmoid (per), softmax, or linear (a CRF's emissions)
    tagset: TagSet
    crf: bool = False
    relabel: Relabel = field(default_factory=Relabel)  # applied to gold tags as they are read
    decoding: str = "viterbi"  # of a softmax output: viterbi, or each step's argmax

    @property
    def tags(self):
        """The model's output tags, label i being tags[i] (per: its B-PER/I-PER/O view)."""
        return self.tagset.tags

    @property
    def n_y(self):
        return 1 if self.name == "per" else len(self.tags)

    def labels(self, tags):
        """Gold IOB2 tags -> y (T,): 0/1 for per, tag ids otherwise. A tag the bio task lacks
        raises KeyError naming it; the tags task reads types it lacks as O."""
        if self.name == "per":
            return np.array([t.endswith("-PER") for t in tags], dtype=np.int64)
        return self.tagset.ids(self.relabel(tags), unknown_as_o=self.name == "tags")

    def gold_tags(self, tags, show=None):
        """The gold tags as this task sees them (per: B-PER/I-PER runs of person tokens;
        otherwise types renamed and kept as in training); show: the types a tagger prints
        (None: all), the others read as O, as its predictions have them."""
        if self.name == "per":
            return binary_to_bio(self.labels(tags))
        tags = self.relabel(tags)
        if show is not None:
            tags = [t if t == "O" or t[2:] in show else "O" for t in tags]
        return tags

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, y_hat, threshold=0.5, params=None, show=None):
        """ŷ (T, n_y) of one sentence -> (IOB2 tags, prob of each predicted label (T,)).
        threshold, show: as decode_batch takes them; params: the model's parameters, for a CRF's
        scores."""
        if self.name == "per":
            p = y_hat[:, 0]
            person = p >= threshold
            # a list of Python bools: comparing NumPy scalars one by one costs microseconds each
            return binary_to_bio(person.tolist()), np.where(person, p, 1 - p)
        return self.decode_batch(y_hat[None], None, params, threshold, show)[0]

    def decode_batch(self, y_hat, mask, params=None, threshold=0.5, show=None):
        """ŷ (m, T, n_y) of a batch, mask (m, T) bool (None: all real) -> one (IOB2 tags, prob of
        each predicted label (T_i,)) per sentence. A CRF's prob is its marginal p(y<t> | x).

        threshold: per's least P(person) of a person's token. Other tasks decode with
        log(threshold / (1 - threshold)) added at every step to the score of O and of each
        hidden type's label (nothing at 0.5): the per model's rule in its logit form, a shown
        label X over those where P(X) / P(O) >= t / (1 - t), which for a word that is either O
        or X is P(X) >= t; so a lower threshold tags more words, a higher one fewer. The probs
        stay the model's own.

        show: the entity types to print (None: all). A token of another type is printed O, and
        the prob of an O is then that of all it stands for: p(O) plus p of every hidden type's
        labels, which is 1 - p(a shown type's label), as a per model's O has 1 - P(person)."""
        m, T = y_hat.shape[:2]
        lengths = np.full(m, T) if mask is None else mask.sum(axis=1)
        if self.name == "per":
            return [self.decode(y_hat[i, :n], threshold) for i, n in enumerate(lengths)]
        allowed, allowed_start, allowed_end = self.tagset.transitions
        # label 0 is O; a hidden type's chunk made O leaves the rest of a valid path valid
        hidden = _hidden_labels(self.tags, None if show is None else tuple(show))
        self.check_threshold(threshold)
        o_bias = math.log(threshold / (1 - threshold))  # math: NumPy's call costs µs
        valid = True  # a path that keeps to the scheme's transitions
        if self.crf:
            A, start, end = (params[k] for k in CRF_PARAMS)
            tables = (allowed, allowed_start, allowed_end)
            if o_bias:  # the path of the shifted scores, the probs of the model's own
                best = crf_decode(_plus_o(y_hat, o_bias, hidden), mask, A, start, end, *tables)
                best, probs = fold(best, crf_marginals(y_hat, mask, A, start, end), hidden)
            else:
                best, probs = crf_decode_folded(y_hat, lengths, A, start, end, *tables, hidden)
        else:
            with np.errstate(divide="ignore"):  # log 0 = -inf: the padding, and underflows
                log_y = _plus_o(np.log(y_hat), o_bias, hidden)
            if self.decoding == "argmax":
                best, valid = log_y.argmax(axis=2), False
            else:
                best = viterbi(log_y, None, mask, None, None, allowed, allowed_start, allowed_end)
            best, probs = fold(best, y_hat, hidden)
        return [
            (self.tagset.iob2(best[i, :n], valid=valid), probs[i, :n])
            for i, n in enumerate(lengths)
        ]

    def check_threshold(self, threshold):
        """`threshold` as a float: a number, in (0, 1) for a task of several labels (its log odds
        must be finite), any finite one for per; TypeError or ValueError otherwise."""
        if type(threshold) is float and 0 < threshold < 1:  # the usual one, at once: decode_batch
            return threshold  # asks each batch, and an ABC's isinstance costs a short sentence µs
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"threshold is a number, not {threshold!r}")
        if self.name != "per" and not 0 < threshold < 1:  # also refuses NaN
            raise ValueError(f"a {self.name} model's threshold lies in (0, 1), not {threshold}")
        if not math.isfinite(threshold):
            raise ValueError(f"threshold is a finite number, not {threshold}")
        return float(threshold)

    def check_show(self, show):
        """`show` ("PER,LOC", or a list of types) as a tuple of this task's entity types, or
        None for all; RnnkitError for a type the task does not tag, or an empty list."""
        if show is None:
            return None
        if isinstance(show, str):  # "PER,LOC", as --show takes it
            show = show.split(",")
        if not isinstance(show, list | tuple | set | frozenset) or not all(
            isinstance(t, str) for t in show
        ):
            raise TypeError(f'show is "PER,LOC" or a list of type names, not {show!r}')
        show = tuple(dict.fromkeys(t.strip() for t in show if t.strip()))
        types = self.tagset.types
        unknown = [t for t in show if t not in types]
        if unknown or not show:
            raise RnnkitError(
                f"--show names {', '.join(unknown) or 'no type'}; the model tags {', '.join(types)}"
            )
        return show

    # -- the CRF -------------------------------------------------------------------------------
    def attach(self, model):
        """Give the model the task's own parameters (a CRF's A, start, end: zeros, so that an
        untrained CRF is the softmax), if it has none yet."""
        if self.crf:
            n_y = model.n_y
            for name, shape in zip(CRF_PARAMS, ((n_y, n_y), (n_y,), (n_y,))):
                model.params.setdefault(name, np.zeros(shape, model.dtype))

    def loss_fn(self, params):
        """The loss of the model's logits for RNN.loss_and_grads, or None for the output's own."""
        if not self.crf:
            return None

        def crf_loss(logits, y, mask):
            loss, d_logits, grads = crf_nll(logits, y, mask, *(params[k] for k in CRF_PARAMS))
            return loss, d_logits, {f"crf.{k}": g for k, g in grads.items()}

        return crf_loss

    # -- the model file ------------------------------------------------------------------------
    def to_meta(self):
        """What a model file's header says of the task: only its name for per and the plain
        bio task, as before tag sets were stored."""
        plain = not self.crf and not self.relabel and self.tagset == TASKS["bio"].tagset
        if self.name == "per" or (self.name == "bio" and plain):
            return {"task": self.name}
        tagset = {**self.tagset.to_json(), "output": "crf" if self.crf else "softmax"}
        return {"task": self.name, "tagset": {**tagset, **self.relabel.to_json()}}

    @classmethod
    def from_meta(cls, meta):
        """The task a model file's header describes; KeyError, TypeError or ValueError if it
        describes none."""
        if "tagset" not in meta:
            return TASKS[meta["task"]]
        t = meta["tagset"]
        if meta["task"] not in ("bio", "tags") or t["output"] not in OUTPUTS:
            raise ValueError(f"no task {meta['task']!r} with output {t['output']!r}")
        crf = t["output"] == "crf"
        return cls(
            meta["task"],
            "linear" if crf else "softmax",
            TagSet(t["scheme"], tuple(t["types"])),
            crf,
            Relabel.from_json(t),
        )


def _plus_o(scores, bias, hidden):
    """The scores (m, T, n_y) with `bias` added to those of label 0 (O) and of the `hidden`
    labels (n_y,) bool, all that is printed O (a copy; the scores themselves where bias is 0)."""
    if not bias:
        return scores
    scores = np.array(scores, dtype=np.result_type(scores, np.float32))
    scores[..., hidden | (np.arange(len(hidden)) == 0)] += bias
    return scores


@functools.lru_cache(maxsize=64)
def _hidden_labels(tags, show):
    """(n_y,) bool: the labels of types not in `show` (None: none), made once per tag set and
    show, not once per batch (a short sentence's decoding takes microseconds)."""
    return np.array([show is not None and t != "O" and t[2:] not in show for t in tags])


TASKS = {
    "per": Task("per", "sigmoid", TagSet("iob2", ("PER",))),
    "bio": Task("bio", "softmax", TagSet("iob2", CONLL_TYPES)),
    "tags": Task("tags", "softmax", TagSet("iob2", ())),  # its tag set comes from the data
}


def check_settings(config):
    """Hold a training config's task settings (task, scheme, model_scheme, types, type_map,
    output, show) to what its task takes; RnnkitError says what is wrong. model_scheme comes back
    spelt as rnnkit spells it ("bioes" for "IOBES")."""
    if config.task not in TASKS:
        raise RnnkitError(f"unknown task {config.task!r}; choose from {', '.join(TASKS)}")
    try:
        if config.scheme is not None:
            schemes.scheme_name(config.scheme)
        if config.model_scheme is not None:
            config.model_scheme = schemes.scheme_name(config.model_scheme)
        relabel = Relabel.parse(config.types, config.type_map)
        show = parse_types(config.show, "--show")
    except ValueError as e:
        raise RnnkitError(str(e)) from None
    if config.output is not None and config.output not in OUTPUTS:
        raise RnnkitError(f"--output is one of {', '.join(OUTPUTS)}, not {config.output!r}")
    if config.model_scheme == "iob1":  # its B- depends on the chunk before: see model_scheme
        raise RnnkitError(
            "--model-scheme is one of iob2, io, bioes, bilou: a model does not learn IOB1"
        )
    per_only = (config.types, config.type_map, config.output, config.model_scheme, config.show)
    if config.task == "per" and any(per_only):
        raise RnnkitError(
            "the per task is the lecture's person tagger: --types, --map, --output, "
            "--model-scheme and --show go with --task bio or tags"
        )
    kept = relabel.keep or (CONLL_TYPES if config.task == "bio" else None)
    outside = [t for t in show or () if kept is not None and t not in kept]
    if outside:  # else for_training holds it to the types the training data has
        raise RnnkitError(
            f"--show names {', '.join(outside)}, which the model would not learn "
            f"(it learns {', '.join(kept)})"
        )


def for_training(config, train_tags, train_scheme, dev_tags, dev_path, log=print):
    """The task a run trains: config's, its tag set from the training data's IOB2 tags
    (train_tags: one list per sentence) read as train_scheme. Warns (a line to log) of types
    in the dev data (dev_tags, from dev_path) that training lacks."""
    base = TASKS[config.task]
    if config.task == "per":
        return base
    relabel = Relabel.parse(config.types, config.type_map)
    crf = config.output == "crf"
    tagset = base.tagset
    if config.model_scheme is not None:  # gold IOB2 tags are converted to it as they are read
        tagset = TagSet(config.model_scheme, tagset.types)
    found = types_of(relabel(t) for t in train_tags)
    absent = [t for t in relabel.keep or () if t not in found]
    if absent:  # a typo in --types would be an output the model never learns
        mapped = " after --map" if relabel.renames else ""
        raise RnnkitError(
            f"--types names {', '.join(absent)}, which the training data does not hold "
            f"(it has {', '.join(found) or 'no entities'}{mapped})"
        )
    if config.task == "tags":
        types = tuple(found)  # sorted; with --types, only the kept ones were found
        if not types:
            raise RnnkitError("the training data has no entities: nothing to learn to tag")
        tagset = TagSet(config.model_scheme or schemes.model_scheme(train_scheme), types)
    output = "linear" if crf else "softmax"
    task = replace(base, output=output, tagset=tagset, crf=crf, relabel=relabel)
    unshown = [t for t in parse_types(config.show, "--show") or () if t not in task.tagset.types]
    if unshown:  # a typo in --show would be a model that prints nothing
        raise RnnkitError(
            f"--show names {', '.join(unshown)}, which the training data does not hold (it has "
            f"{', '.join(task.tagset.types)})"
        )
    missing = sorted(set(types_of(relabel(t) for t in dev_tags)) - set(task.tagset.types))
    if missing and config.task == "tags":
        log(
            f"warning: {dev_path}: entity type{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} not in the training data (which has "
            f"{', '.join(task.tagset.types)}): the model cannot find them; they count as missed"
        )
    return task
