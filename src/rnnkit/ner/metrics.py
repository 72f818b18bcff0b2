"""Entity-level scores as the CoNLL shared tasks' conlleval script computes them.

An entity (chunk) is a span of tokens with one type, read from B-/I-/O tags with
conlleval's rules (`rnnkit.ner.schemes`). A predicted entity is correct only when
its type, start and end all match a gold entity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rnnkit.ner.schemes import spans_from_bio


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
