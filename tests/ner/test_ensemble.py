"""Ensembles (rnnkit.ner.ensemble): several taggers of one task decoded as one, checked against
every tag path enumerated on short sentences, and against one tagger for an ensemble of copies."""

import copy
import itertools
import json

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data.features import Featurizer
from rnnkit.errors import RnnkitError
from rnnkit.ner.ensemble import Ensemble
from rnnkit.ner.tagger import Tagger, shipped_model_path
from rnnkit.ner.tagsets import TagSet
from rnnkit.ner.tasks import CRF_PARAMS, TASKS, Task
from rnnkit.nn.model import RNN
from rnnkit.nn.viterbi import path_score

SENTENCES = [["took", "aspirin", "50", "mg"], ["aspirin"], ["50", "mg", "took"], ["mg", "x"]]
TASK_OF = {
    "crf": Task("tags", "linear", TagSet("bioes", ("DRUG",)), crf=True),
    "softmax": Task("tags", "softmax", TagSet("bioes", ("DRUG",))),
    "per": TASKS["per"],
}


def random_tagger(kind, seed, groups=("word",)):
    """An untrained tagger of `kind` with every weight drawn at random (the CRF's too), so that
    members disagree; the feature groups may differ between members."""
    task = TASK_OF[kind]
    featurizer = Featurizer.build(SENTENCES[: 1 + seed % 3], groups=groups)
    output = {"crf": "linear", "softmax": "softmax", "per": "sigmoid"}[kind]
    model = RNN(featurizer.n_x, 4, task.n_y, output=output, bidirectional=True, seed=seed)
    task.attach(model)
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.normal(scale=1.5, size=p.shape)
    return Tagger(model, featurizer, task)


def scores_of(tagger, sentence):
    """A member's ŷ (T, n_y) of one sentence, through its own features and model."""
    [(_, y_hat, mask)] = tagger.model_outputs([sentence])
    return np.array(y_hat[0, : int(mask[0].sum())], dtype=np.float64)


def test_model_outputs_refuses_a_text_when_called():
    tagger = random_tagger("crf", 1)
    with pytest.raises(TypeError, match="model_outputs takes sentences as token lists"):
        tagger.model_outputs(["took aspirin"])  # not iterated: refused at the call
    with pytest.raises(TypeError, match="ask each of its members"):
        Ensemble([tagger]).model_outputs([["took"]])


def members(kind):
    return [
        random_tagger(kind, 1),
        random_tagger(kind, 2, ("word", "shape")),
        random_tagger(kind, 3),
    ]


def allowed_paths(task, T):
    allowed, start, end = task.tagset.transitions
    for path in itertools.product(range(task.n_y), repeat=T):
        if (
            start[path[0]]
            and end[path[-1]]
            and all(allowed[i, j] for i, j in itertools.pairwise(path))
        ):
            yield path


def test_a_crf_ensemble_takes_the_path_of_the_highest_mean_score_and_its_marginals():
    taggers = members("crf")
    ensemble = Ensemble(taggers)
    task = ensemble.task
    for sentence, got in zip(SENTENCES, ensemble.predict(SENTENCES)):
        T = len(sentence)
        z = [scores_of(t, sentence) for t in taggers]

        def mean_score(path, z=z):  # each member's s_k(y), with its own A, start and end
            y = np.array(path)[None]
            total = 0
            for zk, tagger in zip(z, taggers):
                A, start, end = (tagger.model.params[k] for k in CRF_PARAMS)
                total += path_score(zk[None], y, A, None, start, end)[0]
            return total / len(taggers)

        best = max(allowed_paths(task, T), key=mean_score)
        assert task.tagset.ids(got.tags).tolist() == list(best)
        # p(y<t> = j | x) of the ensemble: exp(mean score) normalised over every path
        every = list(itertools.product(range(task.n_y), repeat=T))
        weights = np.exp([mean_score(p) for p in every])
        weights /= weights.sum()
        for t, j in enumerate(best):
            want = sum(w for p, w in zip(every, weights) if p[t] == j)
            assert got.probs[t] == pytest.approx(want, rel=1e-4)


def test_a_softmax_ensemble_decodes_the_normalised_geometric_mean_of_its_members():
    taggers = members("softmax")
    ensemble = Ensemble(taggers)
    task = ensemble.task
    for sentence, got in zip(SENTENCES, ensemble.predict(SENTENCES)):
        log_y = np.mean([np.log(scores_of(t, sentence)) for t in taggers], axis=0)
        y = np.exp(log_y) / np.exp(log_y).sum(axis=1, keepdims=True)
        best = max(
            allowed_paths(task, len(sentence)), key=lambda p: np.log(y[range(len(p)), p]).sum()
        )
        assert task.tagset.ids(got.tags).tolist() == list(best)
        assert np.allclose(got.probs, y[range(len(best)), best], rtol=1e-5)


def test_a_per_ensemble_takes_the_sigmoid_of_its_members_mean_logit():
    taggers = members("per")
    ensemble = Ensemble(taggers, threshold=0.4)
    for sentence, got in zip(SENTENCES, ensemble.predict(SENTENCES)):
        p = np.stack([scores_of(t, sentence)[:, 0] for t in taggers])
        y = 1 / (1 + np.exp(-np.mean(np.log(p / (1 - p)), axis=0)))
        person = y >= 0.4
        assert [tag != "O" for tag in got.tags] == person.tolist()
        assert np.allclose(got.probs, np.where(person, y, 1 - y), rtol=1e-5)


@pytest.mark.parametrize("kind", ["crf", "softmax", "per"])
def test_an_ensemble_of_copies_of_one_tagger_tags_as_it_does(kind):
    tagger = random_tagger(kind, 5, ("word", "shape"))
    for n in (1, 3):
        ensemble = Ensemble([tagger] * n)
        for a, b in zip(tagger.predict(SENTENCES), ensemble.predict(SENTENCES, batch_size=2)):
            assert a.tags == b.tags and np.allclose(a.probs, b.probs, atol=1e-6)
        text = "took aspirin 50 mg. x"
        assert ensemble.tag(text) == tagger.tag(text)


def test_members_of_different_tasks_are_refused_naming_the_member():
    with pytest.raises(RnnkitError, match=r"^conll \(shipped\): its task \(bio, a CRF.*default"):
        Ensemble.load(["default", "conll"])
    with pytest.raises(TypeError, match="non-empty list of Taggers"):
        Ensemble([])
    with pytest.raises(TypeError, match="non-empty list of Taggers"):
        Ensemble.load([])
    with pytest.raises(TypeError, match="not ensembles"):
        Ensemble([Ensemble([random_tagger("crf", 1)])])


def test_an_ensemble_keeps_show_and_threshold_refuses_save_and_worker_processes(tmp_path):
    ensemble = Ensemble.load(["default", "default"])
    assert ensemble.show == ("PER",)  # the members' own
    one = Ensemble.load(shipped_model_path("default"))  # a path alone: an ensemble of one
    assert len(one.members) == 1 and one.names == ["default (shipped)"]
    assert [e["type"] for e in ensemble.tag("Angela Merkel visited Paris.")["entities"]] == ["PER"]
    with pytest.raises(ValueError, match=r"lies in \(0, 1\)"):
        ensemble.threshold = 1.5
    with pytest.raises(RnnkitError, match="not one model file"):
        ensemble.save(tmp_path / "e.npz")
    assert not (tmp_path / "e.npz").exists()
    with pytest.raises(ValueError, match="one process"):
        ensemble.pipe(["Ann met Bob."], workers=2)
    assert [r["text"] for r in ensemble.pipe(["Ann met Bob.", "x"])] == ["Ann met Bob.", "x"]


def test_rnnkit_eval_and_predict_take_several_models_as_one(tmp_path, capsys):
    data = tmp_path / "gold.txt"
    data.write_text("Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n\nTeddy O\nbears O\n")
    assert (
        main(["eval", "--model", "conll", "--model", "conll", "--data", str(data), "--json"]) == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["model"] == "conll (shipped) + conll (shipped)"
    assert main(["eval", "--model", "conll", "--data", str(data), "--json"]) == 0
    assert {**json.loads(capsys.readouterr().out), "model": ""} == {**scores, "model": ""}
    out = tmp_path / "pred.txt"
    argv = ["predict", "--model", "default", "--model", "default", "--data", str(data)]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.read_text().splitlines()[:2] == ["Angela B-PER B-PER", "Merkel I-PER I-PER"]
    assert main(["eval", "--model", "default", "--model", "conll", "--data", str(data)]) != 0
    assert "its task" in capsys.readouterr().err


def test_rnnkit_tag_takes_several_models_in_one_process_only(tmp_path, capsys):
    text = "Angela Merkel met Teddy Roosevelt."
    assert main(["tag", "--model", "default", text]) == 0
    alone = capsys.readouterr().out
    assert main(["tag", "--model", "default", "--model", "default", text]) == 0
    assert capsys.readouterr().out == alone == "[Angela Merkel](PER) met [Teddy Roosevelt](PER).\n"
    doc = tmp_path / "doc.txt"
    doc.write_text(text)
    argv = ["tag", "--model", "default", "--model", "default", "--input", str(doc)]
    assert main([*argv, "--workers", "2", "--out", str(tmp_path / "out.jsonl")]) == 1
    assert "one process" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
    assert main([*argv, "--out", str(tmp_path / "out.jsonl")]) == 0
    assert '"text": "Teddy Roosevelt"' in (tmp_path / "out.jsonl").read_text()


@pytest.mark.parametrize("command", [["serve"], ["bench", "--data", "x.txt"]])
def test_serve_and_bench_refuse_a_second_model_rather_than_take_the_last(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--model", "default", "--model", "conll"])
    assert exit.value.code == 2
    assert "--model is given once here" in capsys.readouterr().err


def test_tagger_load_of_several_models_points_to_the_ensemble():
    with pytest.raises(TypeError, match=r"takes one model, not 2; .*rnnkit\.Ensemble\.load"):
        Tagger.load(["default", "conll"])


def test_rnnkit_ensemble_is_the_ensemble_imported_on_first_use():
    import rnnkit

    assert (
        rnnkit.Ensemble is Ensemble and "Ensemble" in dir(rnnkit) and "Ensemble" in rnnkit.__all__
    )


def test_an_ensemble_decodes_in_batches_bounded_as_a_taggers(monkeypatch):
    """One long sentence among short ones is decoded alone, not padding 255 others to its
    length (a tagger's max_tokens bound holds for the ensemble's own decoding too)."""
    tagger = random_tagger("crf", 5)
    sentences = [["took", "aspirin"]] * 300 + [["mg"] * 5000] + [["x"]] * 10
    ensemble = Ensemble([tagger, tagger])
    sizes, decode = [], ensemble.task.decode_batch

    def spy(y_hat, mask, *args):
        sizes.append(y_hat.shape[:2])
        return decode(y_hat, mask, *args)

    monkeypatch.setattr(ensemble, "task", copy.copy(ensemble.task))
    object.__setattr__(ensemble.task, "decode_batch", spy)
    got = ensemble.predict(sentences, batch_size=256, max_tokens=1000)
    assert all(m * T <= max(1000, T) and m <= 256 for m, T in sizes)
    assert (1, 5000) in sizes
    for a, b in zip(tagger.predict(sentences), got):
        assert a.tags == b.tags and np.allclose(a.probs, b.probs, atol=1e-6)
