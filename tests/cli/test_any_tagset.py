"""A tag set of the user's own: made-up types (DRUG, DOSE) in BIOES train, evaluate and tag end
to end, through the command line and through Python, and come back with their types."""

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data.conll import read_conll
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import TrainConfig, train
from support import one_line_error

try:
    from seqeval.metrics import classification_report
except ImportError:  # in the test extra
    classification_report = None

DRUGS = [["aspirin"], ["ibuprofen"], ["vitamin", "C"], ["insulin"], ["folic", "acid"]]
NUMBERS = ["5", "10", "50", "200"]
UNITS = ["mg", "ml", "units"]
FILLER = ["the", "patient", "was", "given", "daily", "then", "twice"]
SMALL = ["--n-a", "16", "--features", "word,shape", "--bidirectional", "--batch", "8"]
SMALL += ["--lr", "1e-2", "--epochs", "3", "--quiet"]


def bioes(words, typ):
    if len(words) == 1:
        return [f"S-{typ}"]
    return [f"B-{typ}"] + [f"I-{typ}"] * (len(words) - 2) + [f"E-{typ}"]


def write_drug_corpus(path, n, seed):
    """Sentences 'She took DRUG DOSE ...' tagged in BIOES."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        drug = DRUGS[rng.integers(len(DRUGS))]
        dose = [NUMBERS[rng.integers(len(NUMBERS))], UNITS[rng.integers(len(UNITS))]]
        filler = [FILLER[rng.integers(len(FILLER))] for _ in range(rng.integers(1, 3))]
        words = ["She", "took", *drug, *dose, *filler, "."]
        tags = ["O", "O", *bioes(drug, "DRUG"), *bioes(dose, "DOSE")] + ["O"] * (len(filler) + 1)
        lines += [f"{w} {t}" for w, t in zip(words, tags)] + [""]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


@pytest.fixture(scope="module")
def drugs(tmp_path_factory):
    d = tmp_path_factory.mktemp("drugs")
    return write_drug_corpus(d / "train.txt", 200, 0), write_drug_corpus(d / "dev.txt", 40, 1)


@pytest.mark.parametrize(
    "output, spelling, cell",
    [
        ("crf", [], "rnn"),
        ("softmax", [], "rnn"),
        ("crf", ["4"], "rnn"),
        ("crf", ["4"], "gru"),
        ("crf", [], "gru --n-e 16"),  # a GRU reading e<t> = E x<t>
    ],
)
def test_bioes_types_of_our_own_through_the_command_line(
    drugs, tmp_path, capsys, output, spelling, cell
):
    out = tmp_path / "model"
    argv = ["train", "--task", "tags", "--train", str(drugs[0]), "--dev", str(drugs[1])]
    argv += ["--char-hidden", *spelling] if spelling else []
    argv += ["--cell", *cell.split()]
    assert main([*argv, "--out", str(out), "--output", output, *SMALL]) == 0
    tagger = Tagger.load(out)
    assert tagger.task.tagset.scheme == "bioes" and tagger.task.tagset.types == ("DOSE", "DRUG")
    assert tagger.task.crf == (output == "crf") and tagger.spells == bool(spelling)
    assert tagger.model.cell == cell.split()[0]
    assert tagger.model.n_e == (16 if "--n-e" in cell else None)
    capsys.readouterr()

    assert main(["eval", "--model", str(out), "--data", str(drugs[1]), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores["per_type"]) == {"DOSE", "DRUG"}
    assert scores["f1"] > 0.8

    assert main(["tag", "--model", str(out), "She took vitamin C 10 mg daily ."]) == 0
    assert capsys.readouterr().out.strip() == "She took [vitamin C](DRUG) [10 mg](DOSE) daily ."

    predicted = tmp_path / "predicted.txt"
    argv = ["predict", "--model", str(out), "--data", str(drugs[1]), "--out", str(predicted)]
    assert main(argv) == 0
    rows = [line.split() for line in predicted.read_text().splitlines() if line]
    assert {r[1][:2] for r in rows} <= {"O", "B-", "I-"}  # written as IOB2, as conlleval reads
    if classification_report is not None:  # eval's scores are seqeval's on the same predictions
        sentences = [(s.tags, read) for s, read in zip(read_conll(drugs[1]), _columns(predicted))]
        report = classification_report(
            [g for g, _ in sentences], [p for _, p in sentences], output_dict=True
        )
        for typ in ("DOSE", "DRUG"):
            assert scores["per_type"][typ]["f1"] == pytest.approx(report[typ]["f1-score"])
        assert scores["f1"] == pytest.approx(report["micro avg"]["f1-score"])


def _columns(path):
    """The predicted column of a `token gold pred` file, sentence by sentence."""
    sentences, current = [], []
    for line in Path(path).read_text().splitlines() + [""]:
        if line.strip():
            current.append(line.split()[-1])
        elif current:
            sentences.append(current)
            current = []
    return sentences


def test_bioes_types_of_our_own_through_python(drugs, tmp_path):
    config = TrainConfig(
        task="tags", n_a=16, features=("word", "shape"), bidirectional=True, batch=8, lr=1e-2,
        epochs=3, output="crf",
    )  # fmt: skip
    history = train(config, *drugs, tmp_path, log=lambda msg: None)
    assert max(h["dev_f1"] for h in history) > 0.8
    result = Tagger.load(tmp_path).tag("She took aspirin 50 mg.")
    assert [(e["text"], e["type"]) for e in result["entities"]] == [
        ("aspirin", "DRUG"),
        ("50 mg", "DOSE"),
    ]


def write(path, sentences):
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences)
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def people_corpus(tmp_path):
    """Two spellings of the person type, and places."""
    train = []
    for i in range(60):
        name = ["Anna", "Boris", "Maria"][i % 3]
        place = ["Paris", "Berlin"][i % 2]
        kind = ["PERSON", "person"][i % 2]
        train.append([(name, f"B-{kind}"), ("visited", "O"), (place, "B-LOC"), (".", "O")])
    dev = [[("Maria", "B-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")]] * 5
    return write(tmp_path / "train.txt", train), write(tmp_path / "dev.txt", dev)


def test_types_and_map_join_spellings_and_keep_a_subset(tmp_path, capsys):
    train_file, dev_file = people_corpus(tmp_path)
    out = tmp_path / "model"
    argv = ["train", "--task", "tags", "--train", str(train_file), "--dev", str(dev_file)]
    argv += ["--out", str(out), "--map", "PERSON=PER,person=PER", "--types", "PER", *SMALL]
    assert main(argv) == 0
    tagger = Tagger.load(out)
    assert tagger.task.tagset.types == ("PER",) and tagger.task.tags == ("O", "B-PER", "I-PER")
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--data", str(train_file), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores["per_type"]) == {"PER"}  # mapped on reading; LOC is not kept
    assert scores["n_gold"] == 60


def test_without_types_every_type_of_the_data_is_learned(tmp_path, capsys):
    train_file, dev_file = people_corpus(tmp_path)
    out = tmp_path / "model"
    argv = ["train", "--task", "tags", "--train", str(train_file), "--dev", str(dev_file)]
    assert main([*argv, "--out", str(out), *SMALL]) == 0
    assert Tagger.load(out).task.tagset.types == ("LOC", "PERSON", "person")
    err = capsys.readouterr().err  # the dev set's PER is no type of the training data
    assert "warning:" in err and str(dev_file) in err and "type PER not in the training data" in err


@pytest.mark.parametrize("task", ["tags", "bio"])
def test_a_type_to_keep_that_the_training_data_lacks_is_refused(task, tmp_path, capsys):
    # A typo in --types would be an output the model never learns (and eval a row of zeros)
    train_file, dev_file = people_corpus(tmp_path)
    out = tmp_path / "model"
    argv = ["train", "--task", task, "--train", str(train_file), "--dev", str(dev_file)]
    argv += ["--out", str(out), "--map", "PERSON=PER,person=PER", "--types", "PER,NOPE"]
    assert main([*argv, *SMALL]) == 1
    one_line_error(capsys.readouterr().err, "--types names NOPE", "it has PER after --map")
    assert not out.exists()


def test_a_bio_tag_made_by_map_names_its_line(tmp_path, capsys):
    # --map PER=PERSON makes a type the bio task lacks; the error names the line of the PER
    # tag it came from (it once searched the file's tags for B-PERSON, and crashed)
    _, dev_file = people_corpus(tmp_path)
    argv = ["train", "--task", "bio", "--train", str(dev_file), "--dev", str(dev_file)]
    argv += ["--out", str(tmp_path / "m"), "--map", "PER=PERSON", *SMALL]
    assert main(argv) == 1
    one_line_error(capsys.readouterr().err, f"{dev_file}:1:", "B-PERSON is not one of the bio")


def test_inconsistent_tags_are_one_error_naming_file_and_line(tmp_path, capsys):
    bad = write(
        tmp_path / "bad.txt", [[("EU", "B-ORG"), ("said", "O")], [("in", "O"), ("Paris", "I-LOC")]]
    )
    dev = write(tmp_path / "dev.txt", [[("Paris", "B-LOC")]])
    argv = ["train", "--task", "tags", "--dev", str(dev), "--out", str(tmp_path / "m"), *SMALL]
    assert main([*argv, "--train", str(bad), "--scheme", "iob2"]) == 1
    one_line_error(capsys.readouterr().err, f"{bad}:5:", "'I-LOC' follows O", "never opened")
    bioes_file = write(
        tmp_path / "bioes.txt", [[("took", "O"), ("folic", "B-DRUG"), ("acid", "E-DRUG")]]
    )
    assert main([*argv, "--train", str(bioes_file), "--scheme", "bio"]) == 1
    one_line_error(capsys.readouterr().err, f"{bioes_file}:3:", "'E-DRUG'", "declared IOB2")


def test_a_crf_run_resumes_bit_identically(drugs, tmp_path):
    """The CRF's scores are parameters like the RNN's: checkpointed with their Adam moments."""
    settings = dict(task="tags", n_a=8, batch=16, lr=1e-2, output="crf", seed=3)
    quiet = dict(log=lambda msg: None, keep_checkpoint=True)
    train(TrainConfig(**settings, epochs=2), *drugs, tmp_path / "straight", **quiet)
    train(TrainConfig(**settings, epochs=1), *drugs, tmp_path / "resumed", **quiet)
    train(TrainConfig(**settings, epochs=2), *drugs, tmp_path / "resumed", resume=True, **quiet)
    a, b = (storage.load(tmp_path / d / "checkpoint.npz")[0] for d in ("straight", "resumed"))
    assert {"param:crf.A", "opt.m:crf.A", "opt.v:crf.end"} <= set(a) and set(a) == set(b)
    assert all((a[k] == b[k]).all() for k in a)


def test_a_mixed_file_is_read_as_iob1_with_a_warning_unless_declared(drugs, tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["train", "--task", "tags", "--train", str(drugs[0]), "--dev", str(drugs[1])]
    assert main([*argv, "--out", str(out), "--n-a", "4", "--epochs", "1", "--quiet"]) == 0
    mixed = write(tmp_path / "mixed.txt", [[("aspirin", "B-DRUG")], [("50", "I-DOSE")]])
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--data", str(mixed), "--scheme", "iob2"]) == 1
    one_line_error(capsys.readouterr().err, f"{mixed}:3:", "declared IOB2")
    assert main(["eval", "--model", str(out), "--data", str(mixed), "--scheme", "iob1"]) == 0
    assert "warning" not in capsys.readouterr().err  # declared: read as told, without a word
    assert main(["eval", "--model", str(out), "--data", str(mixed)]) == 0  # undeclared
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith(f"rnnkit: warning: {mixed}:3: 'I-DOSE' follows the sentence start")


def test_decode_argmax_is_each_tokens_best_tag_and_viterbi_keeps_iob2(trained, corpus, tmp_path):
    tagger = Tagger.load(trained)
    argmax = []  # each sentence alone, each token's most probable tag
    for s in read_conll(corpus[1]):
        y_hat, _ = tagger.model.forward(tagger.featurizer.encode(s.tokens)[None])
        argmax.append([tagger.task.tags[i] for i in y_hat[0].argmax(-1)])
    for decode, out in (("argmax", tmp_path / "a.txt"), ("viterbi", tmp_path / "v.txt")):
        argv = ["predict", "--model", str(trained), "--data", str(corpus[1]), "--out", str(out)]
        assert main([*argv, "--decode", decode]) == 0
    assert _columns(tmp_path / "a.txt") == argmax
    for tags in _columns(tmp_path / "v.txt"):  # IOB2: an I- continues a chunk of its type
        assert all(t[0] != "I" or p[2:] == t[2:] for p, t in zip(["O", *tags], tags))


def as_iob2(path, out):
    """A BIOES file written as IOB2, by hand: S- begins a chunk as B- does, E- continues it."""
    to_iob2 = {"S-": "B-", "E-": "I-"}
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line:
            word, tag = line.split()
            line = f"{word} {to_iob2.get(tag[:2], tag[:2])}{tag[2:]}"
        rows.append(line)
    Path(out).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Path(out)


@pytest.mark.parametrize(
    "files, model_scheme",
    [
        ("iob2", "bioes"),  # BIO files, a model that learns where a chunk ends
        ("bioes", "iob2"),  # and the other way round
        ("iob2", "bilou"),
    ],
)
def test_the_model_learns_the_scheme_it_is_given_whatever_the_files(
    drugs, tmp_path, capsys, files, model_scheme
):
    train_file, dev_file = drugs
    if files == "iob2":
        train_file = as_iob2(train_file, tmp_path / "train.txt")
        dev_file = as_iob2(dev_file, tmp_path / "dev.txt")
    out = tmp_path / "model"
    argv = ["train", "--task", "tags", "--train", str(train_file), "--dev", str(dev_file)]
    argv += ["--output", "crf", "--model-scheme", model_scheme, "--out", str(out)]
    assert main([*argv, *SMALL]) == 0
    tagger = Tagger.load(out)  # the scheme is in the model file's header
    assert tagger.task.tagset.scheme == model_scheme
    prefixes = {"iob2": "BI", "bioes": "BIES", "bilou": "BILU"}[model_scheme]
    assert {t[0] for t in tagger.task.tags} == set("O" + prefixes)
    # gold IOB2 "vitamin C" is learned as B-DRUG E-DRUG (or L-), "aspirin" as S- (or U-)
    y = tagger.task.labels(["O", "B-DRUG", "I-DRUG", "B-DRUG"])
    expected = {"iob2": "O B I B", "bioes": "O B E S", "bilou": "O B L U"}[model_scheme]
    assert [tagger.task.tags[i][0] for i in y] == expected.split()
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--data", str(dev_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["f1"] > 0.8
    assert main(["tag", "--model", str(out), "She took vitamin C 10 mg daily ."]) == 0
    assert capsys.readouterr().out.strip() == "She took [vitamin C](DRUG) [10 mg](DOSE) daily ."


def test_a_bio_model_may_learn_bioes_and_keeps_it_in_its_file(tmp_path):
    train_file, dev_file = people_corpus(tmp_path)
    config = TrainConfig(
        task="bio", n_a=16, features=("word", "shape"), batch=8, lr=1e-2, epochs=1,
        type_map="PERSON=PER,person=PER", model_scheme="IOBES",
    )  # fmt: skip
    assert config.model_scheme == "bioes"  # an alias, spelt as rnnkit spells it
    train(config, train_file, dev_file, tmp_path / "m", log=lambda msg: None)
    tagger = Tagger.load(tmp_path / "m")
    assert tagger.task.name == "bio" and tagger.task.tagset.scheme == "bioes"
    assert len(tagger.task.tags) == 1 + 4 * 4  # O, and B- I- E- S- of the four CoNLL types
    meta = storage.load(tmp_path / "m" / "model.npz")[1]
    assert meta["task"] == "bio" and meta["tagset"]["scheme"] == "bioes"


@pytest.mark.parametrize("settings, words", [
    ({"task": "per", "model_scheme": "bioes"},
     ["--model-scheme and --show go with --task bio or tags"]),
    ({"task": "bio", "model_scheme": "iob1"}, ["a model does not learn IOB1"]),
    ({"task": "bio", "model_scheme": "BIOX"}, ["unknown tag scheme 'BIOX'"]),
])  # fmt: skip
def test_a_model_scheme_that_cannot_be_learned_is_refused(settings, words):
    with pytest.raises(RnnkitError) as e:
        TrainConfig(**settings)
    for word in words:
        assert word in str(e.value)
