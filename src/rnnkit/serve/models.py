"""The models a server offers: the one it was started with and the shipped ones, by name.

Each is loaded on first use (the served one at start, so that a bad --model fails before the
port opens) and gets its own Batcher. A request names a model only from this list: never a path.
"""

import asyncio
import math
import threading

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
    def __init__(self, model=None, window=0.002, show=None):
        check_window(window)
        self.default = "default" if model is None else str(model)
        self.names = (self.default, *(name for name in SHIPPED if name != self.default))
        self.window = window
        self._taggers = {self.default: _load(model, show)}
        self._batchers = {}  # (name, the types shown or None) -> Batcher
        self._locks = {}  # name -> the lock its Batchers share (Batcher)
        self._loading = asyncio.Lock()

    async def get(self, name=None, show=None):
        """A model's name -> its Batcher (which holds its Tagger), loading it on first use.
        show: the entity types to answer with ("PER,LOC"; None: those the model shows); one
        Batcher per set of types, at most 2^types of them. RnnkitError for a type it lacks."""
        name = self.default if name is None else name
        if name not in self.names:
            raise UnknownModel(
                f"no model named {name!r}; this server offers {', '.join(self.names)}"
            )
        if name not in self._taggers:
            async with self._loading:
                if name not in self._taggers:
                    self._taggers[name] = await asyncio.to_thread(_load, name)
        tagger = self._taggers[name]
        if show is not None:  # in the model's order, so that "LOC,PER" is "PER,LOC"
            shown = set(tagger.task.check_show(show))
            show = tuple(t for t in tagger.task.tagset.types if t in shown)
        key = (name, show)
        if key not in self._batchers:
            lock = self._locks.setdefault(name, threading.Lock())
            variant = tagger if show is None else tagger.showing(show)
            self._batchers[key] = Batcher(variant, window=self.window, lock=lock)
        return self._batchers[key]

    async def close(self):
        for batcher in self._batchers.values():
            await batcher.close()


def _load(model, show=None):
    tagger = Tagger.load(model, show=show)  # a type it lacks: refused before the port opens
    tagger.tag("Warm up.")  # the first call's one-time costs, before any request waits for them
    return tagger


def describe(name, tagger):
    """What GET /model tells about a model: its name, task, entity types (those it answers with,
    and all it learned, which `show` may name), scores and settings."""
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
        "learned": list(tagger.task.tagset.types),
        "scores": scores or {},
        "features": list(tagger.featurizer.to_json().get("groups", [])),
        "settings": meta.get("model", {}),
    }
