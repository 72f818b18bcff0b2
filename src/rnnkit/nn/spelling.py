"""The word-level RNN reading each word's spelling as well as its features.

For word t of a sentence, the character RNN (rnnkit.nn.chars) runs over its
characters and gives its spelling s<t> = [a→; a←] (2 n_c); the word-level RNN
(rnnkit.nn.model, built with n_s = 2 n_c) reads it beside x<t> in layer 1:

    s<t> = CharEncoder(the characters of word t)
    a<t> = g(W_aa a<t-1> + W_ax x<t> + W_as s<t> + b_a)

A word the vocabulary has never seen still has its letters: that is what a
name outside the 10,000 words is left with, in any casing.

Backpropagation through time runs in the word-level RNN down to dL/ds<t>, then
on through the characters of each distinct word of the batch, once.

At inference (`forward`) a word's spelling is remembered: text repeats its words (in
batches of 256 CoNLL-2003 valid sentences the distinct words of a batch are 36% of its
tokens: `benchmarks/bench_chars.py --batch 256`; and the next batch holds mostly the same
words), and a remembered word skips its characters. The word-level RNN then gets the batch's
distinct spellings as a table and each token's row in it (RNN.forward's s_index), so W_as s
too is computed once per distinct word, not per token. The memory
is keyed by the character RNN's weights, so a change to them (a training step, the
averaged weights swapped in) forgets it. Its vectors are computed in float64 and rounded to
the model's float32, so that a word's spelling does not depend on the words computed beside it
(`_exact_encoder`): what a process writes does not depend on what it tagged before.
"""

import numpy as np

from rnnkit.nn.chars import CharEncoder, CharVocab, distinct_words, token_mask
from rnnkit.nn.model import RNN


def _memo_key(word):
    """The word, or for one longer than the spelling reads, the characters it reads: the memory
    keeps 64 characters of a pasted million-character token, not the million (same spelling)."""
    if len(word) <= CharVocab.MAX_CHARS:
        return word
    return CharVocab.read(word)


def _longest(pair):
    return -len(pair[0])


class SpellingRNN:
    """An RNN (config.n_s = 2 n_c) and the CharEncoder and CharVocab that give its s<t>.

    params: one dict of the live arrays of both (the word-level RNN's names, then the
    encoder's `*.char.*`), what optimisers, checkpoints and model files hold; other names a
    task adds (a CRF's) live here too. `forward` and `loss_and_grads` take the batch's tokens
    as `words` (m lists of strings, row i the tokens of x's row i).
    """

    def __init__(self, rnn, encoder, vocab):
        if rnn.n_s != 2 * encoder.n_c:
            raise ValueError(
                f"the RNN reads n_s = {rnn.n_s} inputs, the spelling has {2 * encoder.n_c}"
            )
        if len(vocab) != encoder.n_chars:
            raise ValueError(
                f"{len(vocab)} characters in the vocabulary, {encoder.n_chars} in the encoder"
            )
        self.rnn, self.encoder, self.vocab = rnn, encoder, vocab
        self.params = {**rnn.params, **encoder.params}
        self._memo, self._memo_weights = {}, None  # word -> s (2 n_c,), for these weights
        # the encoder in float64 that computes the memory's vectors, and the weights it copies
        self._exact, self._exact_of = None, None

    WORDS_KEPT = 1 << 17  # spellings remembered (26 MB at n_c = 25); beyond, memory starts anew
    CHUNK_STEPS = 1 << 16  # characters (with padding) the character RNN runs over at once

    @classmethod
    def build(cls, config, vocab, n_c, seed=0):
        """A new model: RNN.from_config(config with n_s = 2 n_c) and a CharEncoder over vocab,
        both drawn from seed."""
        rnn = RNN.from_config(config.replace(n_s=2 * n_c), seed=seed)
        encoder = CharEncoder(len(vocab), n_c, config.activation, seed=seed, dtype=config.dtype)
        return cls(rnn, encoder, vocab)

    def __getattr__(self, name):  # the word-level model's settings: config, n_y, dtype, ...
        if name in ("rnn", "encoder", "vocab", "params"):
            raise AttributeError(name)
        return getattr(self.rnn, name)

    def folded(self):
        """This model with its RNN's embedding multiplied out (RNN.folded), for inference: the
        same encoder, a memory of spellings of its own. A model without E is itself."""
        rnn = self.rnn.folded()
        return self if rnn is self.rnn else SpellingRNN(rnn, self.encoder, self.vocab)

    def spelling(self, words, T, compiled=False):
        """s (m, T, 2 n_c) of the tokens `words`, 0 at padded steps, and its cache."""
        return self.encoder.encode_tokens(self.vocab, words, T, compiled)

    def forward(self, x, mask=None, *, words):
        """RNN.forward on x and the spelling of `words` (remembered from earlier calls): each
        distinct word's s once, as a table and each token's row in it (RNN.forward's s_index)."""
        table, index = self.remembered_table(words, np.shape(x)[1])
        return self.rnn.forward(x, mask, s=table, s_index=index)

    def forget(self):
        """Drop the remembered spellings (they are recomputed as words come)."""
        self._memo, self._memo_weights = {}, None

    def remembered_spelling(self, words, T):
        """s (m, T, 2 n_c) as `spelling` gives it, the words met before taken from memory."""
        table, index = self.remembered_table(words, T)
        return np.take(table, index, axis=0)

    def remembered_table(self, words, T):
        """(table, index): row 0 zero, then the spellings of the distinct words of `words`
        ((1 + n, 2 n_c)), and (m, T) each token's row (0 at padded steps); the words met before
        are taken from memory."""
        # The weights as stored ("A": no transposing copy of the column-major ones), one by one
        weights = [p.tobytes("A") for p in self.encoder.params.values()]
        if weights != self._memo_weights or len(self._memo) > self.WORDS_KEPT:
            self._memo, self._memo_weights = {}, weights
        memo = self._memo
        distinct, which = distinct_words(words)
        keys = [_memo_key(w) for w in distinct]
        todo = {k: w for k, w in zip(keys, distinct) if k not in memo}
        ids = sorted(((self.vocab.ids(w), k) for k, w in todo.items()), key=_longest)
        while ids:  # longest first, in chunks whose padded steps stay under CHUNK_STEPS
            n = max(1, self.CHUNK_STEPS // len(ids[0][0]))
            chunk, ids = ids[:n], ids[n:]
            vectors, _ = self._exact_encoder(weights).encode([i for i, _ in chunk], compiled=True)
            memo.update(zip((k for _, k in chunk), vectors.astype(self.encoder.dtype)))
        table = np.empty((1 + len(distinct), 2 * self.encoder.n_c), self.encoder.dtype)
        table[0] = 0
        if distinct:
            table[1:] = [memo[k] for k in keys]
        which += 1
        if len(which) == len(words) * T:  # no padding (one sentence, or all of length T)
            return table, which.reshape(len(words), T)
        index = np.zeros((len(words), T), np.intp)
        index[token_mask(words, T)] = which
        return table, index

    def _exact_encoder(self, weights):
        """The encoder with its weights in float64, which gives the spellings the memory keeps;
        weights: the encoder's, as remembered_table reads them.

        A BLAS product's row may differ in its last bit with the number of rows multiplied with
        it (OpenBLAS on this project's machine: every row count gives some other bits), so a
        word's float32 spelling would depend on the words computed beside it, and a process's
        output on what it tagged before: `rnnkit tag` with 2 workers wrote a few probabilities
        1e-4 apart from one process's. In float64 the rows still differ, by some 1e-16, which
        rounding to float32 erases but for about one value in 10^8."""
        if self._exact is None or weights != self._exact_of:
            e = self.encoder
            self._exact = CharEncoder(e.n_chars, e.n_c, e.activation, dtype=np.float64)
            for name, p in e.params.items():
                self._exact.params[name][...] = p  # into the views of its column-major W_a
            self._exact_of = weights
        return self._exact

    def loss_and_grads(self, x, y, mask=None, *, words, **options):
        """RNN.loss_and_grads (same options), its gradients carried on into the characters."""
        s, cache = self.spelling(words, np.shape(x)[1])
        loss, grads, d_s = self.rnn.loss_and_grads(x, y, mask, s=s, **options)
        grads.update(self.encoder.backward_tokens(cache, d_s))
        return loss, grads

    # -- the model file's header -------------------------------------------------------------
    def to_meta(self):
        return {"n_c": self.encoder.n_c, **self.vocab.to_dict()}

    @classmethod
    def from_meta(cls, config, meta):
        """The model a header's "chars" entry and RNNConfig describe (weights to be loaded)."""
        vocab = CharVocab.from_dict(meta)
        return cls.build(config, vocab, int(meta["n_c"]))
