"""The tagger: any text is tagged with offsets that hold, a batch predicts as its sentences alone,
and a saved tagger loads back exactly (float16: close). docs/guarantees.md lists what each test
guards.
"""

import json
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli import main
from rnnkit.cli.tag import json_line
from rnnkit.data.batching import make_batches
from rnnkit.data.features import Featurizer
from rnnkit.data.tokenize import tokenize
from rnnkit.io import storage
from rnnkit.ner.ensemble import Ensemble
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.nn.model import RNN
from support import synthetic_sentences


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
    # Plain output too, as UTF-8: a lone surrogate is written as its escape.
    assert main(["tag", "--model", str(trained), text]) == 0
    out, err = capsys.readouterr()
    assert err == "" and ("\udcff" not in text or "\\udcff" in out)


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
    max_tokens=st.integers(1, 40),
)
def test_batched_prediction_equals_one_sentence_at_a_time(
    random_tagger, sentences, batch_size, max_tokens
):
    xs = [random_tagger.featurizer.encode(s) for s in sentences]
    batches = make_batches(xs, None, batch_size, max_tokens=max_tokens)
    assert sorted(i for b in batches for i in b.index) == list(range(len(sentences)))
    together = random_tagger.predict(sentences, batch_size=batch_size, max_tokens=max_tokens)
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


@pytest.mark.parametrize("dtype", [np.int8, "int32", bool, np.complex64])
def test_a_dtype_no_model_file_may_hold_is_refused_and_the_file_is_kept(
    random_tagger, dtype, tmp_path
):
    """save(dtype=np.int8) once wrote a file that Tagger.load refuses ("not a float type"),
    replacing the good model at that path."""
    path = tmp_path / "m.npz"
    random_tagger.save(path)
    before = path.read_bytes()
    with pytest.raises(
        ValueError, match=r"m\.npz: a model is saved as float16, float32 or float64"
    ):
        random_tagger.save(path, dtype=dtype)
    assert path.read_bytes() == before
    assert Tagger.load(path).task == random_tagger.task


# -- issue 11: trust on first contact ---------------------------------------------------------
@pytest.fixture(scope="module")
def per_tagger():
    """An untrained per tagger: P(person) spread over (0, 1), so thresholds matter."""
    sentences = [[w for w, _ in s] for s in synthetic_sentences(100, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape"))
    model = RNN(featurizer.n_x, 8, 1, output="sigmoid", seed=3)
    return Tagger(model, featurizer, TASKS["per"])


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("output", "softmax", "sigmoid output"),
        ("n_y", 9, "n_y"),
        ("activation", "gelu", "activation"),
    ],
)
def test_a_header_that_does_not_fit_its_task_is_refused(per_tagger, tmp_path, field, value, words):
    """Item 8: a per model edited to softmax (F1 0.004 before) is a corrupt model file."""
    path = tmp_path / "model.npz"
    per_tagger.save(path)
    arrays, meta = storage.load(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    meta["model"] = {**meta["model"], field: value}
    storage.save(path, arrays, meta)
    with pytest.raises(storage.ModelFileError, match=words) as e:
        Tagger.load(path)
    assert str(e.value).startswith(f"{path}: ")


@pytest.mark.parametrize("n_e", [None, 5])
@pytest.mark.parametrize(
    "cell, words",
    [
        (None, None),
        ("rnn", "b_aa"),
        ("lstm", "cell must be"),
        ("gru", "do not match the settings|need at least"),
    ],
)
def test_a_gru_tagger_loads_as_saved_and_its_cell_is_held_to_its_arrays(tmp_path, cell, words, n_e):
    """A GRU tagger (cell "gru"), with or without an embedding E, saves and loads exactly; a
    header edited to the lecture's cell (whose chains lack b_aa and have a third of the rows),
    to an unknown cell, or to another n_e (E's arrays gone or unexpected) is refused."""
    sentences = [[w for w, _ in s] for s in synthetic_sentences(50, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape"))
    model = RNN(featurizer.n_x, 6, 1, bidirectional=True, cell="gru", seed=3, n_e=n_e)
    path = tmp_path / "model.npz"
    Tagger(model, featurizer, TASKS["per"]).save(path)
    if cell is None:
        back = Tagger.load(path)
        assert back.model.cell == "gru" and back.model.params.keys() == model.params.keys()
        for k, p in model.params.items():
            np.testing.assert_array_equal(back.model.params[k], p)
        return
    arrays, meta = storage.load(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    meta["model"] = {**meta["model"], "cell": cell}
    if cell == "gru":  # the header's n_e edited: added, or taken away
        meta["model"]["n_e"] = None if n_e else 4
    storage.save(path, arrays, meta)
    with pytest.raises(storage.ModelFileError, match=words) as e:
        Tagger.load(path)
    assert str(e.value).startswith(f"{path}: ")


def test_nfd_text_is_tagged_as_nfc_with_offsets_into_it():
    """Item 11: 'said Nguyễn Văn An.' in NFD found only 'Văn An'; NFC finds the whole name."""
    tagger = Tagger.load("default")
    nfc = "said Nguyễn Văn An."
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    a, b = tagger.tag(nfc), tagger.tag(nfd)
    found = [e["text"] for e in a["entities"]]
    assert found and "Nguyễn" in found[0]  # the shipped default finds "Nguyễn" (or more)
    assert [e["text"] for e in b["entities"]] == [unicodedata.normalize("NFD", t) for t in found]
    for e in b["entities"]:
        assert nfd[e["start"] : e["end"]] == e["text"]
    assert [t["prob"] for t in a["tokens"]] == [t["prob"] for t in b["tokens"]]


def test_fullwidth_text_is_tagged_as_ascii_with_offsets_into_it():
    """Names typed in fullwidth letters (East Asian input methods) were found nowhere: 'Ｊｏｈｎ
    Ｓｍｉｔｈ met Ｍａｒｙ' tagged no one. They are read as ASCII: the same labels and ŷ as the
    ASCII text, in every casing, offsets into the text as given."""
    tagger = Tagger.load("default")
    wide = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
    for ascii_text in ["John Smith met Mary in London!", "JOHN SMITH MET MARY", "hi priya, ok?"]:
        fullwidth = ascii_text.translate(wide)
        assert fullwidth != ascii_text and len(fullwidth) == len(ascii_text)
        a, b = tagger.tag(ascii_text), tagger.tag(fullwidth)
        assert [(t["label"], t["prob"]) for t in a["tokens"]] == [
            (t["label"], t["prob"]) for t in b["tokens"]
        ]
        assert [(e["start"], e["end"]) for e in a["entities"]] == [
            (e["start"], e["end"]) for e in b["entities"]
        ]
        for e in b["entities"]:
            assert fullwidth[e["start"] : e["end"]] == e["text"]
    assert tagger.tag("Ｊｏｈｎ Ｓｍｉｔｈ met Ｍａｒｙ")["entities"]  # found now


def test_a_user_name_is_one_token_and_no_name_as_in_the_tweets_the_default_learned():
    """'cc @JohnSmith' was tokenised '@', 'JohnSmith', which the default, trained on tweets whose
    user names are one token tagged O, tagged as the name '@JohnSmith'."""
    tagger = Tagger.load("default")
    got = tagger.tag("cc @JohnSmith, RT @BarackObama: Michelle Obama spoke")
    assert [t["text"] for t in got["tokens"]][:3] == ["cc", "@JohnSmith", ","]
    assert [e["text"] for e in got["entities"]] == ["Michelle Obama"]


def test_a_zero_width_space_beside_a_name_changes_nothing_but_the_offsets():
    """Web text holds invisible zero-width spaces (U+200B): as tokens of their own they hid
    'Angela Merkel' in 'Angela\u200bMerkel met Olaf\u200b Scholz.' They separate as a space."""
    tagger = Tagger.load("default")
    plain = tagger.tag("Angela Merkel met Olaf Scholz.")
    for zw in ["\u200b", "\ufeff"]:
        text = f"{zw}Angela{zw}Merkel met Olaf{zw} Scholz."
        got = tagger.tag(text)
        assert [(t["text"], t["label"], t["prob"]) for t in got["tokens"]] == [
            (t["text"], t["label"], t["prob"]) for t in plain["tokens"]
        ]
        assert [e["text"] for e in got["entities"]] == [f"Angela{zw}Merkel", f"Olaf{zw} Scholz"]
        for e in got["entities"]:
            assert text[e["start"] : e["end"]] == e["text"]


def test_a_soft_hyphen_inside_a_name_neither_cuts_it_nor_changes_its_tags():
    """Text copied from web pages holds soft hyphens (U+00AD, invisible): 'Angela Mer\u00adkel'
    was tokenised 'Mer', '\u00ad', 'kel' and tagged as the name 'Angela Mer'."""
    tagger = Tagger.load("default")
    text = "Angela Merkel met Olaf Scholz in Berlin."
    for hint in ["\u00ad", "\u2060"]:
        hinted = text.replace("Merkel", f"Mer{hint}kel").replace("Scholz", f"Scho{hint}lz")
        a, b = tagger.tag(text), tagger.tag(hinted)
        assert [t["text"].replace(hint, "") for t in b["tokens"]] == [
            t["text"] for t in a["tokens"]
        ]
        assert [(t["label"], t["prob"]) for t in a["tokens"]] == [
            (t["label"], t["prob"]) for t in b["tokens"]
        ]
        assert [e["text"] for e in b["entities"]] == [f"Angela Mer{hint}kel", f"Olaf Scho{hint}lz"]
        for e in b["entities"]:
            assert hinted[e["start"] : e["end"]] == e["text"]


@pytest.mark.parametrize("hyphen", ["\u2010", "\u2011"])
def test_a_name_with_unicodes_hyphen_is_one_name_as_with_ascii_s(hyphen):
    """'Jean‑Paul Sartre', typed with a non-breaking hyphen (as word processors and phones do),
    was cut into 'Jean' and 'Paul Sartre': the hyphen was a token of its own."""
    tagger = Tagger.load("default")
    text = "Jean-Paul Sartre met Anne-Marie Duval."
    a, b = tagger.tag(text), tagger.tag(text.replace("-", hyphen))
    assert [e["text"] for e in a["entities"]] == ["Jean-Paul Sartre", "Anne-Marie Duval"]
    assert [e["text"].replace(hyphen, "-") for e in b["entities"]] == [
        "Jean-Paul Sartre",
        "Anne-Marie Duval",
    ]
    assert [t["prob"] for t in a["tokens"]] == [t["prob"] for t in b["tokens"]]


BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    words=st.lists(
        st.tuples(st.sampled_from(_WORDS + ["Teddy", "Roosevelt"]), st.sampled_from([" ", *BIDI])),
        max_size=20,
    )
)
def test_bidi_controls_never_end_up_inside_entities(random_tagger, words):
    """Item 11: direction marks around or between names stay out of entity spans."""
    text = "".join(w + sep for w, sep in words)
    result = random_tagger.tag(text)
    check_tagged(result, text, random_tagger)
    for e in result["entities"]:
        assert not set(e["text"]) & set(BIDI), e


def test_a_bidi_control_inside_a_name_splits_it():
    tagger = Tagger.load("default")
    assert [e["text"] for e in tagger.tag("He met \u202bJohn Smith\u202c today.")["entities"]] == [
        "John Smith"
    ]
    result = tagger.tag("He met John\u200e Smith today.")
    assert [e["text"] for e in result["entities"]] == ["John", "Smith"]


def test_entity_score_is_the_mean_y_hat_and_threshold_decides(per_tagger):
    """Item 19: prob is ŷ of the chosen label; an entity's score is the mean P(person) of its
    tokens; --threshold (per) moves the line between person and not."""
    text = "Anna Smith said Teddy Roosevelt visited Paris with Maria Ivanov ."
    tokens = tokenize(text)
    ids = per_tagger.featurizer.encode([t.text for t in tokens])
    y_hat, _ = per_tagger.model.forward(ids[None])
    p = y_hat[0, :, 0]  # P(person) of each token, independently of the tagger
    for threshold in (float(np.quantile(p, q)) for q in (0.2, 0.5, 0.8)):
        per_tagger.threshold = threshold
        try:
            result = per_tagger.tag(text)
        finally:
            per_tagger.threshold = 0.5
        person = p >= threshold
        assert [t["label"] != "O" for t in result["tokens"]] == person.tolist()
        for t, pt, is_person in zip(result["tokens"], p, person):
            assert t["prob"] == pytest.approx(pt if is_person else 1 - pt, abs=1e-4)
        runs, i = [], 0
        while i < len(p):
            if person[i]:
                j = i
                while j < len(p) and person[j]:
                    j += 1
                runs.append((i, j))
                i = j
            else:
                i += 1
        assert [(e["start"], e["end"]) for e in result["entities"]] == [
            (tokens[i].start, tokens[j - 1].end) for i, j in runs
        ]
        for e, (i, j) in zip(result["entities"], runs):
            assert e["score"] == pytest.approx(p[i:j].mean(), abs=1e-4)


def test_predict_runs_with_one_blas_thread(random_tagger, monkeypatch):
    """Item 16: Tagger.predict (and so tag and pipe) applies rnnkit's BLAS thread setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    forward = random_tagger.model.forward

    def spy(*args, **kwargs):
        seen.append(
            [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        )
        return forward(*args, **kwargs)

    monkeypatch.setattr(random_tagger.model, "forward", spy)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outside = [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]
        if not outside or max(outside) < 2:
            pytest.skip("BLAS here runs one thread whatever it is told")
        random_tagger.predict([["Anna", "Smith"]])
        random_tagger.tag("Anna Smith said .")
    assert seen and all(n == [1] * len(n) for n in seen), seen


@pytest.mark.parametrize("given", ["John Smith", ["John", "Smith"]])
def test_predict_refuses_a_text_or_a_flat_token_list_instead_of_tagging_characters(given):
    tagger = Tagger.load()
    with pytest.raises(TypeError, match=r"tag\(\)"):
        tagger.predict(given)


def test_pipe_and_tag_refuse_what_is_not_a_text():
    # pipe("Teddy Roosevelt") tagged each of its 15 characters as a text
    tagger = Tagger.load("lecture")
    with pytest.raises(TypeError, match=r"for one text use tag\(\)"):
        tagger.pipe("Teddy Roosevelt")
    with pytest.raises(TypeError, match="texts are str, not NoneType"):
        list(tagger.pipe(["Ann met Bob.", None]))
    with pytest.raises(TypeError, match="tag takes a text"):
        tagger.tag(b"Teddy Roosevelt")
    for chunk in (0, -1, 2.5, True):  # 0 once turned off the chunking that bounds memory
        with pytest.raises(ValueError, match="chunk must be a whole number >= 1"):
            tagger.tag("Teddy Roosevelt", chunk=chunk)


@pytest.mark.parametrize("name", ["batch_size", "workers"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_pipe_and_tag_file_refuse_a_count_that_is_not_a_whole_number_at_once(name, bad, tmp_path):
    """Checked when called, not at the first result (a generator's body runs only then): 1.5 once
    raised islice's error, True was taken for 1, and "2" failed comparing str with int."""
    tagger = Tagger.load("lecture")
    (tmp_path / "a.txt").write_text("Ann met Bob.\n", encoding="utf-8")
    message = f"{name} must be a whole number >= 1, not {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        tagger.pipe(["Ann met Bob."], **{name: bad})
    with pytest.raises(ValueError, match=rf"{name} must be a whole number >= 1"):
        tagger.tag_file(str(tmp_path / "a.txt"), **{name: bad})


@pytest.mark.parametrize(
    "sentences, message",
    [
        ([["Ann", None]], "token 1 of sentence 0 is NoneType None, not a str"),
        ([[1, 2]], "token 0 of sentence 0 is int 1, not a str"),
        ([["Ann"], ["Lee", b"Bo"]], "token 1 of sentence 1 is bytes b'Bo', not a str"),
        ([["Ann"], None], "sentence 1 is None, not a list of tokens"),
    ],
)
def test_predict_names_a_token_that_is_not_a_str(sentences, message):
    """It once failed inside unicodedata ("is_normalized() argument 2 must be str, not int")."""
    with pytest.raises(TypeError, match=re.escape(f"predict: {message}")):
        Tagger.load("lecture").predict(sentences)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_predict_and_tag_refuse_a_count_that_is_not_a_whole_number(bad):
    """predict's batch_size and max_tokens, tag's max_len and chunk: 1.5 cut batches of one and a
    half and True was taken for 1 (max_len=True tagged each word alone, and lost a name), "2"
    and None failed comparing with int. A NumPy integer is a count; max_tokens=None bounds
    nothing, as make_batches takes it."""
    tagger = Tagger.load("lecture")
    ensemble = Ensemble([tagger])
    for who, name in [(tagger, "batch_size"), (tagger, "max_tokens"), (ensemble, "batch_size")]:
        if not (name == "max_tokens" and bad is None):
            with pytest.raises(ValueError, match=re.escape(f"{name} must be a whole number >= 1")):
                who.predict([["Ann"]], **{name: bad})
    for name in ("max_len", "chunk"):
        with pytest.raises(ValueError, match=re.escape(f"{name} must be a whole number >= 1")):
            tagger.tag("Ann met Bob.", **{name: bad})
    assert tagger.predict([["Ann"]], batch_size=np.int64(2), max_tokens=None)[0].tags == ["B-PER"]
