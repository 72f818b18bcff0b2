"""The character-level encoder against a plain loop, central differences and PyTorch, float64."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.nn import kernels
from rnnkit.nn.chars import CharEncoder, CharVocab
from rnnkit.nn.gradcheck import gradcheck

TRAIN_WORDS = ["Teddy", "Roosevelt", "said", "bears", "are", "on", "sale", "!", "Nguyễn"]
# Repeated words (their gradients add up), an unseen character (ç), one-character and long words.
SENTENCES = [
    ["Teddy", "said", "Teddy", "!"],
    ["François", "on", "sale"],
    ["a"],
    ["Roosevelt", "bears", "Teddy", "are", "on"],
]


def reference_spelling(encoder, ids):
    """The module docstring's loop, one word alone: [a→ after the last id; a← after the first]."""
    g = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}[encoder.activation]
    p, out = encoder.params, []
    for d, chars in (("fwd", ids), ("bwd", ids[::-1])):
        a = np.zeros(encoder.n_c)
        for c in chars:
            a = g(p[f"W_aa.char.{d}"] @ a + p[f"W_ax.char.{d}"][:, c] + p[f"b_a.char.{d}"])
        out.append(a)
    return np.concatenate(out)


def make(activation="tanh", n_c=3, seed=1):
    vocab = CharVocab.build(TRAIN_WORDS)
    return vocab, CharEncoder(len(vocab), n_c, activation, seed=seed, dtype=np.float64)


def batch_mask(sentences, T):
    return np.arange(T) < np.array([len(s) for s in sentences])[:, None]


# -- the vocabulary ----------------------------------------------------------------------------
def test_vocab_ids_markers_unknown_and_nfc():
    vocab = CharVocab.build(["ab", "b", "é"])
    assert vocab.chars == ["b", "a", "é"]  # most frequent first
    assert len(vocab) == 6
    np.testing.assert_array_equal(vocab.ids("ab"), [1, 4, 3, 2])  # BOW a b EOW
    np.testing.assert_array_equal(vocab.ids("az"), [1, 4, 0, 2])  # z unseen: UNK
    np.testing.assert_array_equal(vocab.ids("e\u0301"), vocab.ids("é"))  # decomposed = composed
    np.testing.assert_array_equal(vocab.ids(""), [1, 2])
    again = CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.chars == vocab.chars
    assert CharVocab.build(["aab"], min_count=2).chars == ["a"]


# -- forward: the reference loop, batch == alone --------------------------------------------------
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_encode_equals_reference_loop(activation):
    vocab, encoder = make(activation)
    words = [vocab.ids(w) for w in ["Teddy", "a", "Roosevelt", "", "Teddy", "on"]]
    spelling, _ = encoder.encode(words)
    assert spelling.shape == (6, 2 * encoder.n_c)
    for row, ids in zip(spelling, words):
        np.testing.assert_allclose(row, reference_spelling(encoder, ids), rtol=1e-12, atol=1e-15)


WORDS = st.lists(st.text(alphabet="abTé!-ç", max_size=9), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(words=WORDS, others=WORDS, seed=st.integers(0, 2**16))
def test_a_words_vector_does_not_depend_on_the_batch(words, others, seed):
    """Encoding a batch == encoding each word alone, and mixing in other words (longer, shorter,
    in any order) changes no word's vector: padding does not leak into either chain."""
    vocab, encoder = make("tanh", n_c=4, seed=seed % 7)
    spelling, _ = encoder.encode([vocab.ids(w) for w in words])
    for w, row in zip(words, spelling):
        alone, _ = encoder.encode([vocab.ids(w)])
        np.testing.assert_allclose(row, alone[0], rtol=1e-12, atol=1e-15)
    mixed = others + words[::-1]
    spelling_mixed, _ = encoder.encode([vocab.ids(w) for w in mixed])
    np.testing.assert_allclose(
        spelling_mixed[len(others) :][::-1], spelling, rtol=1e-12, atol=1e-15
    )


def test_encode_tokens_scatters_each_words_vector_and_zeroes_padding():
    vocab, encoder = make()
    spelling, cache = encoder.encode_tokens(vocab, SENTENCES, T=6)
    assert spelling.shape == (4, 6, 2 * encoder.n_c)
    assert cache.n_words == 10  # 14 tokens, "Teddy" three times and "on" twice
    for s, sentence in enumerate(SENTENCES):
        for t, w in enumerate(sentence):
            np.testing.assert_allclose(
                spelling[s, t], reference_spelling(encoder, vocab.ids(w)), rtol=1e-12, atol=1e-15
            )
        assert not spelling[s, len(sentence) :].any()
    with pytest.raises(ValueError, match="more than T"):
        encoder.encode_tokens(vocab, SENTENCES, T=3)


@pytest.mark.skipif(not kernels.available, reason="numba is not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])  # float64: the spelling memory's
def test_compiled_encode_equals_numpy(monkeypatch, dtype):
    """At inference the loops may be the word-level model's compiled kernel."""
    vocab = CharVocab.build(TRAIN_WORDS)
    encoder = CharEncoder(len(vocab), 6, seed=2, dtype=dtype)
    assert kernels.load()
    calls = []
    kernel = kernels.rnn_forward
    monkeypatch.setattr(kernels, "rnn_forward", lambda *a: calls.append(1) or kernel(*a))
    for sentences in (SENTENCES, [["Teddy", "bears"]], [["sale", "sale"]]):  # padded or not
        got, _ = encoder.encode_tokens(vocab, sentences, compiled=True)
        want, _ = encoder.encode_tokens(vocab, sentences)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert len(calls) == 6  # both chains, each batch, took the kernel


def test_float32_and_a_rebuilt_encoder_agree_with_float64():
    """The training dtype gives float32 gradients of the parameters' shapes, close to float64's;
    config and params rebuild the encoder (as a model file would store them)."""
    vocab, encoder = make(seed=6)
    rebuilt = CharEncoder(**{**json.loads(json.dumps(encoder.config)), "dtype": "float32"})
    for name, theta in encoder.params.items():
        rebuilt.params[name][...] = theta
    mask = batch_mask(SENTENCES, 5)
    d = np.random.default_rng(3).normal(size=(*mask.shape, 2 * encoder.n_c)) * mask[..., None]
    results = []
    for e in (encoder, rebuilt):
        spelling, cache = e.encode_tokens(vocab, SENTENCES, T=5)
        results.append((spelling, e.backward_tokens(cache, d)))
    (s64, g64), (s32, g32) = results
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32, s64, rtol=1e-5, atol=1e-6)
    for name, theta in rebuilt.params.items():
        assert g32[name].dtype == np.float32 and g32[name].shape == theta.shape
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-4, atol=1e-5)


def test_bad_inputs_are_refused():
    vocab, encoder = make()
    with pytest.raises(ValueError, match="n_chars"):
        encoder.encode([np.array([1, len(vocab)])])
    with pytest.raises(ValueError, match="at least one"):
        encoder.encode([np.array([], np.intp)])
    with pytest.raises(ValueError, match="n_c"):
        CharEncoder(10, 0)
    assert encoder.encode([])[0].shape == (0, 2 * encoder.n_c)


# -- backpropagation: central differences --------------------------------------------------------
class SpelledHead:
    """A word-level side written out by hand: ŷ<t> = σ(w_y · spelling<t> + b_y) with the mean
    cross-entropy over the real tokens; params = the encoder's and the head's, for gradcheck."""

    def __init__(self, vocab, encoder, seed=0):
        rng = np.random.default_rng(seed)
        self.vocab, self.encoder = vocab, encoder
        self.head = {"w_y": rng.normal(size=2 * encoder.n_c), "b_y": np.array([0.1])}
        self.params = {**encoder.params, **self.head}

    def loss_and_grads(self, sentences, y, mask):
        spelling, cache = self.encoder.encode_tokens(self.vocab, sentences, T=mask.shape[1])
        logits = spelling @ self.head["w_y"] + self.head["b_y"]  # (m, T)
        y_hat = 1 / (1 + np.exp(-logits))
        n = mask.sum()
        loss = -np.sum(mask * (y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))) / n
        d_logits = mask * (y_hat - y) / n
        grads = self.encoder.backward_tokens(cache, d_logits[..., None] * self.head["w_y"])
        grads["w_y"] = np.einsum("mt,mtk->k", d_logits, spelling)
        grads["b_y"] = np.array([d_logits.sum()])
        return loss, grads


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gradcheck_every_parameter(activation):
    vocab, encoder = make(activation, seed=3)
    mask = batch_mask(SENTENCES, 6)
    y = np.random.default_rng(0).integers(0, 2, mask.shape).astype(float)
    errors = gradcheck(SpelledHead(vocab, encoder), SENTENCES, y, mask)
    assert set(errors) == set(encoder.params) | {"w_y", "b_y"}
    assert max(errors.values()) < 1e-7, errors


def central_differences(f, theta, eps=1e-6):
    """dF/dθ for every entry of θ (changed in place and restored)."""
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        saved = theta[idx]
        theta[idx] = saved + eps
        plus = f()
        theta[idx] = saved - eps
        minus = f()
        theta[idx] = saved
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def test_gradients_through_the_word_level_rnn():
    """The spelling as the input x of a bidirectional rnnkit.RNN: central differences of its
    loss in x (the input to the word-level side), backpropagated by backward_tokens, equal
    central differences of the loss in every character parameter."""
    vocab, encoder = make(seed=4)
    T = 6
    mask = batch_mask(SENTENCES, T)
    y = np.random.default_rng(1).integers(0, 2, (*mask.shape, 1)).astype(float)
    words = rnnkit.RNN(2 * encoder.n_c, 4, 1, bidirectional=True, dtype=np.float64, seed=2)
    spelling, cache = encoder.encode_tokens(vocab, SENTENCES, T=T)

    def word_loss():
        return words.loss_and_grads(spelling, y, mask)[0]

    d_x = central_differences(word_loss, spelling)
    assert not d_x[~mask].any() and np.abs(d_x[mask]).min() > 0
    grads = encoder.backward_tokens(cache, d_x)

    def loss():
        x, _ = encoder.encode_tokens(vocab, SENTENCES, T=T)
        return words.loss_and_grads(x, y, mask)[0]

    for name, theta in encoder.params.items():
        numeric = central_differences(loss, theta)
        err = np.linalg.norm(grads[name] - numeric) / (
            np.linalg.norm(grads[name]) + np.linalg.norm(numeric)
        )
        assert err < 1e-6, (name, err)


# -- PyTorch: nn.RNN over packed character sequences in both directions -------------------------
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_outputs_and_gradients_equal_pytorch(activation):
    torch = pytest.importorskip("torch")
    vocab, encoder = make(activation, n_c=5, seed=5)
    p = encoder.params
    rnn = torch.nn.RNN(
        len(vocab),
        encoder.n_c,
        nonlinearity=activation,
        bidirectional=True,
        batch_first=True,
        dtype=torch.float64,
    )
    with torch.no_grad():
        for d, sfx in (("fwd", "_l0"), ("bwd", "_l0_reverse")):
            getattr(rnn, "weight_ih" + sfx).copy_(torch.from_numpy(p[f"W_ax.char.{d}"].copy()))
            getattr(rnn, "weight_hh" + sfx).copy_(torch.from_numpy(p[f"W_aa.char.{d}"].copy()))
            getattr(rnn, "bias_ih" + sfx).copy_(torch.from_numpy(p[f"b_a.char.{d}"]))
            getattr(rnn, "bias_hh" + sfx).zero_()

    # PyTorch: the distinct words' one-hot characters, padded and packed; h_n holds the states
    # after each chain has read the whole word.
    distinct = list(dict.fromkeys(w for s in SENTENCES for w in s))
    ids = [vocab.ids(w) for w in distinct]
    lengths = [len(i) for i in ids]
    one_hot = np.zeros((len(ids), max(lengths), len(vocab)))
    for j, i in enumerate(ids):
        one_hot[j, np.arange(len(i)), i] = 1
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(one_hot), lengths, batch_first=True, enforce_sorted=False
    )
    _, h_n = rnn(packed)
    t_spelling_u = torch.cat([h_n[0], h_n[1]], dim=1)  # (n_words, 2 n_c)
    T = 6
    mask = batch_mask(SENTENCES, T)
    which = [distinct.index(w) for s in SENTENCES for w in s]
    t_spelling = torch.zeros(len(SENTENCES), T, 2 * encoder.n_c, dtype=torch.float64)
    t_spelling[torch.tensor(mask)] = t_spelling_u[which]
    R = np.random.default_rng(2).normal(size=t_spelling.shape)
    t_loss = (torch.tanh(t_spelling) * torch.tensor(R)).sum()
    t_loss.backward()

    spelling, cache = encoder.encode_tokens(vocab, SENTENCES, T=T)
    np.testing.assert_allclose(spelling, t_spelling.detach().numpy(), rtol=1e-10, atol=1e-13)
    grads = encoder.backward_tokens(cache, (1 - np.tanh(spelling) ** 2) * R * mask[..., None])
    tp = dict(rnn.named_parameters())
    for d, sfx in (("fwd", "_l0"), ("bwd", "_l0_reverse")):
        for ours, theirs in (("W_ax", "weight_ih"), ("W_aa", "weight_hh"), ("b_a", "bias_ih")):
            np.testing.assert_allclose(
                grads[f"{ours}.char.{d}"], tp[theirs + sfx].grad.numpy(), rtol=1e-9, atol=1e-12
            )
