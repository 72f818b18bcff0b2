"""The tagging tasks: what y<t> is, and how ŷ<t> becomes tags.

per  the lecture's: one sigmoid output, y<t> = 1 when word t is part of a person's
     name. A predicted person is a maximal run of tokens with ŷ<t> >= 0.5; gold
     persons are read the same way from the gold labels, and both are written as
     B-PER/I-PER/O tags.
bio  all four CoNLL-2003 types: 9 BIO tags, one softmax output over them; spans
     follow conlleval's rules.
"""

from dataclasses import dataclass

import numpy as np

from rnnkit.ner.schemes import binary_to_bio

BIO_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC")


@dataclass(frozen=True)
class Task:
    name: str
    output: str
    tags: tuple

    @property
    def n_y(self):
        return 1 if self.name == "per" else len(self.tags)

    def labels(self, tags):
        """Gold IOB2 tags -> y (T,): 0/1 for per, tag ids for bio. Unknown tags raise KeyError."""
        if self.name == "per":
            return np.array([t.endswith("-PER") for t in tags], dtype=np.int64)
        index = {t: i for i, t in enumerate(self.tags)}
        return np.array([index[t] for t in tags], dtype=np.int64)

    def gold_tags(self, tags):
        """The gold tags as this task sees them (per: B-PER/I-PER runs of person tokens)."""
        return binary_to_bio(self.labels(tags)) if self.name == "per" else list(tags)

    def decode(self, y_hat):
        """ŷ (T, n_y) of one sentence -> (tags, prob of each predicted label (T,))."""
        if self.name == "per":
            p = y_hat[:, 0]
            person = p >= 0.5
            return binary_to_bio(person), np.where(person, p, 1 - p)
        best = y_hat.argmax(axis=1)
        return [self.tags[i] for i in best], y_hat[np.arange(len(best)), best]


TASKS = {
    "per": Task("per", "sigmoid", ("O", "B-PER", "I-PER")),
    "bio": Task("bio", "softmax", BIO_TAGS),
}
