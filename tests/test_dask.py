"""Tagging on a real multi-process Dask cluster gives, byte for byte, what one process gives."""

import pytest

pytest.importorskip("distributed")

import dask.bag as db
from distributed import Client, LocalCluster

from rnnkit.cli import main
from rnnkit.dask import read_documents, tag_bag
from rnnkit.ner.tagger import Tagger

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    # Two worker processes of one thread each: small, but the model crosses process borders.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture
def corpus(tmp_path):
    docs = tmp_path / "corpus"
    docs.mkdir()
    for i in range(6):
        (docs / f"doc{i}.txt").write_bytes(
            (
                "\ufeff" * (i == 0)
                + f"Angela Merkel met Olaf\r\nScholz {i} times in Berlin.\r\n\r\n" * (i + 1)
                + "Jürgen Müller visited 東京 😀 with Teddy Roosevelt.\n"
            ).encode()
        )
    (docs / "empty.txt").write_text("")
    return docs


def test_cli_on_the_cluster_writes_what_one_process_writes(cluster, corpus, tmp_path, capsys):
    pattern = f"{corpus}/*.txt"
    assert main(["tag", "--input", pattern, "--out", str(tmp_path / "one.jsonl")]) == 0
    assert main(["tag", "--input", pattern, "--out", f"{tmp_path}/one/"]) == 0
    address = cluster.scheduler_address
    assert main(["tag", "--input", pattern, "--dask", address, "--out", str(tmp_path / "d")]) == 0
    assert capsys.readouterr().err == ""
    parts = sorted((tmp_path / "d").iterdir())
    assert [p.name for p in parts] == [f"part-0000{i}.jsonl" for i in range(7)]
    assert b"".join(p.read_bytes() for p in parts) == (tmp_path / "one.jsonl").read_bytes()
    for part in parts:
        assert part.read_bytes() == (tmp_path / "one" / part.name).read_bytes()


def test_the_cluster_shows_the_types_and_threshold_asked_for(cluster, corpus, tmp_path, capsys):
    # The workers apply --show and --threshold to the model they load, as one process does.
    pattern, options = f"{corpus}/*.txt", ["--show", "PER,LOC", "--threshold", "0.3"]
    assert main(["tag", "--input", pattern, *options, "--out", f"{tmp_path}/one/"]) == 0
    address = cluster.scheduler_address
    assert (
        main(["tag", "--input", pattern, *options, "--dask", address, "--out", f"{tmp_path}/d/"])
        == 0
    )
    assert capsys.readouterr().err == ""
    parts = sorted((tmp_path / "d").iterdir())
    assert [p.read_bytes() for p in parts] == [
        (tmp_path / "one" / p.name).read_bytes() for p in parts
    ]
    assert b'"type": "LOC"' in b"".join(p.read_bytes() for p in parts)  # Berlin


def test_tag_bag_takes_show_as_a_list_as_tagger_does():
    # show=["PER", "LOC"] once failed in every worker: a list is no key of their taggers
    import dask

    text = "Angela Merkel visited Paris."
    bag = db.from_sequence([text], npartitions=1)
    with dask.config.set(scheduler="synchronous"):
        (result,) = tag_bag(bag, show=["PER", "LOC"]).compute()
    assert result == Tagger.load(show="PER,LOC").tag(text)


def test_tag_bag_maps_the_tagger_over_texts_and_documents(cluster, corpus):
    tagger = Tagger.load()
    texts = [f"Teddy Roosevelt was here {i} times ." for i in range(50)] + ["", "Olaf\nScholz"]
    paths = sorted(str(p) for p in corpus.iterdir())
    bag = db.from_sequence(texts, npartitions=4)
    with Client(cluster):
        results = tag_bag(bag, batch_size=8).compute()
        records = tag_bag(read_documents(paths), model="default").compute()
        partitions = bag.map_partitions(lambda texts: [list(texts)]).compute()
    # A partition is tagged as Tagger.pipe tags it, in batches of the same texts.
    assert results == [r for p in partitions for r in tagger.pipe(p, batch_size=8)]
    assert records == [r for path in paths for r in tagger.tag_file(path)]
