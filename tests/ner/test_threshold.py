"""--threshold for models of several labels: log(t / (1 - t)) added to the score of O (and of the
types not shown) before decoding, which is the per model's P(person) >= t where a word is either
O or one label, moves the tags monotonically, and leaves the probs the model's own."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.ner.tagsets import TagSet
from rnnkit.ner.tasks import CRF_PARAMS, Task

THRESHOLDS = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)


def two_label_tasks():
    """Three tasks whose words are either O or I-X: softmax decoded by Viterbi and by argmax,
    and a CRF whose transitions are all 0 (its marginals are then each word's softmax)."""
    io = TagSet("io", ("X",))
    zeros = dict(zip(CRF_PARAMS, (np.zeros((2, 2)), np.zeros(2), np.zeros(2))))
    return [
        (Task("tags", "softmax", io, decoding="viterbi"), None),
        (Task("tags", "softmax", io, decoding="argmax"), None),
        (Task("tags", "linear", io, crf=True), zeros),
    ]


@pytest.mark.parametrize("which", range(3))
def test_a_word_of_two_labels_is_x_where_p_x_reaches_the_threshold(which):
    task, params = two_label_tasks()[which]
    # P(X) of each word, none on a threshold; the CRF reads their logits
    p_x = np.array([0.03, 0.1, 0.27, 0.42, 0.49, 0.51, 0.6, 0.73, 0.9, 0.97])
    p = np.stack([1 - p_x, p_x], axis=-1)
    y_hat = np.log(p) if task.crf else p
    for t in THRESHOLDS:
        tags, probs = task.decode(y_hat, t, params)
        assert [tag != "O" for tag in tags] == list(p_x >= t), t
        # the probs are the model's own, whatever the threshold
        np.testing.assert_allclose(probs, np.where(p_x >= t, p_x, 1 - p_x), rtol=1e-12)


def random_crf(rng, n_y):
    return dict(zip(CRF_PARAMS, (rng.normal(0, 1, (n_y, n_y)), *rng.normal(0, 1, (2, n_y)))))


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["iob2", "bioes", "io"]),
    st.sampled_from([None, ("A",)]),
    st.booleans(),
)
def test_a_lower_threshold_never_prints_more_o(seed, scheme, show, crf):
    # The best path of score(path) + b * (its O and hidden words) has at least as many of them
    # for a larger b: the decoding is monotone in the threshold, in any scheme, with or
    # without a CRF, with types hidden or not.
    rng = np.random.default_rng(seed)
    tagset = TagSet(scheme, ("A", "B"))
    task = Task("tags", "linear", tagset, crf=True) if crf else Task("tags", "softmax", tagset)
    m, T, n_y = 3, 6, task.n_y
    z = rng.normal(0, 2, (m, T, n_y))
    y_hat = z if crf else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    lengths = np.array([T, 4, 1])
    mask = np.arange(T) < lengths[:, None]
    y_hat = y_hat * mask[..., None]
    params = random_crf(rng, n_y) if crf else None
    printed_o = []
    for t in THRESHOLDS:
        decoded = task.decode_batch(y_hat, mask, params, t, show)
        printed_o.append(sum(tag == "O" for tags, _ in decoded for tag in tags))
        allowed, start, end = tagset.transitions
        for (tags, probs), n in zip(decoded, lengths):
            assert len(tags) == n and np.all((probs >= 0) & (probs <= 1 + 1e-9))
            assert all(tag == "O" or show is None or tag[2:] in show for tag in tags)
            if show is None:  # the path keeps to the scheme's transitions
                ids = tagset.ids(tags)
                assert start[ids[0]] and end[ids[-1]]
                assert all(allowed[i, j] for i, j in itertools.pairwise(ids))
        if t == 0.5:  # the threshold at 0.5 is no threshold at all
            plain = task.decode_batch(y_hat, mask, params, show=show)
            assert [tags for tags, _ in plain] == [tags for tags, _ in decoded]
            for (_, a), (_, b) in zip(plain, decoded):
                np.testing.assert_allclose(a, b, rtol=1e-12)
    assert printed_o == sorted(printed_o), printed_o


@pytest.mark.parametrize("threshold", [0, 1, -0.5, 2, float("nan")])
def test_a_threshold_outside_0_1_is_refused_for_a_model_of_several_labels(threshold):
    task = Task("tags", "softmax", TagSet("iob2", ("A",)))
    with pytest.raises(ValueError, match=r"threshold lies in \(0, 1\)"):
        task.decode(np.full((2, 3), 1 / 3), threshold)


@pytest.mark.parametrize(
    "model, kwargs, error, words",
    [
        ("default", {"threshold": "0.3"}, TypeError, "threshold is a number, not '0.3'"),
        ("lecture", {"threshold": True}, TypeError, "threshold is a number, not True"),
        ("lecture", {"threshold": float("nan")}, ValueError, "threshold is a finite number"),
        ("default", {"threshold": 1}, ValueError, r"a tags model's threshold lies in \(0, 1\)"),
        ("default", {"show": 3}, TypeError, 'show is "PER,LOC" or a list of type names, not 3'),
        ("lecture", {"show": ["PER", 3]}, TypeError, "a list of type names, not"),
    ],
)
def test_a_threshold_or_show_of_the_wrong_kind_is_refused_when_set(model, kwargs, error, words):
    """Tagger.load(threshold="0.3") once loaded, and the first text tagged raised NumPy's "'<'
    not supported between 'int' and 'str'"; show=3 raised "'int' object is not iterable"."""
    from rnnkit.ner.tagger import Tagger

    with pytest.raises(error, match=words):
        Tagger.load(model, **kwargs)
    tagger = Tagger.load(model)
    with pytest.raises(error, match=words):
        if "threshold" in kwargs:
            tagger.threshold = kwargs["threshold"]
        else:
            tagger.show = kwargs["show"]
    assert tagger.threshold == 0.5  # nothing changed by the refused setting
    per = Tagger.load("lecture", threshold=0)  # a per model's any finite threshold still stands
    assert per.threshold == 0.0
    assert Tagger.load("default", show=("LOC", "PER")).show == ("LOC", "PER")
