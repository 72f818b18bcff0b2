"""Tagging the texts of concurrent requests together.

One Tagger.predict call over the sentences of many texts costs little more than over those of
one text (the time goes into the same batched products), so under load the server gathers what
is pending and tags it in one call. The call runs on a thread: the event loop meanwhile reads
the next requests, which form the next batch.

A thread cannot be stopped, so a batch is tagged in chunks of bounded size: a request that
timed out is dropped at the next chunk, and no one waits behind work whose answer nobody reads.
"""

import asyncio
import threading
from dataclasses import dataclass, field

from rnnkit.ner.formats import json_line
from rnnkit.ner.pipeline import tag_texts


def tag_json(tagger, texts):
    """Raw texts -> each one's result as `rnnkit tag --json` prints it, with one predict call."""
    return [json_line(result) for result in tag_texts(tagger, texts)]


@dataclass
class Job:
    """One request's texts, the future it awaits, and the results of its texts tagged so far."""

    texts: list
    future: asyncio.Future
    results: list = field(default_factory=list)

    def finished(self):
        return len(self.results) == len(self.texts)


class Batcher:
    """One worker that tags, for one tagger, the texts of all pending requests together.

    When a request finds the worker idle, the worker waits `window` seconds for others to join
    it; under load, requests queue while a batch is tagged and need no wait. A batch stops
    growing at `max_chars` characters, and is tagged in chunks of at most `max_chars` characters
    and `max_texts` texts (a longer text is a chunk of its own), so that one call's time and
    memory stay bounded.
    """

    def __init__(self, tagger, window=0.002, max_chars=200_000, max_texts=1_000, lock=None):
        self.tagger, self.window = tagger, window
        self.max_chars, self.max_texts = max_chars, max_texts
        # Held while tagging: Batchers of one model shown differently share it, as a model's
        # remembered features and spellings are not for two threads at once
        self._lock = lock or threading.Lock()
        self._queue = self._worker = None

    async def tag(self, texts):
        """Texts -> their results as JSON text, in order."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue))
        future = loop.create_future()
        self._queue.put_nowait(Job(texts, future))
        return await future

    async def close(self):
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _run(self, queue):
        while True:
            await self._tag_batch(await self._gather(queue))

    async def _gather(self, queue):
        # The pending jobs, up to max_chars characters (at least one job).
        jobs = [await queue.get()]
        if queue.empty():
            await asyncio.sleep(self.window)
        size = sum(map(len, jobs[0].texts))
        while size < self.max_chars and not queue.empty():
            jobs.append(queue.get_nowait())
            size += sum(map(len, jobs[-1].texts))
        return jobs

    async def _tag_batch(self, jobs):
        # A chunk at a time; each job is answered as soon as its last text is tagged.
        while True:
            for job in jobs:
                if job.finished() and not job.future.done():
                    job.future.set_result(job.results)
            jobs = [job for job in jobs if not job.future.done()]  # answered, or timed out
            if not jobs:
                return
            chunk = self._next_chunk(jobs)
            try:
                results = await asyncio.to_thread(self._tag, [job.texts[i] for job, i in chunk])
            except Exception as e:  # a bug, not the input: each request answers 500, we go on
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(e)
                return
            for (job, _), result in zip(chunk, results):
                job.results.append(result)

    def _tag(self, texts):
        with self._lock:
            return tag_json(self.tagger, texts)

    def _next_chunk(self, jobs):
        # (job, index of a text) pairs: the next texts to tag, in order, at least one.
        chunk, size = [], 0
        for job in jobs:
            for i in range(len(job.results), len(job.texts)):
                chunk.append((job, i))
                size += len(job.texts[i])
                if size >= self.max_chars or len(chunk) >= self.max_texts:
                    return chunk
        return chunk
