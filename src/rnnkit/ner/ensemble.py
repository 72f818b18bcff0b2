"""Several taggers of one task decoded as one: a product of experts.

ensemble = Ensemble.load(["runs/a", "runs/b", "runs/c"])   # what Tagger.load takes, each
ensemble.predict([["Teddy", "Roosevelt", "was", "here"]])   # as a Tagger predicts
rnnkit eval --model runs/a --model runs/b --model runs/c --data test.txt

Each member reads the sentences through its own features and model, and the ensemble averages
what each says of a tag path in log space, so that it decodes one model of the same kind:

    a CRF's scores        z<t> = mean_k z_k<t>,   A = mean_k A_k,  start, end likewise
    a softmax's ŷ<t>      log ŷ<t> = mean_k log ŷ_k<t> - log Σ_j exp(mean_k log ŷ_k<t>[j])
    per's sigmoid ŷ<t>    logit ŷ<t> = mean_k logit ŷ_k<t>

A CRF path's score s(y) is linear in z, A, start and end, so the ensemble's s(y) is the mean of
the members' s_k(y): its Viterbi path is the path of the highest mean score, and p(y | x) is
the normalised geometric mean of the members' p_k(y | x). The decoding (Viterbi within the
scheme, threshold, show) is then the task's own, as for one tagger. The members must share
their task: the same tags, scheme, output and type renaming; features and sizes may differ.
"""

import os
from dataclasses import replace

import numpy as np

from rnnkit.data.batching import make_batches
from rnnkit.errors import RnnkitError
from rnnkit.ner.tagger import MAX_TOKENS, Prediction, Tagger, describe_model, token_lists
from rnnkit.ner.tasks import CRF_PARAMS

TINY = np.float32(1e-30)  # a probability read as this at least: log 0 would make the mean -inf


class Ensemble(Tagger):
    """members: Taggers of one task (see the module's docstring); threshold and show as a
    Tagger takes them, the ensemble's own (the members' are not used)."""

    def __init__(self, members, threshold=0.5, show=None, names=None):
        members = list(members)
        if not members or not all(isinstance(m, Tagger) for m in members):
            raise TypeError("an ensemble is a non-empty list of Taggers")
        if any(isinstance(m, Ensemble) for m in members):
            raise TypeError("an ensemble's members are Taggers, not ensembles")
        names = list(names) if names is not None else [f"member {k}" for k in range(len(members))]
        first = members[0].task
        for member, name in zip(members[1:], names[1:]):
            if not _same_task(member.task, first):
                raise RnnkitError(
                    f"{name}: its task ({_describe_task(member.task)}) is not that of "
                    f"{names[0]} ({_describe_task(first)}): an ensemble's members tag alike"
                )
        self.members, self.names = members, names
        super().__init__(None, None, first, {"members": names}, threshold, show)

    @classmethod
    def load(cls, paths, *, show=None, threshold=None):
        """The taggers `paths` name (each what Tagger.load takes), as one. show: the members'
        own if they all name the same types, else every type; threshold: 0.5 unless given."""
        paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        members = [Tagger.load(p) for p in paths]
        shown = {m.show for m in members}
        own = shown.pop() if len(shown) == 1 else None
        return cls(members, show=own, names=[describe_model(p) for p in paths])._given(
            show, threshold
        )

    def save(self, path, dtype=None, **meta):
        raise RnnkitError(
            f"{path}: an ensemble is not one model file; save each member, and load them "
            "with Ensemble.load([...])"
        )

    @property
    def spells(self):
        return False

    def model_outputs(self, sentences, batch_size=256, max_tokens=MAX_TOKENS):
        raise TypeError("an ensemble has no one model's outputs: ask each of its members")

    def pipe(self, texts, batch_size=64, workers=1):
        _one_process(workers)
        return super().pipe(texts, batch_size, workers)

    def tag_file(self, path, batch_size=64, workers=1):
        _one_process(workers)
        return super().tag_file(path, batch_size, workers)

    # -- predicting ------------------------------------------------------------------------
    def predict(self, sentences, batch_size=256, max_tokens=MAX_TOKENS):
        """As Tagger.predict: one Prediction per sentence, from the members' mean scores."""
        sentences = token_lists(sentences)
        mean = [None] * len(sentences)  # each sentence's Σ_k of the members' scores (T_i, n_y)
        for member in self.members:
            for index, y_hat, mask in member._batches(sentences, batch_size, max_tokens):
                scores = self._scores(y_hat)
                for row, i in enumerate(index):
                    s = scores[row, : int(mask[row].sum())]
                    mean[i] = s.copy() if mean[i] is None else mean[i] + s
        n = len(self.members)
        params = {
            k: np.mean([m.model.params[k] for m in self.members], axis=0)
            for k in (CRF_PARAMS if self.task.crf else ())
        }
        out = [None] * len(sentences)
        # decoded in batches cut as a tagger's are: at most batch_size sentences and
        # max(max_tokens, the longest) padded steps, so one long sentence pads no other
        lengths = [np.zeros(len(s), np.intp) for s in sentences]
        for batch in make_batches(lengths, None, batch_size, max_tokens=max_tokens):
            y_hat, mask = self._outputs([mean[i] / n for i in batch.index])
            decoded = self.task.decode_batch(y_hat, mask, params, self.threshold, self.show)
            for i, (tags, probs) in zip(batch.index, decoded):
                out[i] = Prediction(tags, probs)
        return out

    def _scores(self, y_hat):
        """What the ensemble averages of a member's ŷ: a CRF's scores as they are, log ŷ of a
        softmax, logit ŷ of a sigmoid (float64, so that the mean of many is exact enough)."""
        y = np.asarray(y_hat, dtype=np.float64)
        if self.task.output == "linear":
            return y
        p = np.maximum(y, TINY)
        if self.task.output == "softmax":
            return np.log(p)
        return np.log(p) - np.log(np.maximum(1 - y, TINY))

    def _outputs(self, rows):
        """The mean scores of some sentences (a list of (T_i, n_y)) as one padded batch of
        what the task decodes: ŷ (m, T, n_y) and mask (m, T)."""
        T = max(len(r) for r in rows)
        n_y = rows[0].shape[1]
        mask = np.arange(T) < np.array([len(r) for r in rows])[:, None]
        z = np.zeros((len(rows), T, n_y))
        for i, r in enumerate(rows):
            z[i, : len(r)] = r
        if self.task.output == "linear":
            return z, mask
        if self.task.output == "softmax":
            e = np.exp(z - z.max(axis=2, keepdims=True))
            return e / e.sum(axis=2, keepdims=True), mask
        return 1 / (1 + np.exp(-z)), mask


def _same_task(a, b):
    """Whether two tasks tag alike, whatever decoding (viterbi or argmax) each was given."""
    return replace(a, decoding=b.decoding) == b


def _describe_task(task):
    output = "a CRF" if task.crf else task.output
    return f"{task.name}, {output} over {', '.join(task.tags)}"


def _one_process(workers):
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > 1:
        raise ValueError(
            "an ensemble tags in one process (workers=1): each worker would load every member"
        )
