"""Tagging the texts of concurrent requests together.

One Tagger.predict call over the sentences of many texts costs little more than over those of
one text (the time goes into the same batched products), so under load the server gathers what
is pending and tags it in one call. The call runs on a thread: the event loop meanwhile reads
the next requests, which form the next batch.
"""

import asyncio

from rnnkit.ner.formats import json_line
from rnnkit.ner.pipeline import tag_texts


def tag_json(tagger, texts):
    """Raw texts -> each one's result as `rnnkit tag --json` prints it, with one predict call."""
    return [json_line(result) for result in tag_texts(tagger, texts)]


class Batcher:
    """One worker that tags, for one tagger, the texts of all pending requests in one call.

    When a request finds the worker idle, the worker waits `window` seconds for others to join
    it; under load, requests queue while a batch is tagged and need no wait. A batch stops
    growing at `max_chars` characters so that one batch's latency stays bounded.
    """

    def __init__(self, tagger, window=0.002, max_chars=200_000):
        self.tagger, self.window, self.max_chars = tagger, window, max_chars
        self._queue = self._worker = None

    async def tag(self, texts):
        """Texts -> their results as JSON text, in order."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue))
        future = loop.create_future()
        self._queue.put_nowait((texts, future))
        return await future

    async def close(self):
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _run(self, queue):
        while True:
            jobs = [await queue.get()]
            if queue.empty():
                await asyncio.sleep(self.window)
            size = sum(map(len, jobs[0][0]))
            while size < self.max_chars and not queue.empty():
                jobs.append(queue.get_nowait())
                size += sum(map(len, jobs[-1][0]))
            jobs = [job for job in jobs if not job[1].done()]  # those that timed out are gone
            texts = [text for job_texts, _ in jobs for text in job_texts]
            try:
                results = await asyncio.to_thread(tag_json, self.tagger, texts)
            except Exception as e:  # a bug, not the input: each request answers 500, we go on
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(e)
                continue
            at = 0
            for job_texts, future in jobs:
                if not future.done():
                    future.set_result(results[at : at + len(job_texts)])
                at += len(job_texts)
