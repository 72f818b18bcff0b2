"""A tagger that reads each word's spelling (--char-hidden): trained, stored, loaded, refused."""

import json

import numpy as np
import pytest

from rnnkit.io import storage
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import TrainConfig, train
from rnnkit.nn.spelling import SpellingRNN

SETTINGS = dict(
    n_a=8, vocab=200, epochs=2, batch=8, lr=1e-2, seed=2, features=("word", "shape"),
    bidirectional=True, char_hidden=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def spelled(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("spelled")
    train(TrainConfig(**SETTINGS), *corpus, out, log=lambda msg: None)
    return out / "model.npz"


def test_the_spelling_is_stored_and_loaded_with_the_model(spelled, tmp_path):
    tagger = Tagger.load(spelled)
    assert tagger.spells and isinstance(tagger.model, SpellingRNN)
    arrays, meta = storage.load(spelled)
    assert meta["chars"]["n_c"] == 4 and meta["model"]["n_s"] == 8
    assert {"W_as.fwd", "W_aa.char.fwd", "W_ax.char.bwd"} <= set(arrays)
    sentences = [["Ann", "Lee", "said", "so"], ["Zoë", "Ólafsdóttir", "wrote"]]  # unseen letters
    before = tagger.predict(sentences)
    tagger.save(tmp_path / "again.npz")
    after = Tagger.load(tmp_path / "again.npz").predict(sentences)
    for a, b in zip(before, after):
        assert a.tags == b.tags and np.array_equal(a.probs, b.probs)


def test_a_words_letters_change_its_tags_probability(spelled):
    """Two unknown words of the same shape get the same features but not the same spelling."""
    tagger = Tagger.load(spelled)
    a, b = tagger.predict([["Xqzv", "said", "."], ["Maria", "said", "."]])
    assert a.probs[0] != b.probs[0]


def test_a_header_whose_spelling_does_not_fit_is_refused(spelled, tmp_path):
    arrays, meta = storage.load(spelled)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    cases = {
        "n_c = 5": {**meta, "chars": {**meta["chars"], "n_c": 5}},
        "has no spelling": {k: v for k, v in meta.items() if k != "chars"},
        "n_c = 10000000": {**meta, "chars": {**meta["chars"], "n_c": 10**7}},
    }
    for message, bad in cases.items():
        path = tmp_path / "bad.npz"
        storage.save(path, arrays, json.loads(json.dumps(bad)))
        with pytest.raises(storage.ModelFileError, match=str(path)) as info:
            Tagger.load(path)
        assert message in str(info.value) or "n_s" in str(info.value), info.value


def test_a_word_of_a_million_characters_costs_64_steps(spelled):
    """The spelling reads a word's first 64 characters; the words are run in chunks of bounded
    padded size: a pasted blob beside thousands of words stays within a few MB."""
    import tracemalloc

    tagger = Tagger.load(spelled)
    assert len(tagger.model.vocab.ids("x" * 1_000_000)) == 64 + 2
    words = ["x" * 1_000_000] + [f"w{i}" * 5 for i in range(5000)]
    tracemalloc.start()
    [p] = tagger.predict([words])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(p.tags) == len(words)
    assert peak < 60e6 + 3 * len(words[0]), peak  # the input's own copies, then little else


def test_long_tokens_are_tagged_but_not_kept_by_the_caches(spelled):
    """Every distinct token is remembered (its ids, shape, characters, spelling) so that words
    that repeat cost nothing; a token longer than a spelling reads is not, or a stream of
    pasted blobs would stay in memory (20 of a million characters: 20 MB per cache)."""
    from rnnkit.data import features

    tagger = Tagger.load(spelled)
    blobs = [f"{i}" + "a" * 100_000 for i in range(20)]
    tagged = [tagger.predict([["Ann", blob]])[0] for blob in blobs]
    again = tagger.predict([["Ann", blobs[3]]])[0]
    assert again.tags == tagged[3].tags and np.array_equal(again.probs, tagged[3].probs)
    kept = [
        tagger.featurizer._rows,
        tagger.model.vocab._ids,
        tagger.model._memo,
    ]
    assert all(max(map(len, cache)) <= 64 for cache in kept)
    held = features._remembered_shape.cache_info().currsize
    assert features.shape("b" * 1000) == features.shape("bb") == "lower"
    assert features._remembered_shape.cache_info().currsize <= held + 1  # "bb" only
    # the long tokens' spellings are the 64 characters' (one key for blobs alike in them)
    assert sum(len(k) == 64 for k in tagger.model._memo) >= 1


def test_a_tagger_with_an_embedding_tags_through_its_folded_twin_and_saves_E(corpus, tmp_path):
    """Loaded from a file, a model with E (--n-e) tags through RNN.folded (W_ax E multiplied
    out once): the tags and probabilities of the model as trained, a CRF's included; save
    writes the model as trained, E and all."""
    settings = {**SETTINGS, "n_e": 6, "embedding_dropout": 0.5, "layers": 2}
    settings |= dict(task="tags", output="crf", model_scheme="bioes")
    train(TrainConfig(**settings), *corpus, tmp_path / "run", log=lambda msg: None)
    tagger = Tagger.load(tmp_path / "run" / "model.npz")
    assert tagger.model.rnn.n_e == 6 and tagger.runner.rnn.n_e is None
    assert "E" not in tagger.runner.params and tagger.runner.encoder is tagger.model.encoder
    sentences = [["Ann", "Lee", "said", "so"], ["Zoë", "Ólafsdóttir", "wrote", "to", "Bo"]]
    folded = tagger.predict(sentences)
    trained = Tagger.load(tmp_path / "run" / "model.npz", fold=False)
    assert trained.runner is trained.model  # the model as trained, E gathered at every step
    for a, b in zip(folded, trained.predict(sentences)):
        assert a.tags == b.tags
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-5, atol=1e-6)
    tagger.save(tmp_path / "again.npz")
    arrays, meta = storage.load(tmp_path / "again.npz")
    assert "E" in arrays and meta["model"]["n_e"] == 6
    tagger.model = Tagger.load(tmp_path / "again.npz").model  # a model set later tags itself
    assert tagger.runner is tagger.model
