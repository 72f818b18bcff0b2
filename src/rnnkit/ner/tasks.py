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

from dataclasses import dataclass, field, replace

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.ner import schemes
from rnnkit.ner.schemes import binary_to_bio
from rnnkit.ner.tagsets import Relabel, TagSet, types_of
from rnnkit.nn.crf import crf_marginals, crf_nll
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

    def gold_tags(self, tags):
        """The gold tags as this task sees them (per: B-PER/I-PER runs of person tokens;
        otherwise types renamed and kept as in training)."""
        return binary_to_bio(self.labels(tags)) if self.name == "per" else self.relabel(tags)

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, y_hat, threshold=0.5, params=None):
        """ŷ (T, n_y) of one sentence -> (IOB2 tags, prob of each predicted label (T,)).
        threshold: per's least P(person) of a person's token; params: the model's parameters,
        for a CRF's scores."""
        if self.name == "per":
            p = y_hat[:, 0]
            person = p >= threshold
            # a list of Python bools: comparing NumPy scalars one by one costs microseconds each
            return binary_to_bio(person.tolist()), np.where(person, p, 1 - p)
        if not self.crf and self.decoding == "argmax":
            best = y_hat.argmax(axis=1)
            return self.tagset.iob2(best), y_hat[np.arange(len(best)), best]
        return self.decode_batch(y_hat[None], None, params)[0]

    def decode_batch(self, y_hat, mask, params=None, threshold=0.5):
        """ŷ (m, T, n_y) of a batch, mask (m, T) bool (None: all real) -> one (IOB2 tags, prob of
        each predicted label (T_i,)) per sentence. A CRF's prob is its marginal p(y<t> | x)."""
        m, T = y_hat.shape[:2]
        lengths = np.full(m, T) if mask is None else mask.sum(axis=1)
        if self.name == "per" or (not self.crf and self.decoding == "argmax"):
            return [self.decode(y_hat[i, :n], threshold) for i, n in enumerate(lengths)]
        allowed, allowed_start, allowed_end = self.tagset.transitions
        if self.crf:
            A, start, end = (params[k] for k in CRF_PARAMS)
            best = viterbi(y_hat, A, mask, start, end, allowed, allowed_start, allowed_end)
            p = crf_marginals(y_hat, mask, A, start, end)
        else:
            with np.errstate(divide="ignore"):  # log 0 = -inf: the padding, and underflows
                log_y = np.log(y_hat)
            best = viterbi(log_y, None, mask, None, None, allowed, allowed_start, allowed_end)
            p = y_hat
        probs = np.take_along_axis(p, best[..., None], axis=-1)[..., 0]
        return [(self.tagset.iob2(best[i, :n]), probs[i, :n]) for i, n in enumerate(lengths)]

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


TASKS = {
    "per": Task("per", "sigmoid", TagSet("iob2", ("PER",))),
    "bio": Task("bio", "softmax", TagSet("iob2", CONLL_TYPES)),
    "tags": Task("tags", "softmax", TagSet("iob2", ())),  # its tag set comes from the data
}


def check_settings(config):
    """Hold a training config's task settings (task, scheme, model_scheme, types, type_map,
    output) to what its task takes; RnnkitError says what is wrong. model_scheme comes back
    spelt as rnnkit spells it ("bioes" for "IOBES")."""
    if config.task not in TASKS:
        raise RnnkitError(f"unknown task {config.task!r}; choose from {', '.join(TASKS)}")
    try:
        if config.scheme is not None:
            schemes.scheme_name(config.scheme)
        if config.model_scheme is not None:
            config.model_scheme = schemes.scheme_name(config.model_scheme)
        Relabel.parse(config.types, config.type_map)
    except ValueError as e:
        raise RnnkitError(str(e)) from None
    if config.output is not None and config.output not in OUTPUTS:
        raise RnnkitError(f"--output is one of {', '.join(OUTPUTS)}, not {config.output!r}")
    if config.model_scheme == "iob1":  # its B- depends on the chunk before: see model_scheme
        raise RnnkitError(
            "--model-scheme is one of iob2, io, bioes, bilou: a model does not learn IOB1"
        )
    per_only = (config.types, config.type_map, config.output, config.model_scheme)
    if config.task == "per" and any(per_only):
        raise RnnkitError(
            "the per task is the lecture's person tagger: --types, --map, --output and "
            "--model-scheme go with --task bio or tags"
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
    missing = sorted(set(types_of(relabel(t) for t in dev_tags)) - set(task.tagset.types))
    if missing and config.task == "tags":
        log(
            f"warning: {dev_path}: entity type{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} not in the training data (which has "
            f"{', '.join(task.tagset.types)}): the model cannot find them; they count as missed"
        )
    return task
