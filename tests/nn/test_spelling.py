"""The word-level RNN that reads each word's spelling: against central differences, against a
plain RNN whose dense input is [x<t>; s<t>], and stored and loaded as a tagger."""

import numpy as np
import pytest

import rnnkit
from rnnkit.nn import kernels
from rnnkit.nn.chars import CharVocab
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.gradcheck import gradcheck
from rnnkit.nn.spelling import SpellingRNN

SENTENCES = [  # repeated words, an unseen character (ç), padding
    ["Teddy", "said", "Teddy", "!"],
    ["François", "on", "sale"],
    ["Roosevelt", "bears", "Teddy", "are", "on"],
]
T, N_X = 5, 12
MASK = np.arange(T) < np.array([len(s) for s in SENTENCES])[:, None]


def make(output="sigmoid", n_y=1, layers=2, bidirectional=True, dtype="float64", seed=1):
    vocab = CharVocab.build(["Teddy", "Roosevelt", "said", "bears", "are", "on", "sale", "!"])
    config = RNNConfig(N_X, 4, n_y, output=output, layers=layers, bidirectional=bidirectional)
    return SpellingRNN.build(config.replace(dtype=dtype), vocab, n_c=3, seed=seed)


def ids(K, seed=0):
    x = np.random.default_rng(seed).integers(0, N_X, (len(SENTENCES), T, K))
    return x[..., 0] if K == 1 else x


class WithWords:
    """gradcheck's view of a SpellingRNN: loss_and_grads(x, y, mask) on SENTENCES."""

    def __init__(self, model):
        self.model, self.params = model, model.params

    def loss_and_grads(self, x, y, mask=None):
        return self.model.loss_and_grads(x, y, mask, words=SENTENCES)


@pytest.mark.parametrize(
    "output, n_y, layers, bidirectional, K",
    [("sigmoid", 1, 2, True, 3), ("softmax", 3, 1, False, 1), ("softmax", 3, 1, True, 2)],
)
def test_gradcheck_every_parameter_word_and_character(output, n_y, layers, bidirectional, K):
    model = make(output, n_y, layers, bidirectional)
    rng = np.random.default_rng(2)
    y = (
        rng.integers(0, 2, (*MASK.shape, 1)).astype(float)
        if n_y == 1
        else rng.integers(0, n_y, MASK.shape)
    )
    errors = gradcheck(WithWords(model), ids(K), y, MASK)
    names = {"W_as", "W_as.fwd", "W_as.bwd", "W_aa.char.fwd", "W_ax.char.bwd"}
    assert set(errors) == set(model.params) and names & set(errors)
    assert max(errors.values()) < 1e-6, errors


def test_W_as_is_the_columns_of_W_ax_for_s():
    """A model with n_s computes what a plain RNN computes on the dense input [one-hot(x); s]
    with W_ax = [W_ax | W_as]: outputs, and every gradient, W_ax's split in two; dL/ds equals
    central differences."""
    model = rnnkit.RNN(N_X, 4, 1, bidirectional=True, n_s=6, dtype=np.float64, seed=3)
    plain = rnnkit.RNN(N_X + 6, 4, 1, bidirectional=True, dtype=np.float64, seed=4)
    for d in ("fwd", "bwd"):
        plain.params[f"W_ax.{d}"][...] = np.hstack(
            [model.params[f"W_ax.{d}"], model.params[f"W_as.{d}"]]
        )
        for name in (f"W_aa.{d}", f"b_a.{d}"):
            plain.params[name][...] = model.params[name]
    plain.params["W_ya"][...] = model.params["W_ya"]
    rng = np.random.default_rng(5)
    x, s = ids(1), rng.normal(size=(len(SENTENCES), T, 6))
    dense = np.concatenate([np.eye(N_X)[x], s], axis=-1)
    y = rng.integers(0, 2, (*MASK.shape, 1)).astype(float)

    np.testing.assert_allclose(model.forward(x, MASK, s=s)[0], plain.forward(dense, MASK)[0])
    loss, grads, d_s = model.loss_and_grads(x, y, MASK, s=s)
    plain_loss, plain_grads = plain.loss_and_grads(dense, y, MASK)
    assert loss == pytest.approx(plain_loss, rel=1e-12)
    for name, g in plain_grads.items():
        if name.startswith("W_ax"):
            d = name.split(".")[1]
            got = np.hstack([grads[f"W_ax.{d}"], grads[f"W_as.{d}"]])
        else:
            got = grads[name]
        np.testing.assert_allclose(got, g, rtol=1e-10, atol=1e-13, err_msg=name)
    numeric = np.zeros_like(s)
    for idx in np.ndindex(s.shape):
        saved = s[idx]
        s[idx] = saved + 1e-6
        plus = model.loss_and_grads(x, y, MASK, s=s)[0]
        s[idx] = saved - 1e-6
        minus = model.loss_and_grads(x, y, MASK, s=s)[0]
        s[idx] = saved
        numeric[idx] = (plus - minus) / 2e-6
    np.testing.assert_allclose(d_s, numeric, rtol=1e-6, atol=1e-9)
    assert not d_s[~MASK].any()


def test_the_draws_of_a_model_without_s_are_kept():
    """W_as is drawn after everything else: the other weights are those of the same seed's
    model without it, so adding the spelling changes no existing model's identity."""
    a = rnnkit.RNN(N_X, 4, 2, layers=2, bidirectional=True, seed=7)
    b = rnnkit.RNN(N_X, 4, 2, layers=2, bidirectional=True, seed=7, n_s=6)
    assert set(b.params) - set(a.params) == {"W_as[1].fwd", "W_as[1].bwd"}  # W_ax[1] beside it
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_s_is_required_exactly_when_the_model_reads_it():
    with_s = rnnkit.RNN(N_X, 4, 1, n_s=6)
    without = rnnkit.RNN(N_X, 4, 1)
    x = ids(1)
    with pytest.raises(ValueError, match="give s"):
        with_s.forward(x, MASK)
    with pytest.raises(ValueError, match="no dense input s"):
        without.forward(x, MASK, s=np.zeros((3, T, 6)))
    with pytest.raises(ValueError, match=r"\(batch, T, n_s\) = \(3, 5, 6\)"):
        with_s.forward(x, MASK, s=np.zeros((3, T, 5)))
    with pytest.raises(ValueError, match="floats"):
        with_s.forward(x, MASK, s=np.zeros((3, T, 6), int))


@pytest.mark.parametrize("compiled", [False, True])
def test_s_as_a_table_and_each_steps_row_is_the_dense_s_it_stands_for(compiled, monkeypatch):
    """forward(s=table, s_index=index) reads s<t> = table[index[i, t]]: the same outputs as the
    dense s it stands for, whatever the rows at padded steps, in NumPy and in the kernel."""
    if compiled and not kernels.load():
        pytest.skip("needs numba (the bench extra)")
    monkeypatch.setattr(kernels, "wanted", lambda T: compiled)
    model = rnnkit.RNN(N_X, 4, 2, layers=2, bidirectional=True, seed=3, n_s=6, dtype="float32")
    rng = np.random.default_rng(0)
    table = rng.normal(size=(4, 6)).astype(np.float32)
    index = rng.integers(0, 4, (len(SENTENCES), T))
    dense = np.where(MASK[..., None], table[index], 0)
    x = ids(2)
    expected = model.forward(x, MASK, s=dense)
    index[~MASK] = 3  # padded steps: any row
    for got, want in zip(model.forward(x, MASK, s=table, s_index=index), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        model.forward(x, MASK, s=table, s_index=index + 1)
    with pytest.raises(ValueError, match=r"s_index must hold ints of shape \(batch, T\)"):
        model.forward(x, MASK, s=table, s_index=index[:, :2])
    with pytest.raises(ValueError, match=r"a float table \(rows, n_s = 6\)"):
        model.forward(x, MASK, s=table[:, :5], s_index=index)
    with pytest.raises(ValueError, match="s_index goes with s"):
        model.forward(x, MASK, s_index=index)


def test_a_words_spelling_is_what_the_model_reads():
    """forward(x, words=) is RNN.forward with s from the encoder, and the spelling of a token
    is its word's alone: the same word gets the same s<t> wherever it stands."""
    model = make(dtype="float32")
    x = ids(3)
    s, _ = model.encoder.encode_tokens(model.vocab, SENTENCES, T)
    np.testing.assert_allclose(  # the compiled loop may round differently in the last digit
        model.forward(x, MASK, words=SENTENCES)[0], model.rnn.forward(x, MASK, s=s)[0], rtol=1e-6
    )
    np.testing.assert_array_equal(s[0, 0], s[2, 2])  # "Teddy" twice


@pytest.mark.skipif(not kernels.available, reason="needs numba (the bench extra)")
def test_compiled_forward_with_s_equals_numpy(monkeypatch):
    model = make(dtype="float32")
    x = ids(3)
    assert kernels.load()
    monkeypatch.setattr(kernels, "wanted", lambda T: True)
    with_k = model.forward(x, MASK, words=SENTENCES)[0]
    monkeypatch.setattr(kernels, "available", False)
    np.testing.assert_allclose(with_k, model.forward(x, MASK, words=SENTENCES)[0], rtol=1e-5)


def test_sizes_must_agree():
    model = make()
    with pytest.raises(ValueError, match="n_s = 6 inputs, the spelling has 8"):
        SpellingRNN(model.rnn, type(model.encoder)(len(model.vocab), 4), model.vocab)
    with pytest.raises(ValueError, match="characters in the vocabulary"):
        SpellingRNN(model.rnn, type(model.encoder)(5, 3), model.vocab)


def test_to_torch_refuses_a_model_it_would_export_without_its_spelling():
    with pytest.raises(ValueError, match="n_s = 6"):
        rnnkit.to_torch(make())
    with pytest.raises(ValueError, match="n_s = 6"):
        rnnkit.to_torch(make().rnn)


@pytest.mark.parametrize("sentences", [SENTENCES[:1], [SENTENCES[0], SENTENCES[0][::-1]]])
def test_remembered_spellings_of_a_batch_without_padding(sentences):
    """A batch that fills its T steps (one sentence, or sentences of one length) takes a path
    of its own to each token's row: the same rows as `spelling` gives."""
    model = make(dtype="float32")
    s, _ = model.spelling(sentences, 4)
    table, index = model.remembered_table(sentences, 4)
    assert index.shape == (len(sentences), 4) and index.min() >= 1  # no row 0: no padding
    np.testing.assert_allclose(np.take(table, index, axis=0), s, rtol=1e-6, atol=1e-7)


def test_a_remembered_spelling_does_not_depend_on_the_words_computed_beside_it():
    """A word's spelling, computed alone or among thousands of other words, is the same float32
    bits: BLAS products (OpenBLAS here) give a row other last bits with other row counts, which
    made `rnnkit tag --workers 2` write probabilities that one process wrote 1e-4 apart."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    vocab = CharVocab.build([letters])
    config = RNNConfig(N_X, 8, 1, layers=1, bidirectional=True)
    model = SpellingRNN.build(config, vocab, n_c=25, seed=4)
    rng = np.random.default_rng(5)
    others = ["".join(rng.choice(list(letters), rng.integers(1, 12))) for _ in range(3000)]
    for word in ("Jiul", "Roosevelt", "x"):
        model.forget()
        alone = model.remembered_spelling([[word]], 1)[0, 0]
        for n in (1, 7, 100, 999, 3000):
            model.forget()
            beside = model.remembered_spelling([[word, *others[:n]]], 1 + n)[0, 0]
            np.testing.assert_array_equal(beside, alone, err_msg=f"{word} beside {n} words")


def test_remembered_spellings_are_the_computed_ones_and_forgotten_when_the_weights_change():
    model = make(dtype="float32")
    x = ids(3)
    s, _ = model.spelling(SENTENCES, T)
    np.testing.assert_allclose(model.remembered_spelling(SENTENCES, T), s, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(  # now every word from memory, in other batches
        model.remembered_spelling(SENTENCES[::-1], T), s[::-1], rtol=1e-6, atol=1e-7
    )
    first = model.forward(x, MASK, words=SENTENCES)[0]
    model.params["W_aa.char.fwd"] *= 0.5  # in place, as an optimiser's step
    changed = model.forward(x, MASK, words=SENTENCES)[0]
    s2, _ = model.spelling(SENTENCES, T)
    np.testing.assert_allclose(changed, model.rnn.forward(x, MASK, s=s2)[0], rtol=1e-5)
    assert not np.allclose(first, changed)
    model.forget()
    np.testing.assert_allclose(model.forward(x, MASK, words=SENTENCES)[0], changed, rtol=1e-6)
