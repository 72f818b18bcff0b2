"""The tagger: any text is tagged with offsets that hold, a batch predicts as its sentences alone,
and a saved tagger loads back exactly (float16: close). docs/guarantees.md lists what each test
guards.
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import one_line_error, synthetic_sentences
from rnnkit.cli import main
from rnnkit.cli.tag import json_line
from rnnkit.data.batching import make_batches
from rnnkit.data.features import Featurizer
from rnnkit.data.tokenize import tokenize
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.nn.model import RNN


@pytest.fixture(scope="module")
def random_tagger():
    """An untrained bidirectional bio tagger: cheap, and it tags entities all over the place."""
    sentences = [[w for w, _ in s] for s in synthetic_sentences(100, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape", "suffix"))
    model = RNN(featurizer.n_x, 8, 9, output="softmax", bidirectional=True, seed=1)
    return Tagger(model, featurizer, TASKS["bio"])


def check_tagged(result, text, tagger):
    """Offsets point at the right substrings; tokens in order, disjoint; entities on token edges."""
    assert result["text"] == text
    previous_end, starts, ends = 0, set(), set()
    for tok in result["tokens"]:
        assert text[tok["start"] : tok["end"]] == tok["text"] and tok["text"]
        assert tok["start"] >= previous_end
        previous_end = tok["end"]
        starts.add(tok["start"]), ends.add(tok["end"])
        assert 0 <= tok["prob"] <= 1 and tok["label"] in tagger.task.tags
    for e in result["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
        assert e["start"] in starts and e["end"] in ends and e["start"] < e["end"]
    # Nothing is dropped: the tokens are the tokeniser's.
    assert [(t["text"], t["start"], t["end"]) for t in result["tokens"]] == [
        tuple(t) for t in tokenize(text)
    ]


def check_json_line(line, text):
    assert (
        "\n" not in line and len(line.splitlines()) <= 1
    )  # even for splitlines(): U+2028 and friends
    assert json.loads(line)["text"] == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   \t\r\n  ",
        ".,;:!?...--",
        "🙂🙂 👍🏽 ❤️!",
        "\x00\x01\x1b[31mred\x1b[0m\x7f\x9f",
        "Ünïcödé 中文 عربى हिन्दी e\u0301",
        "zzqx blorf wug Qwxyzzy Ffrrrt",
        "a\u2028b\x85c\u2029d\x0bx\x0cy\x1c",
        "\ufeffBOM \u200b zero width",
        "x\udcffy",  # a lone surrogate: an undecodable byte from argv
    ],
)
def test_tag_takes_any_text(trained, capsys, text):
    tagger = Tagger.load(trained)
    check_tagged(tagger.tag(text), text, tagger)
    assert main(["tag", "--model", str(trained), "--json", text]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    check_json_line(out[:-1], text)
    code = main(["tag", "--model", str(trained), text])
    err = capsys.readouterr().err
    if (
        "\udcff" in text and code == 1
    ):  # plain output writes it raw: fine where stdout has surrogateescape
        one_line_error(err, "cannot write the text")
    else:
        assert code == 0 and err == ""


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(), st.text(st.sampled_from(list("Anna Smith Paris .\"!?\n\x00\u2028🙂é'-")))
    ),
    max_len=st.integers(1, 6),
    chunk=st.integers(1, 3),
)
def test_tag_offsets_hold_for_arbitrary_text(random_tagger, text, max_len, chunk):
    result = random_tagger.tag(
        text, max_len=max_len, chunk=chunk
    )  # tiny pieces: every seam is tested
    check_tagged(result, text, random_tagger)
    check_json_line(json_line(result), text)


_WORDS = ["Anna", "Smith", "Paris", "said", ".", ",", "zzqx", "Ünïcödé", "the", "Ajax", "🙂"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sentences=st.lists(
        st.lists(st.sampled_from(_WORDS), min_size=0, max_size=12), min_size=0, max_size=9
    ),
    batch_size=st.integers(1, 5),
)
def test_batched_prediction_equals_one_sentence_at_a_time(random_tagger, sentences, batch_size):
    xs = [random_tagger.featurizer.encode(s) for s in sentences]
    batches = make_batches(xs, None, batch_size)
    assert sorted(i for b in batches for i in b.index) == list(range(len(sentences)))
    together = random_tagger.predict(sentences, batch_size=batch_size)
    assert len(together) == len(sentences)
    for s, p in zip(sentences, together):
        (alone,) = random_tagger.predict([s], batch_size=1)
        assert p.tags == alone.tags and len(p.tags) == len(s)
        np.testing.assert_allclose(p.probs, alone.probs, rtol=1e-5, atol=1e-6)


def _sentences():
    return [[w for w, _ in s] for s in synthetic_sentences(40, 3)] + [["zzqx", "Ünïcödé", "🙂"]]


def test_whole_tagger_save_load_is_exact(trained, random_tagger, tmp_path):
    for tagger in (Tagger.load(trained), random_tagger):
        path = tmp_path / "copy.npz"
        tagger.save(path, note="round trip")
        back = Tagger.load(path)
        assert back.model.params.keys() == tagger.model.params.keys()
        for k, p in tagger.model.params.items():
            assert (
                back.model.params[k].dtype == p.dtype
                and back.model.params[k].tobytes() == p.tobytes()
            ), k
        assert (
            back.featurizer.to_json() == tagger.featurizer.to_json()
            and back.meta["note"] == "round trip"
        )
        sentences = _sentences()
        for a, b in zip(tagger.predict(sentences), back.predict(sentences)):
            assert a.tags == b.tags and a.probs.tobytes() == b.probs.tobytes()


def test_float16_save_is_lossy_but_close(random_tagger, tmp_path):
    """Documented: dtype=np.float16 halves the file and rounds every weight to float16."""
    random_tagger.save(tmp_path / "m16.npz", dtype=np.float16)
    back = Tagger.load(tmp_path / "m16.npz")
    for k, p in random_tagger.model.params.items():
        assert np.array_equal(back.model.params[k], p.astype(np.float16).astype(np.float32)), k
    sentences = _sentences()
    for a, b in zip(random_tagger.predict(sentences), back.predict(sentences)):
        np.testing.assert_allclose(a.probs, b.probs, atol=5e-3)
