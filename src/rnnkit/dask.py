"""Tagging on a Dask cluster (the dask extra: pip install 'rnnkit[dask]').

    import dask.bag as db
    from rnnkit.dask import tag_bag
    results = tag_bag(db.from_sequence(texts, npartitions=8), model="default").compute()

Each worker process loads the model once, the first time one of its tasks needs it, and
keeps it; the model is named by what Tagger.load takes (a shipped name, or a path that every
worker can read), so no model travels with the tasks. A partition is tagged a batch at a time,
as Tagger.pipe does, so the results equal those of one process.
"""

import logging
import os
import threading

import dask
import dask.bag as db

from rnnkit.data.documents import read_paragraphs
from rnnkit.errors import RnnkitError
from rnnkit.io.atomic import atomic_writer
from rnnkit.ner import formats
from rnnkit.ner.pipeline import BATCH_SIZE, batched, tag_items

_taggers = {}  # (model, show, threshold) -> Tagger, in this worker process
_lock = threading.Lock()  # a worker's threads share its taggers


def tag_bag(bag, model=None, batch_size=BATCH_SIZE, show=None, threshold=None):
    """A bag of texts (str) and Paragraphs -> a bag of their results (Tagger.tag's object, or a
    tagged paragraph as rnnkit.ner.pipeline.tag_paragraphs makes it), in the same order.
    show, threshold: as Tagger has them (None: the model's own)."""
    return bag.map_partitions(_tag_partition, model, batch_size, _hashable(show), threshold)


def _hashable(show):
    """show as a key of the workers' taggers: "PER,LOC" as it is, a list of types as a tuple."""
    return tuple(show) if isinstance(show, list | set | frozenset) else show


def read_documents(paths):
    """A bag of the paragraphs of the documents at `paths`, one partition per document, read by
    the workers (so the paths must be theirs to open)."""
    return db.from_sequence(paths, npartitions=max(1, len(paths))).map_partitions(_read_partition)


def tag_files(
    paths, out_dir, model=None, fmt="jsonl", address="local", workers=None, show=None,
    threshold=None,
):  # fmt: skip
    """Tag the documents at `paths` on the cluster at `address` ('local' starts one of processes
    on this machine) and write document i to out_dir/part-0000i.<fmt>, as `rnnkit tag --input
    ... --out DIR` does on one machine, byte for byte; show and threshold as tag_bag takes them."""
    from distributed import Client, LocalCluster

    from rnnkit.ner.tagger import Tagger

    # A model that cannot load, or a type it lacks, is refused here, not in every worker's log
    Tagger.load(model, show=show, threshold=threshold)
    run = (paths, out_dir, model, fmt, show, threshold)
    if address == "local":
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,  # not the workers' start and stop
            ) as cluster,
            Client(cluster) as client,
        ):
            return _compute(client, *run)
    try:
        client = Client(address)
    except (ValueError, OSError) as e:  # not an address, or no scheduler answers there
        raise RnnkitError(f"--dask {address}: cannot reach a Dask scheduler there ({e})") from None
    with client:
        return _compute(client, *run)


def _compute(client, paths, out_dir, model, fmt, show, threshold):
    """Write the documents' parts on the cluster of `client` (out_dir made once it is up)."""
    os.makedirs(out_dir, exist_ok=True)
    bag = read_documents(paths)
    pieces = tag_bag(bag, model, show=show, threshold=threshold).map(_render, fmt)
    writes = [
        dask.delayed(_write_part)(part, os.path.join(out_dir, formats.part_name(i, fmt)), fmt)
        for i, part in enumerate(pieces.to_delayed())
    ]
    return client.compute(writes, sync=True)


def _tagger(model, show=None, threshold=None):
    from rnnkit.ner.tagger import Tagger

    key = (model, show, threshold)
    with _lock:
        if key not in _taggers:
            _taggers[key] = Tagger.load(model, show=show, threshold=threshold)
        return _taggers[key]


def _tag_partition(items, model, batch_size, show=None, threshold=None):
    tagger = _tagger(model, show, threshold)
    return [r for batch in batched(items, batch_size) for r in tag_items(tagger, batch)]


def _read_partition(paths):
    return [p for path in paths for p in read_paragraphs(path)]


def _render(record, fmt):
    return formats.render(fmt, record)


def _write_part(pieces, path, fmt):
    with atomic_writer(path) as f:
        f.write(formats.header(fmt))
        f.writelines(pieces)
        f.write(formats.footer(fmt))
    return path
