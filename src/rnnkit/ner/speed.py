"""How fast a tagger runs on the user's own data: tokens per second, and the latency of one
sentence, as `rnnkit bench` reports them. Every figure is a median over repeats, after a first
call that warms up (and, with Numba, compiles) what the calls run."""

import itertools
import statistics
import time

# A short sentence (CoNLL-2003's training sentences: median 10 tokens, mean 14.5), and the length
# benchmarks/compare_torch.py times, so that the two latencies compare.
LATENCY_TOKENS = 12


def tokens_per_second(tag, texts, n_tokens, repeats=5):
    """n_tokens / the median seconds of tag(texts) over `repeats` passes."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    tag(texts)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        tag(texts)
        seconds.append(time.perf_counter() - start)
    return n_tokens / statistics.median(seconds)


def latency(tagger, tokens, calls=1000, before_each=None):
    """The median seconds of tagger.predict([tokens]): one sentence, one call. before_each: run
    (untimed) before every call, e.g. to empty a memory the calls would otherwise share."""
    if calls < 1:
        raise ValueError(f"calls must be at least 1, not {calls}")
    sentence = [list(tokens)]
    for _ in range(min(calls, 50)):
        tagger.predict(sentence)
    seconds = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        if before_each is not None:
            before_each()
        start = clock()
        tagger.predict(sentence)
        seconds.append(clock() - start)
    return statistics.median(seconds) * 1e-9


def sentence_of_length(sentences, n=LATENCY_TOKENS):
    """The first sentence (a token list) of n tokens; failing one, the first n tokens of the
    sentences run together, repeated if they hold fewer. Empty when they hold no token."""
    exact = next((s for s in sentences if len(s) == n), None)
    if exact is not None:
        return list(exact)
    words = list(itertools.chain.from_iterable(sentences))
    return list(itertools.islice(itertools.cycle(words), n))
