"""Padded mini-batches of sentences of similar length."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# With an rng, sentences are sorted by length within pools of this many batches:
# pools large enough that neighbours in a pool have nearly equal lengths, while the
# pools themselves (and the batch order) are random.
POOL_BATCHES = 50


@dataclass
class Batch:
    """B sentences right-padded to the longest, T.

    x: int64 (B, T, K) feature ids, or (B, T) when K == 1 (also when the inputs
    were 1-D); padding is id 0. y: int64 (B, T) labels, padding 0; None when
    no labels were given. mask: bool (B, T), True at real steps. index: int64
    (B,), the positions of the sentences in the list given to make_batches.
    """

    x: np.ndarray
    y: np.ndarray | None
    mask: np.ndarray
    index: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """Sentence lengths, (B,)."""
        return self.mask.sum(axis=1)


def check_count(name, n):
    """ValueError unless n is a whole number >= 1, naming it: 1.5 and True are not counts (True
    was taken for 1, 1.5 cut batches of one and a half), and "2" is one error, not a failed
    comparison of str with int."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {n!r}")


def make_batches(
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray] | None,
    batch_size: int,
    rng: np.random.Generator | None = None,
    max_tokens: int | None = None,
) -> list[Batch]:
    """Cut sentences into padded batches of at most ``batch_size`` sentences.

    xs: per sentence (T_i, K) or (T_i,) int ids; ys: per sentence (T_i,) int labels,
    or None. Without ``rng`` sentences are sorted by length (ties by position) and
    batched in that order -- deterministic, least padding, for evaluation. With
    ``rng`` they are shuffled, sorted by length within pools of POOL_BATCHES
    batches, and the batches shuffled: random order, little padding; the same
    rng state gives the same batches. Every sentence is in exactly one batch.

    ``max_tokens`` (without ``rng``) also bounds a batch's padded size B * T: a batch
    holds at most max(max_tokens, its longest sentence) steps, so one very long
    sentence is batched alone instead of padding a whole batch to its length.
    """
    check_count("batch_size", batch_size)
    if max_tokens is not None:
        check_count("max_tokens", max_tokens)
        if rng is not None:
            raise ValueError("max_tokens goes without rng: shuffled batches are not bounded")
    if ys is not None and len(ys) != len(xs):
        raise ValueError(f"{len(xs)} inputs but {len(ys)} label sequences")
    xs = [x if x.ndim == 2 else x.reshape(-1, 1) for x in map(np.asarray, xs)]
    widths = {x.shape[1] for x in xs}
    if len(widths) > 1:
        raise ValueError(f"inputs have different numbers of feature columns: {sorted(widths)}")
    lengths = np.array([len(x) for x in xs], dtype=np.int64)
    if ys is not None:
        for i, (x, y) in enumerate(zip(xs, ys)):
            if len(y) != len(x):
                raise ValueError(f"sentence {i}: {len(x)} inputs but {len(y)} labels")

    k = widths.pop() if widths else 1
    if len(xs) == 1 and rng is None:  # one sentence (a request to a server): nothing to sort
        x = np.array(xs[0], np.int64)[None]
        y = None if ys is None else np.array(ys[0], np.int64)[None]
        mask = np.ones(x.shape[:2], bool)
        return [Batch(x=x[:, :, 0] if k == 1 else x, y=y, mask=mask, index=np.zeros(1, np.int64))]
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        if max_tokens is None:
            chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        else:
            chunks = _by_budget(order, lengths, batch_size, max_tokens)
    else:
        perm = rng.permutation(len(xs))
        pool = batch_size * POOL_BATCHES
        chunks = []
        for p in range(0, len(perm), pool):
            members = perm[p : p + pool]
            members = members[np.argsort(lengths[members], kind="stable")]
            chunks += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]

    return [_pad(xs, ys, lengths, idx, k) for idx in chunks]


def _by_budget(order, lengths, batch_size, max_tokens):
    # Sentences sorted by length: the one just added is a batch's longest, T, and the
    # batch grows while B * T stays within the budget (or holds that one sentence alone).
    chunks, start = [], 0
    for end in range(1, len(order) + 1):
        size = end - start
        if size > batch_size or (size > 1 and size * lengths[order[end - 1]] > max_tokens):
            chunks.append(order[start : end - 1])
            start = end - 1
    if start < len(order):
        chunks.append(order[start:])
    return chunks


def _pad(xs, ys, lengths, idx: np.ndarray, k: int) -> Batch:
    # Longest first: the time loop then works on a shrinking prefix of the rows.
    idx = idx[np.argsort(-lengths[idx], kind="stable")]
    t = int(lengths[idx].max())
    x = np.zeros((len(idx), t, k), dtype=np.int64)
    y = None if ys is None else np.zeros((len(idx), t), dtype=np.int64)
    mask = np.arange(t) < lengths[idx][:, None]
    for row, i in enumerate(idx):
        x[row, : lengths[i]] = xs[i]
        if y is not None:
            y[row, : lengths[i]] = ys[i]
    return Batch(x=x[:, :, 0] if k == 1 else x, y=y, mask=mask, index=idx.astype(np.int64))
