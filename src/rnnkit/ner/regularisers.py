"""What training shows the model besides the data: sentences recased, inputs dropped out,
and averaged weights.

All are regularisers: they change what the model learns, never how a trained model
tags. Every random draw comes from the rng a training step passes in.
"""

from contextlib import contextmanager

import numpy as np

from rnnkit.data.vocab import UNK_ID


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
    p, alpha = config.word_dropout or 0.0, config.unk_alpha or 0.0  # None is off
    rate = p + alpha / (alpha + np.maximum(count, 1))
    rate[featurizer.word_unk_id] = 0
    return np.minimum(rate, 1.0)


def drop_inputs(x, featurizer, word_rate, feature_rate, rng, mask, entity=None, entity_rate=None):
    """x (m, T) or (m, T, K) with each real word shown as UNK with probability word_rate[word]
    (word_rate (n_x,) or None), and each other group's id as that group's UNK with probability
    feature_rate (None: never); mask (m, T) marks the real steps.

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


# The casings a recased sentence is shown in, one chosen per sentence: lowercase (chat),
# capitals (headlines), and each word capitalised (title case: first letter up, the rest down).
CASINGS = (str.lower, str.upper, str.capitalize)


def recase(x, index, tokens, featurizer, share, rng):
    """x (m, T) or (m, T, K) with each sentence, with probability `share`, shown in one of
    CASINGS, all equally likely: its ids encoded again from its recased tokens; and the m
    sentences' tokens as shown (for the spelling). index (m,): the sentences' positions in
    `tokens`, the training sentences' token lists.

    A model trained on edited text learns that names are capitalised; users write chat in
    lowercase and headlines in capitals (Mayhew et al. 2019: mixing cased and uncased training
    text keeps the cased score and recovers most of the uncased one). Both draws are made for
    every sentence, so the stream's use does not depend on the data.
    """
    shown = rng.random(len(index)) < share
    casing = rng.integers(len(CASINGS), size=len(index))
    words = [tokens[i] for i in index]
    if not shown.any():
        return x, words
    x = x.copy()
    for row in np.flatnonzero(shown):
        words[row] = [CASINGS[casing[row]](w) for w in words[row]]
        ids = featurizer.encode(words[row])  # (T_i, K)
        x[row, : len(words[row])] = ids if x.ndim == 3 else ids[:, 0]
    return x, words


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
    """Inside the block the model holds the averaged weights (no change when average is None)."""
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
