"""Tagging many texts and documents: in batches, lazily, in input order, on one process or several.

tagger.pipe(texts, batch_size=64, workers=2)   # like spaCy's nlp.pipe: one result per text
tagger.tag_file("report.txt")                   # one tagged paragraph at a time

One predict call over the sentences of a batch of texts costs little more than over those of
one text (the time goes into the same batched products), so texts are tagged a batch at a
time. With workers > 1, batches go to a pool of processes, each of which loads the model once;
at most a few batches per worker are in flight, so memory stays bounded however long the
input, and results come back in input order.
"""

import contextlib
import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import groupby, islice
from operator import itemgetter

from rnnkit.data.batching import check_count
from rnnkit.data.documents import Paragraph, read_paragraphs
from rnnkit.data.tokenize import iter_sentences, iter_tokens
from rnnkit.ner import formats
from rnnkit.ner.tagger import Tagger, tagged_sentence

BATCH_SIZE = 64  # texts (or paragraphs) per batch
MAX_LEN = 100  # tokens per sentence, as in Tagger.tag


def pipe(tagger, texts, batch_size=BATCH_SIZE, workers=1):
    """An iterator of ``tagger.tag(text)`` for each of ``texts`` (any iterable), lazily and in
    order; batch_size and workers are checked now, not at the first result.

    A ŷ may differ from tag's in its last digit: the texts of a batch are tagged together, and
    the products of a batch round a little differently from those of one text."""
    check_counts(batch_size, workers)
    return _map_batches(tag_texts, batched(texts, batch_size), workers, tagger)


def tag_file(tagger, path, batch_size=BATCH_SIZE, workers=1):
    """An iterator of the tagged paragraphs of the document at ``path`` ("-": standard input),
    lazily, with offsets into the file's text (see rnnkit.data.documents and
    rnnkit.ner.formats); batch_size and workers are checked now."""
    check_counts(batch_size, workers)
    return _map_batches(tag_paragraphs, batched(read_paragraphs(path), batch_size), workers, tagger)


def check_counts(batch_size, workers):
    """ValueError unless both are whole numbers >= 1."""
    check_count("batch_size", batch_size)
    check_count("workers", workers)


def render_documents(model, paths, fmt, batch_size=BATCH_SIZE, workers=1, encoding="utf-8"):
    """Tag the documents at ``paths`` and yield (document number, piece of output in ``fmt``),
    in input order; ``model`` is a Tagger or what Tagger.load takes (each worker loads it once)."""
    paragraphs = (
        (i, p) for i, path in enumerate(paths) for p in read_paragraphs(path, encoding=encoding)
    )
    # A batch never spans two documents: the products of one batch round a little differently
    # from another's, and a document's output must not depend on the documents tagged with it
    # (nor on whether Dask, which tags each document on its own, tagged it).
    batches = (
        batch
        for _, numbered in groupby(paragraphs, key=itemgetter(0))
        for batch in batched(numbered, batch_size)
    )
    yield from _map_batches(_render_batch, batches, workers, model, fmt)


def tag_texts(tagger, texts, max_len=MAX_LEN):
    """Raw texts -> what ``tagger.tag(text)`` gives for each, with one predict call for all."""
    sentences, predictions = _predict(tagger, texts, max_len)
    return [_result(text, ss, predictions) for text, ss in zip(texts, sentences)]


def tag_paragraphs(tagger, paragraphs, max_len=MAX_LEN):
    """Paragraphs -> tagged paragraphs: the result of Tagger.tag with where it lies in its
    document, every offset counted from the start of the document's text."""
    sentences, predictions = _predict(tagger, [p.text for p in paragraphs], max_len)
    out = []
    for p, ss in zip(paragraphs, sentences):
        result = _result(p.text, ss, predictions)
        out.append(
            {
                "doc": p.doc,
                "paragraph": p.index,
                "start": p.start,
                "end": p.start + len(p.text),
                "sentences": [
                    {"start": s[0].start + p.start, "end": s[-1].end + p.start} for s in ss
                ],
                "text": p.text,
                "tokens": [_shift(t, p.start) for t in result["tokens"]],
                "entities": [_shift(e, p.start) for e in result["entities"]],
            }
        )
    return out


def tag_items(tagger, items, max_len=MAX_LEN):
    """Texts (str) and Paragraphs, mixed in any order -> their results, in order."""
    is_paragraph = [isinstance(x, Paragraph) for x in items]
    paragraphs = iter(
        tag_paragraphs(tagger, [x for x in items if isinstance(x, Paragraph)], max_len)
    )
    texts = iter(tag_texts(tagger, [x for x in items if not isinstance(x, Paragraph)], max_len))
    return [next(paragraphs) if p else next(texts) for p in is_paragraph]


def _predict(tagger, texts, max_len):
    # Texts -> their sentences (lists of Tokens) and an iterator over the sentences' Predictions.
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts are str, not {type(text).__name__}: {text!r:.60}")
    sentences = [list(iter_sentences(iter_tokens(text), max_len=max_len)) for text in texts]
    return sentences, iter(tagger.predict([[t.text for t in s] for ss in sentences for s in ss]))


def _shift(span, by):
    return {**span, "start": span["start"] + by, "end": span["end"] + by}


def _result(text, sentences, predictions):
    # The object Tagger.tag builds; tests hold the two equal.
    tokens, entities = [], []
    for sentence in sentences:
        tagged_sentence(text, sentence, next(predictions), tokens, entities)
    return {"text": text, "tokens": tokens, "entities": entities}


def _render_batch(tagger, numbered, fmt):
    # (document number, paragraph) pairs -> (document number, its piece of output)
    records = tag_paragraphs(tagger, [p for _, p in numbered])
    return [(i, formats.render(fmt, r)) for (i, _), r in zip(numbered, records)]


# -- batches, on this process or a pool ------------------------------------------------------
def batched(items: Iterable, size: int) -> Iterator[list]:
    check_count("batch_size", size)
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch


def _map_batches(fn, batches, workers, model, *args):
    """The results of fn(tagger, batch, *args), one per item of each batch, in order.
    ``model``: a Tagger, or what Tagger.load takes."""
    check_count("workers", workers)
    if workers == 1:
        tagger = _as_tagger(model)
        results = (fn(tagger, batch, *args) for batch in batches)
    else:
        results = _pool_map(fn, batches, workers, model, args)
    for batch in results:
        yield from batch


def _pool_map(fn, batches, workers, model, args):
    # "spawn" starts clean interpreters: forking a process that holds BLAS or Numba threads
    # can deadlock. Each worker loads the model once, in _start_worker.
    # A Tagger's threshold is not in its file: the workers are given it.
    threshold = model.threshold if isinstance(model, Tagger) else 0.5
    with _model_file(model) as path:
        pool = ProcessPoolExecutor(
            workers, multiprocessing.get_context("spawn"), _start_worker, (path, threshold)
        )
        pending = deque()
        try:
            for batch in batches:
                pending.append(pool.submit(_in_worker, fn, batch, args))
                if len(pending) >= 2 * workers:  # keep every worker busy, and memory bounded
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _model_file(model):
    """What the workers load: a model's path or name as given; a Tagger in memory (which does
    not pickle) saved to a temporary file for the time the pool runs."""
    if not isinstance(model, Tagger):
        yield model
        return
    with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
        path = os.path.join(tmp, "model.npz")
        model.save(path)
        yield path


_worker_tagger = None  # the model of this worker process


def _start_worker(model, threshold):
    global _worker_tagger
    _worker_tagger = _as_tagger(model)
    _worker_tagger.threshold = threshold
    # One BLAS thread per process: the processes are the parallelism. The limit is set after a
    # first prediction, which loads the compiled kernel and with it SciPy's BLAS: a limit set
    # before a library loads does not reach it.
    _worker_tagger.predict([["Warm", "up", "."]])
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    except ImportError:
        pass


def _in_worker(fn, batch, args):
    return fn(_worker_tagger, batch, *args)


def _as_tagger(model):
    return model if isinstance(model, Tagger) else Tagger.load(model)
