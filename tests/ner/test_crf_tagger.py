"""Taggers for any tag set: Viterbi decoding within the scheme's rules, the CRF output layer
trained through the RNN (central differences over the whole model), and the task in the model
file."""

import itertools
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.features import Featurizer
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tagsets import Relabel, TagSet
from rnnkit.ner.tasks import BIO_TAGS, CRF_PARAMS, TASKS, Task
from rnnkit.nn.gradcheck import gradcheck
from rnnkit.nn.losses import loss_and_dlogits
from rnnkit.nn.model import RNN


def crf_task(scheme="bioes", types=("DRUG", "DOSE")):
    return Task("tags", "linear", TagSet(scheme, types), crf=True)


def softmax_task(scheme="bioes", types=("DRUG", "DOSE"), decoding="viterbi"):
    return Task("tags", "softmax", TagSet(scheme, types), decoding=decoding)


def test_the_bio_task_keeps_its_tags_and_file_header():
    assert TASKS["bio"].tags == BIO_TAGS == (
        "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC",
    )  # fmt: skip
    assert TASKS["bio"].to_meta() == {"task": "bio"} and TASKS["per"].to_meta() == {"task": "per"}
    assert Task.from_meta({"task": "bio"}) is TASKS["bio"]


@pytest.mark.parametrize(
    "task",
    [
        crf_task(),
        softmax_task("io", ("GENE",)),
        Task("tags", "softmax", TagSet("iob2", ("PER",)), relabel=Relabel((("PERSON", "PER"),))),
        Task("bio", "linear", TASKS["bio"].tagset, crf=True, relabel=Relabel(keep=("PER",))),
    ],
)
def test_the_task_survives_the_model_header(task):
    assert Task.from_meta(task.to_meta()) == task


def random_y_hat(draw, m, T, n_y):
    logits = np.array(
        draw(st.lists(st.floats(-30, 30), min_size=m * T * n_y, max_size=m * T * n_y))
    ).reshape(m, T, n_y)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(["iob2", "io", "bioes", "bilou"]), st.integers(1, 3))
def test_viterbi_decoding_never_emits_a_forbidden_transition(data, scheme, n_types):
    task = softmax_task(scheme, ("A", "B", "C")[:n_types])
    m, T = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    y_hat = random_y_hat(data.draw, m, T, task.n_y)
    lengths = [data.draw(st.integers(1, T)) for _ in range(m)]
    lengths[0] = T  # right-padded batches have a longest row
    mask = np.arange(T) < np.array(lengths)[:, None]
    allowed, start, end = task.tagset.transitions
    for (tags, probs), n, row in zip(
        task.decode_batch(y_hat * mask[..., None], mask), lengths, y_hat
    ):
        assert len(tags) == n
        ids = task.tagset.ids(tags)  # the IOB2 tags back in the model's scheme
        assert start[ids[0]] and end[ids[-1]]
        assert all(allowed[i, j] for i, j in itertools.pairwise(ids))
        assert np.allclose(probs, row[np.arange(n), ids])
        # and no allowed path is more probable (every path of a short sentence enumerated)
        if n <= 4:
            best = max(
                np.log(row[np.arange(n), list(p)]).sum()
                for p in itertools.product(range(task.n_y), repeat=n)
                if start[p[0]]
                and end[p[-1]]
                and all(allowed[i, j] for i, j in itertools.pairwise(p))
            )
            assert np.log(row[np.arange(n), ids]).sum() == pytest.approx(best, abs=1e-9)


def test_argmax_decoding_is_each_steps_best_tag():
    rng = np.random.default_rng(0)
    y_hat = rng.dirichlet(np.ones(9), size=7)
    tags, probs = Task("bio", "softmax", TASKS["bio"].tagset, decoding="argmax").decode(y_hat)
    assert tags == [BIO_TAGS[i] for i in y_hat.argmax(1)]
    assert (probs == y_hat.max(1)).all()


def small_model(task, seed=0, dtype=np.float64):
    model = RNN(7, 4, task.n_y, output=task.output, bidirectional=True, seed=seed, dtype=dtype)
    task.attach(model)
    return model


def test_gradcheck_of_the_rnn_and_crf_together():
    task = crf_task()
    model = small_model(task)
    rng = np.random.default_rng(1)
    for name in CRF_PARAMS:  # away from zero, where the CRF is the softmax
        model.params[name][...] = rng.normal(size=model.params[name].shape)
    x = rng.integers(0, 7, (3, 4))
    y = rng.integers(0, task.n_y, (3, 4))
    mask = np.arange(4) < np.array([4, 3, 1])[:, None]
    with_crf = SimpleNamespace(
        params=model.params,
        loss_and_grads=partial(model.loss_and_grads, loss_fn=task.loss_fn(model.params)),
    )
    errors = gradcheck(with_crf, x, y, mask)
    assert set(errors) == set(model.params) and set(CRF_PARAMS) <= set(errors)
    assert max(errors.values()) < 1e-7, errors


def test_the_loss_hook_gives_the_outputs_own_loss_bit_for_bit():
    model = small_model(softmax_task(), dtype=np.float32)
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 7, (2, 5)), rng.integers(0, model.n_y, (2, 5))
    mask = np.arange(5) < np.array([5, 2])[:, None]

    def softmax_loss(logits, y, mask):
        loss, d = loss_and_dlogits(logits, y, mask.astype(logits.dtype), "softmax")
        return loss, d, {}

    loss, grads = model.loss_and_grads(x, y, mask)
    loss2, grads2 = model.loss_and_grads(x, y, mask, loss_fn=softmax_loss)
    assert loss == loss2 and all((grads[k] == grads2[k]).all() for k in grads)


def test_an_untrained_crf_is_the_softmax():
    task = crf_task()
    model = small_model(task)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 7, (2, 3)), rng.integers(0, model.n_y, (2, 3))
    crf_loss, _ = model.loss_and_grads(x, y, loss_fn=task.loss_fn(model.params))
    logits = model._forward(x).logits
    softmax_loss, _ = loss_and_dlogits(logits, y, np.ones((2, 3)), "softmax")
    assert crf_loss == pytest.approx(softmax_loss, rel=1e-12)


def test_a_crf_tagger_saves_loads_and_predicts_the_same(tmp_path):
    task = crf_task()
    featurizer = Featurizer.build([["took", "aspirin", "50", "mg"]], groups=("word",))
    model = RNN(featurizer.n_x, 4, task.n_y, output="linear", seed=0)
    task.attach(model)
    rng = np.random.default_rng(4)
    for p in model.params.values():
        p[...] = rng.normal(size=p.shape)
    tagger = Tagger(model, featurizer, task)
    tagger.save(tmp_path / "m.npz")
    loaded = Tagger.load(tmp_path / "m.npz")
    assert loaded.task == task and set(loaded.model.params) == set(model.params)
    sentences = [["took", "aspirin", "50", "mg"], ["aspirin"], ["50", "mg", "took"]]
    for a, b in zip(tagger.predict(sentences), loaded.predict(sentences)):
        assert a.tags == b.tags and np.allclose(a.probs, b.probs)
        ids = task.tagset.ids(a.tags)  # a CRF decodes within the scheme's rules too
        allowed, start, end = task.tagset.transitions
        assert (
            start[ids[0]]
            and end[ids[-1]]
            and all(allowed[i, j] for i, j in itertools.pairwise(ids))
        )
        assert ((a.probs > 0) & (a.probs <= 1)).all()  # marginals of the chosen tags
