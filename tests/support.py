"""What tests share besides fixtures: the synthetic corpus, the bad-file fixtures, paths, and
the check of a one-line CLI error. (A module of its own, not conftest.py: tests/serve has a
conftest of its own, and two modules named conftest cannot both be imported by name.)"""

import os
import signal
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"

# Bad CoNLL fixtures under tests/fixtures/conll:
# (file, line the error names (None: the whole file), words in it)
BAD_CONLL = [
    ("empty.txt", None, "no sentences"),
    ("docstart_only.txt", None, "no sentences"),
    ("bad_columns.txt", 4, "expected 4 columns"),
    ("one_column.txt", 1, "at least 2 columns"),
    ("bad_tag.txt", 5, "'E-PER'"),
    ("non_utf8.txt", 3, "UTF-8"),
]

FIRST = ["Teddy", "Harry", "Hermione", "Peter", "Anna", "Boris", "Maria", "John", "Ivan", "Lena"]
LAST = [
    "Roosevelt",
    "Potter",
    "Granger",
    "Blackburn",
    "Smith",
    "Jones",
    "Ivanov",
    "Garcia",
    "Brown",
]
PLACES = ["Paris", "London", "Berlin", "Moscow", "Madrid", "Tokyo"]
ORGS = ["Reuters", "Ajax", "Siemens", "Fiat"]
WORDS = [
    "the",
    "a",
    "said",
    "was",
    "great",
    "bears",
    "on",
    "sale",
    "in",
    "visited",
    "team",
    "today",
]


def synthetic_sentences(n, seed):
    """Sentences with people, places and organisations in a few templates, IOB2-tagged."""
    rng = np.random.default_rng(seed)

    def pick(xs):
        return xs[rng.integers(len(xs))]

    out = []
    for _ in range(n):
        kind = rng.integers(4)
        person = [(pick(FIRST), "B-PER"), (pick(LAST), "I-PER")]
        filler = [(pick(WORDS), "O") for _ in range(rng.integers(1, 4))]
        if kind == 0:
            s = person + [("said", "O")] + filler + [(".", "O")]
        elif kind == 1:
            s = (
                [("He", "O"), ("said", "O"), (",", "O"), ('"', "O")]
                + person
                + filler
                + [(".", "O"), ('"', "O")]
            )
        elif kind == 2:
            s = (
                [(pick(FIRST), "O"), ("bears", "O")]
                + filler
                + [("in", "O"), (pick(PLACES), "B-LOC"), (".", "O")]
            )
        else:
            s = (
                [(pick(ORGS), "B-ORG")]
                + filler
                + [("in", "O"), (pick(PLACES), "B-LOC"), (".", "O")]
            )
        out.append(s)
    return out


def write_corpus(path, n, seed):
    lines = ["-DOCSTART- -X- -X- O", ""]
    for s in synthetic_sentences(n, seed):
        lines += [f"{w} NN O {t}" for w, t in s] + [""]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def one_line_error(err, *words):
    """The CLI's promise for a user error: one line on stderr, no traceback, saying what's wrong."""
    err = err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


FIXTURES = Path(__file__).resolve().parent / "fixtures"


class InterruptAt:
    """A progress bar that sends the process SIGINT once, after a given number of batches."""

    def __init__(self, after):
        self.after, self.seen = after, 0

    def __call__(self, total, desc):
        return self

    def update(self, n, **postfix):
        self.seen += n
        if self.seen == self.after:
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        pass


def torch_loss(rnn, linear, x, y, lengths, output):
    """rnnkit's loss computed by PyTorch, with packed sequences, for an nn.RNN or nn.GRU and
    an nn.Linear: (loss, the top layer's a, ŷ zeroed at padded steps)."""
    import torch

    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    out, _ = rnn(packed)
    a, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    logits = linear(a)
    mask = torch.arange(x.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
    if output == "softmax":
        L = torch.nn.functional.cross_entropy(logits[mask], y[mask], reduction="sum")
        y_hat = torch.softmax(logits, -1)
    else:
        L = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[mask], y[mask], reduction="sum"
        )
        y_hat = torch.sigmoid(logits)
    return L / mask.sum(), a, y_hat * mask[..., None]


def random_targets(rng, output, n_y, shape):
    """Gold targets of an (m, T) batch: class ids for softmax, (m, T, 1) floats 0/1 for sigmoid."""
    if output == "softmax":
        return rng.integers(0, n_y, shape)
    return rng.integers(0, 2, (*shape, 1)).astype(float)


def assert_equal_to_torch(model, x, y, mask, rnn, linear, t_x=None):
    """Our loss, top-layer states and ŷ on (x, y, mask) equal those of PyTorch's (rnn, linear)
    on t_x (a tensor; default x itself), with padded steps packed away. PyTorch's backward has
    run, so its parameters hold their gradients, to compare with ours, which are returned."""
    import torch

    loss, grads = model.loss_and_grads(x, y, mask)
    y_hat, a = model.forward(x, mask)
    t_x = torch.tensor(x) if t_x is None else t_x
    t_loss, t_a, t_y_hat = torch_loss(
        rnn, linear, t_x, torch.tensor(y), mask.sum(axis=1), model.output
    )
    t_loss.backward()
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-10)
    np.testing.assert_allclose(a, t_a.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(y_hat, t_y_hat.detach().numpy(), rtol=1e-6, atol=1e-12)
    return grads


class FixedDropout:
    """The model with one dropout draw frozen, so that finite differences see one function."""

    def __init__(self, model, seed):
        self.model, self.seed, self.params = model, seed, model.params

    def loss_and_grads(self, x, y, mask=None):
        return self.model.loss_and_grads(x, y, mask, dropout_rng=np.random.default_rng(self.seed))


class OnS:
    """The model on one dense s<t> (a spelling), as gradcheck calls it; `ds` is dL/ds and
    `numeric_ds` its central differences."""

    def __init__(self, model, s):
        self.model, self.s, self.params = model, s, model.params

    def loss_and_grads(self, x, y, mask=None):
        return self.model.loss_and_grads(x, y, mask, s=self.s)[:2]

    def ds(self, x, y, mask=None):
        return self.model.loss_and_grads(x, y, mask, s=self.s)[2]

    def numeric_ds(self, x, y, mask=None, eps=1e-6):
        numeric = np.zeros_like(self.s)
        for idx in np.ndindex(self.s.shape):
            for sign in (1, -1):
                moved = self.s.copy()
                moved[idx] += sign * eps
                loss = self.model.loss_and_grads(x, y, mask, s=moved)[0]
                numeric[idx] += sign * loss / (2 * eps)
        return numeric


def assert_round_trip(rnn, linear):
    """A PyTorch (rnn, linear) of 5 inputs loaded by from_torch gives PyTorch's states, and
    exported again by to_torch gives them in PyTorch; returns the model and the exported pair."""
    import torch

    import rnnkit

    model = rnnkit.from_torch(rnn, linear, output="softmax")
    x = np.random.default_rng(0).normal(size=(2, 4, 5))
    t_a, _ = rnn(torch.tensor(x))
    np.testing.assert_allclose(model.forward(x)[1], t_a.detach().numpy(), rtol=1e-10)
    rnn2, linear2 = rnnkit.to_torch(model)
    t_a2, _ = rnn2(torch.tensor(x))
    np.testing.assert_allclose(t_a2.detach().numpy(), t_a.detach().numpy(), rtol=1e-10)
    return model, linear2
