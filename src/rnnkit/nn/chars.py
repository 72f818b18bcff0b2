"""A word's spelling: the lecture's RNN run over its characters, in both directions.

For the characters c<1..L> of a word, framed by a begin marker c<0> and an end
marker c<L+1>, two chains of the lecture's recurrence run over the characters:

    a→<s> = g(W_aa.char.fwd a→<s-1> + W_ax.char.fwd c<s> + b_a.char.fwd),  s = 0..L+1
    a←<s> = g(W_aa.char.bwd a←<s+1> + W_ax.char.bwd c<s> + b_a.char.bwd),  s = L+1..0

both from a = 0, and the word's spelling vector is [a→<L+1>; a←<0>] (2 n_c), the
state of each chain after it has read the whole word. c<s> is a one-hot
character id (W_ax c<s> is the column W_ax[:, c<s>]), as the word-level model
reads word ids. The loops over the characters, forward and backward, are
recurrence.rnn_forward and rnn_backward, the word-level model's own.

Reference, one word at a time (tests/nn/test_chars.py runs it)::

    for chain, reverse in (("fwd", False), ("bwd", True)):
        a = zeros(n_c)
        for c in (reversed(ids) if reverse else ids):
            a = g(W_aa[chain] @ a + W_ax[chain][:, c] + b_a[chain])
        spelling.append(a)

Speed: a batch's words are encoded once each however often they occur
(`encode_tokens`), and sorted longest first so that at character s the words
still running are the first rows, the case where the loop over time works on
those rows alone (recurrence.running_rows): padding then costs nothing in the loop.
At inference (compiled=True) the loop may be kernels.rnn_forward, the word-level
model's compiled loop, under the same conditions (float32, Numba, once it pays).
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnnkit.nn import kernels
from rnnkit.nn.activations import G
from rnnkit.nn.recurrence import rnn_backward, rnn_forward, running_rows
from rnnkit.nn.sparse import ColumnGrad, group_ids, segment_sum
from rnnkit.normalise import lookup_form

DIRECTIONS = ("fwd", "bwd")


class CharVocab:
    """Character ids: 0 UNK (a character not seen in training), 1 the begin marker, 2 the end
    marker, then the known characters. Words are read in their lookup form (rnnkit.normalise:
    NFC, and a few typed forms read as ASCII), so that "é" typed as one code point or as "e" +
    accent is the same character, and "Ｊ" is "J"."""

    UNK, BOW, EOW = 0, 1, 2
    SPECIALS = 3
    # A word's spelling reads its first MAX_CHARS characters: no name is longer, and a token of
    # a million characters (a pasted blob) must not cost a million steps and their memory.
    MAX_CHARS = 64

    def __init__(self, chars):
        self.chars = list(chars)
        if len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise ValueError("a CharVocab's chars must be distinct single characters")
        self.index = {c: i + self.SPECIALS for i, c in enumerate(self.chars)}
        self._ids = {}  # word -> its ids: words repeat, and the vocabulary never changes

    IDS_KEPT = 1 << 17  # words whose ids are remembered; beyond them, the memo starts anew

    @classmethod
    def build(cls, words, min_count=1):
        """The characters occurring at least min_count times in `words` (training words), most
        frequent first (ties in first-seen order)."""
        counts = Counter(c for w in words for c in lookup_form(w))
        return cls(c for c, k in counts.most_common() if k >= min_count)

    def __len__(self):
        """n_chars, the size of the one-hot character vectors."""
        return len(self.chars) + self.SPECIALS

    @classmethod
    def read(cls, word):
        """The characters of `word` that its spelling reads: its lookup form's first MAX_CHARS."""
        return lookup_form(word)[: cls.MAX_CHARS]

    def ids(self, word):
        """[BOW, c<1>, ..., c<L>, EOW]: (L + 2,) int ids of one word, L <= MAX_CHARS."""
        ids = self._ids.get(word)
        if ids is None:
            get, unk = self.index.get, self.UNK
            chars = [get(c, unk) for c in self.read(word)]
            ids = np.array([self.BOW, *chars, self.EOW], np.intp)
            ids.flags.writeable = False  # shared by every call for the word
            if len(self._ids) >= self.IDS_KEPT:
                self._ids.clear()
            if len(word) <= self.MAX_CHARS:  # a million-character token is not kept
                self._ids[word] = ids
        return ids

    def to_dict(self):
        """JSON-able: {"chars": "..."} (the known characters in id order, as one string)."""
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, d):
        return cls(d["chars"])


def distinct_words(sentences):
    """A batch's distinct words in first-seen order, and which (N,): the distinct word at each
    token, the tokens in (m, T) row order. Tokens get their word's vector by `vectors[which]`."""
    index = {}  # word -> its row among the distinct words
    which = np.fromiter((index.setdefault(w, len(index)) for s in sentences for w in s), np.intp)
    return list(index), which


def token_mask(sentences, T):
    """(m, T) bool: the real tokens of m right-padded sentences."""
    return np.arange(T) < np.fromiter(map(len, sentences), np.intp, len(sentences))[:, None]


@dataclass
class CharCache:
    """What `CharEncoder.encode` keeps for backpropagation; the words sorted longest first."""

    order: np.ndarray  # (n_words,) the input position of the j-th longest word
    lengths: np.ndarray  # (n_words,) ids per word, longest first
    ids: np.ndarray  # (S, n_words) character ids, time-major, right-padded with 0
    mask_tm: np.ndarray | None  # (S, n_words) real characters; None when none is padding
    states: list  # [a→, a←], each (S, n_words, n_c)


@dataclass
class TokensCache:
    """What `CharEncoder.encode_tokens` keeps: the distinct words' cache and where they occur."""

    words: CharCache
    n_words: int  # distinct words in the batch
    which: np.ndarray  # (N,) the distinct word at each real token, tokens in (m, T) row order
    mask: np.ndarray  # (m, T) bool, the real tokens


class CharEncoder:
    """The character-level bidirectional RNN of the lecture's recurrence.

    params: dict of the live arrays, for d in ("fwd", "bwd"):
        W_aa.char.{d} (n_c, n_c), W_ax.char.{d} (n_c, n_chars), b_a.char.{d} (n_c,),
    drawn from U(-1/√n_c, 1/√n_c) as nn.RNN draws them (fwd before bwd, in that order).
    config: the JSON-able arguments that rebuild it (CharEncoder(**config)).
    """

    def __init__(self, n_chars, n_c, activation="tanh", seed=0, dtype=np.float32):
        if activation not in G:
            raise ValueError(f"activation must be one of {sorted(G)}, not {activation!r}")
        for name, value in (("n_chars", n_chars), ("n_c", n_c)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        self.n_chars, self.n_c, self.activation = int(n_chars), int(n_c), activation
        self.dtype = np.dtype(dtype)
        self.config = {
            "n_chars": self.n_chars,
            "n_c": self.n_c,
            "activation": activation,
            "dtype": self.dtype.name,
        }
        rng = np.random.default_rng(seed)
        k = 1 / np.sqrt(n_c)
        self.params = {}
        for d in DIRECTIONS:
            # W_a = [W_aa | W_ax] column-major, as the word-level chains keep it: a character's
            # column of W_ax is contiguous for the gather.
            W_a = np.asfortranarray(rng.uniform(-k, k, (n_c, n_c + n_chars)).astype(self.dtype))
            self.params[f"W_aa.char.{d}"] = W_a[:, :n_c]
            self.params[f"W_ax.char.{d}"] = W_a[:, n_c:]
            self.params[f"b_a.char.{d}"] = rng.uniform(-k, k, n_c).astype(self.dtype)

    def _chain(self, d):
        p = self.params
        return p[f"W_aa.char.{d}"], p[f"W_ax.char.{d}"], p[f"b_a.char.{d}"]

    # -- forward ---------------------------------------------------------------
    def encode(self, words, compiled=False):
        """The spelling vectors of words given as character ids (CharVocab.ids: markers
        included), each word computed as if alone.

        words: sequence of n_words non-empty int arrays in [0, n_chars).
        compiled: let the loops take the Numba kernel where it applies (inference only, so that
        training never loads Numba; see kernels).
        Returns spelling (n_words, 2 n_c) = [a→ at the last id; a← at the first id], and a
        CharCache for `backward`.
        """
        m = len(words)
        lengths = np.fromiter((len(w) for w in words), np.intp, m)
        if m and lengths.min() < 1:
            raise ValueError(
                "every word needs at least one character id (CharVocab.ids adds markers)"
            )
        order = np.argsort(-lengths, kind="stable")  # longest first: the running-rows loop
        lengths = lengths[order]
        S = int(lengths[0]) if m else 0
        mask_mt = np.arange(S) < lengths[:, None]  # (n_words, S)
        ids_mt = np.zeros((m, S), np.intp)
        if m:
            ids_mt[mask_mt] = np.concatenate([words[i] for i in order])
            if ids_mt.min() < 0 or ids_mt.max() >= self.n_chars:
                raise ValueError(f"character ids must lie in [0, n_chars = {self.n_chars})")
        ids = np.ascontiguousarray(ids_mt.T)  # (S, n_words)
        mask_tm = None if mask_mt.all() else np.ascontiguousarray(mask_mt.T)
        rows = self._kernel_rows(S, m, mask_tm) if compiled else None
        states = []
        for d in DIRECTIONS:
            W_aa, W_ax, b_a = self._chain(d)
            a = None
            if rows is not None:
                try:
                    a = kernels.rnn_forward(ids, W_ax, b_a, W_aa, self.activation, rows, d == "bwd")
                except kernels.KernelFailed:  # the optional kernel broke: NumPy gives the same
                    rows = None
            if a is None:
                a = np.take(W_ax.T, ids, axis=0)  # W_ax c<s>: column gather, (S, n_words, n_c)
                a += b_a
                a = rnn_forward(a, W_aa, self.activation, mask_tm, reverse=d == "bwd")
            states.append(a)
        a_fwd, a_bwd = states
        spelling = np.empty((m, 2 * self.n_c), self.dtype)
        if m:
            spelling[order, : self.n_c] = a_fwd[lengths - 1, np.arange(m)]  # a→ after the last id
            spelling[order, self.n_c :] = a_bwd[0]  # a← after the first id
        return spelling, CharCache(order, lengths, ids, mask_tm, states)

    def _kernel_rows(self, S, m, mask_tm):
        """n<s> (S,) for kernels.rnn_forward if it can take these words (float32 or float64,
        Numba) and loading it pays, else None. Sorted longest first, the running words are the
        first rows."""
        dtype_ok = self.dtype.name in ("float32", "float64")
        if not kernels.available or not dtype_ok or not kernels.wanted(S):
            return None
        return np.array([m] * S if mask_tm is None else running_rows(mask_tm), np.intp)

    def encode_tokens(self, vocab, sentences, T=None, compiled=False):
        """The spelling of every token of a batch of sentences, each distinct word encoded once.

        vocab: the CharVocab of this encoder (len(vocab) == n_chars).
        sentences: m lists of token strings; T: the padded length (default: the longest).
        compiled: as for `encode`.
        Returns spelling (m, T, 2 n_c), 0 at padded steps, and a TokensCache for
        `backward_tokens`.
        """
        m = len(sentences)
        lengths = np.fromiter((len(s) for s in sentences), np.intp, m)
        T = int(lengths.max(initial=0)) if T is None else T
        if m and lengths.max() > T:
            raise ValueError(f"a sentence has {lengths.max()} tokens, more than T = {T}")
        words, which = distinct_words(sentences)
        spelling_u, cache = self.encode([vocab.ids(w) for w in words], compiled)
        mask = token_mask(sentences, T)
        spelling = np.zeros((m, T, 2 * self.n_c), self.dtype)
        spelling[mask] = spelling_u[which]  # scatter: each token gets its word's vector
        return spelling, TokensCache(cache, len(words), which, mask)

    # -- backpropagation through the characters --------------------------------
    def backward(self, cache, d_spelling):
        """dL/dθ for every parameter (the keys and shapes of params) from dL/d spelling
        (n_words, 2 n_c), the words in `encode`'s order."""
        m, n_c = len(cache.order), self.n_c
        d_sorted = np.asarray(d_spelling, self.dtype)[cache.order]  # longest first, as the cache
        real = (slice(None), slice(None)) if cache.mask_tm is None else cache.mask_tm
        ids = cache.ids[real].reshape(-1)  # the real characters' ids, and their runs by id
        groups = group_ids(ids)  # for dW_ax of both chains
        grads = {}
        for i, (direction, a) in enumerate(zip(DIRECTIONS, cache.states)):
            W_aa, W_ax, _ = self._chain(direction)
            da = np.zeros_like(a)  # dL/da<s>: only the state after the whole word is read
            d_final = d_sorted[:, i * n_c : (i + 1) * n_c]
            if direction == "fwd":
                da[cache.lengths - 1, np.arange(m)] = d_final  # a→ after the last id
            elif m:
                da[0] = d_final  # a← after the first id
            dz, grads[f"W_aa.char.{direction}"], _ = rnn_backward(
                da, a, W_aa, self.activation, cache.mask_tm, reverse=direction == "bwd"
            )
            grads[f"b_a.char.{direction}"] = dz.reshape(-1, n_c).sum(axis=0)
            # dW_ax = sum_s dz<s> c<s>^T: each real character's dz added to its column
            dW_ax = ColumnGrad.from_contributions(
                None, dz[real].reshape(-1, n_c), W_ax.shape, groups
            )
            grads[f"W_ax.char.{direction}"] = dW_ax.to_dense().astype(self.dtype, copy=False)
        return {k: grads[k] for k in self.params}

    def backward_tokens(self, cache, d_spelling):
        """dL/dθ from dL/d spelling (m, T, 2 n_c) of `encode_tokens`: the gradients of a word's
        occurrences are summed, then backpropagated through its characters once."""
        rows = np.asarray(d_spelling)[cache.mask]  # (N, 2 n_c), the real tokens
        order, starts, _ = group_ids(cache.which)  # every distinct word occurs: ids 0..n-1
        return self.backward(cache.words, segment_sum(rows[order], starts))
