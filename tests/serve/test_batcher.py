"""The Batcher on its own: a batch tagged in chunks, in order, and a request that timed out
dropped at the next chunk."""

import asyncio
import threading

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")

from rnnkit.ner.tagger import Tagger
from rnnkit.serve import batching
from rnnkit.serve.batching import Batcher, tag_json

TEXTS = [
    "Angela Merkel met Barack Obama in Berlin.",
    "",
    'He said, "Teddy Roosevelt was a great President." Olaf Scholz agreed.',
    "x" * 150,  # longer than a chunk: a chunk of its own
    "José Martínez visited Zürich.",
]


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


@pytest.fixture
def calls(monkeypatch):
    """The number of texts of each tag_json call the Batcher makes."""
    counted = []

    def counting(tagger, texts):
        counted.append(len(texts))
        return tag_json(tagger, texts)

    monkeypatch.setattr(batching, "tag_json", counting)
    return counted


def test_a_batch_in_chunks_answers_each_request_its_results_in_order(tagger, calls):
    requests = [TEXTS, [], TEXTS[::-1], TEXTS[:1], TEXTS * 3]
    batcher = Batcher(tagger, window=0.05, max_chars=100, max_texts=3)

    async def run():
        try:
            return await asyncio.gather(*(batcher.tag(texts) for texts in requests))
        finally:
            await batcher.close()

    answers = asyncio.run(run())
    assert answers == [[tag_json(tagger, [t])[0] for t in texts] for texts in requests]
    assert max(calls) <= 3 and sum(calls) == sum(map(len, requests))


def test_a_request_that_timed_out_is_not_tagged_past_the_next_chunk(tagger, calls, monkeypatch):
    release = threading.Event()
    counting = batching.tag_json

    def held(tagger, texts):  # the first chunk waits until its request has timed out
        release.wait(30)
        return counting(tagger, texts)

    monkeypatch.setattr(batching, "tag_json", held)
    batcher = Batcher(tagger, window=0, max_chars=1000, max_texts=10)
    want = tag_json(tagger, ["Olaf Scholz."])

    async def run():
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(batcher.tag(["Angela Merkel."] * 500), 0.1)
            release.set()
            # One worker: once a later request is answered, the first one's work has stopped.
            assert await batcher.tag(["Olaf Scholz."]) == want
        finally:
            release.set()
            await batcher.close()

    asyncio.run(run())
    # The chunk in flight when the request timed out, and at most one more; not all 500 texts.
    assert sum(calls[:-1]) <= 2 * 10 and calls[-1] == 1
