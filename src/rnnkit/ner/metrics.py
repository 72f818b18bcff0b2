"""Entity-level scores as the CoNLL shared tasks' conlleval script computes them.

An entity (chunk) is a span of tokens with one type. Chunks are read from
B-/I-/O tags with conlleval's rules, which accept IOB2 and IOB1 and make sense of
ill-formed sequences: a chunk starts at ``B-X``, and at an ``I-X`` that follows
``O``, the sentence start or a tag of another type; it ends before ``O``, ``B-``
or a tag of another type. A predicted entity is correct only when its type,
start and end all match a gold entity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Span = tuple[str, int, int]  # (type, start, end), end exclusive


def _split(tag: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"not an IOB tag: {tag!r} (expected O, B-TYPE or I-TYPE)")


def spans_from_bio(tags: Sequence[str]) -> list[Span]:
    """The chunks of one sentence's IOB1/IOB2 tags, as (type, start, end) in order."""
    spans: list[Span] = []
    start, typ = None, ""  # the open chunk, if any
    for i, tag in enumerate(tags):
        kind, t = _split(tag)
        # conlleval: a chunk ends at O, at B-, and at any change of type; since I-
        # continues only a chunk of its own type, "ends" and "starts" coincide here.
        if start is not None and (kind != "I" or t != typ):
            spans.append((typ, start, i))
            start = None
        if kind != "O" and start is None:
            start, typ = i, t
    if start is not None:
        spans.append((typ, start, len(tags)))
    return spans


def spans_from_binary(labels: Sequence[int]) -> list[Span]:
    """The lecture's person task: each maximal run of 1s is a ``"PER"`` entity."""
    return spans_from_bio(binary_to_bio(labels))


def binary_to_bio(labels: Sequence[int]) -> list[str]:
    """0/1 person labels as IOB2 tags: a run of 1s becomes B-PER I-PER ..., 0 becomes O."""
    tags = []
    prev = 0
    for label in labels:
        if label not in (0, 1):
            raise ValueError(f"binary labels must be 0 or 1, not {label!r}")
        tags.append("O" if label == 0 else ("I-PER" if prev == 1 else "B-PER"))
        prev = label
    return tags


def _prf(n_correct: int, n_pred: int, n_gold: int) -> dict[str, float]:
    # 0 rather than a division by zero when nothing was predicted or nothing was there.
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Score predicted tag sequences against gold ones, sentence by sentence.

    Returns a JSON-serialisable dict::

        {"precision", "recall", "f1": overall, over entities, in [0, 1],
         "accuracy": fraction of tokens whose tag is right,
         "n_gold", "n_pred", "n_correct": entity counts, "n_tokens",
         "per_type": {type: {"precision", "recall", "f1",
                             "support" (= n_gold), "n_pred", "n_correct"}}}

    ``per_type`` has every type seen in gold or predictions, sorted by name.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    gold_counts: Counter[str] = Counter()
    pred_counts: Counter[str] = Counter()
    correct_counts: Counter[str] = Counter()
    n_tokens = n_right_tags = 0
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        g_spans = spans_from_bio(g)
        p_spans = spans_from_bio(p)
        gold_counts.update(t for t, _, _ in g_spans)
        pred_counts.update(t for t, _, _ in p_spans)
        correct_counts.update(t for t, _, _ in set(g_spans) & set(p_spans))
        n_tokens += len(g)
        n_right_tags += sum(a == b for a, b in zip(g, p))

    per_type = {}
    for typ in sorted(gold_counts | pred_counts):
        per_type[typ] = {
            **_prf(correct_counts[typ], pred_counts[typ], gold_counts[typ]),
            "support": gold_counts[typ],
            "n_pred": pred_counts[typ],
            "n_correct": correct_counts[typ],
        }
    n_gold, n_pred, n_correct = (
        sum(c.values()) for c in (gold_counts, pred_counts, correct_counts)
    )
    return {
        **_prf(n_correct, n_pred, n_gold),
        "accuracy": n_right_tags / n_tokens if n_tokens else 0.0,
        "n_gold": n_gold,
        "n_pred": n_pred,
        "n_correct": n_correct,
        "n_tokens": n_tokens,
        "per_type": per_type,
    }
