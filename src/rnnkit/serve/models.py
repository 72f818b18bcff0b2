"""The models a server offers: the one it was started with and the shipped ones, by name.

Each is loaded on first use (the served one at start, so that a bad --model fails before the
port opens) and gets its own Batcher. A request names a model only from this list: never a path.
"""

import asyncio
import math

from rnnkit.ner.tagger import SHIPPED, Tagger
from rnnkit.serve.batching import Batcher

MAX_WINDOW = 1.0  # seconds; a lone request waits this long at most for others to join it


def check_window(window, timeout=math.inf):
    """Refuse a batch window (seconds) that would hold every lone request too long, or until its
    timeout: then every request would be answered 503."""
    if not 0 <= window <= MAX_WINDOW:  # nan and inf fail too
        raise ValueError(f"the batch window must be 0 to {MAX_WINDOW:g} s, not {window}")
    if window >= timeout:
        raise ValueError(
            f"the batch window ({window:g} s) must be shorter than the timeout ({timeout:g} s)"
        )


class UnknownModel(LookupError):
    pass


class Models:
    def __init__(self, model=None, window=0.002):
        check_window(window)
        self.default = "default" if model is None else str(model)
        self.names = (self.default, *(name for name in SHIPPED if name != self.default))
        self.window = window
        self._taggers = {self.default: _load(model)}
        self._batchers = {}
        self._loading = asyncio.Lock()

    async def get(self, name=None):
        """A model's name -> its Batcher (which holds its Tagger), loading it on first use."""
        name = self.default if name is None else name
        if name not in self.names:
            raise UnknownModel(
                f"no model named {name!r}; this server offers {', '.join(self.names)}"
            )
        if name not in self._taggers:
            async with self._loading:
                if name not in self._taggers:
                    self._taggers[name] = await asyncio.to_thread(_load, name)
        if name not in self._batchers:
            self._batchers[name] = Batcher(self._taggers[name], window=self.window)
        return self._batchers[name]

    async def close(self):
        for batcher in self._batchers.values():
            await batcher.close()


def _load(model):
    tagger = Tagger.load(model)
    tagger.tag("Warm up.")  # the first call's one-time costs, before any request waits for them
    return tagger


def describe(name, tagger):
    """What GET /model tells about a model: its name, task, entity types, scores and settings."""
    meta = tagger.meta
    types = list(tagger.show or tagger.task.tagset.types)
    scores = meta.get("shipped_scores")
    if scores is None and "dev" in meta:  # a model from `rnnkit train`: its best dev scores
        scores = {
            "valid": {k: meta["dev"].get(k) for k in ("f1", "precision", "recall", "accuracy")}
        }
    return {
        "name": name,
        "task": tagger.task.name,
        "types": types,
        "scores": scores or {},
        "features": list(tagger.featurizer.to_json().get("groups", [])),
        "settings": meta.get("model", {}),
    }
