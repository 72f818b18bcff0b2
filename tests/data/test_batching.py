import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.batching import Batch, make_batches


def padding_fraction(batches):
    """The fraction of batch steps that are padding, over all batches."""
    return 1 - sum(int(b.mask.sum()) for b in batches) / sum(b.mask.size for b in batches)


def sentences(lengths, k=2):
    """Sentence i has ids 10*i + t + 1 (never 0) in every column and labels t % 3 + 1."""
    xs = [np.tile((10 * i + np.arange(n) + 1)[:, None], (1, k)) for i, n in enumerate(lengths)]
    ys = [np.arange(n) % 3 + 1 for n in lengths]
    return xs, ys


def test_hand_made_case_sorted_without_rng():
    xs, ys = sentences([3, 1, 2], k=2)
    batches = make_batches(xs, ys, batch_size=2)
    assert [b.index.tolist() for b in batches] == [[2, 1], [0]]  # longest first in a batch
    b = batches[0]
    assert b.x.shape == (2, 2, 2) and b.y.shape == (2, 2) and b.mask.dtype == bool
    assert b.x[:, :, 0].tolist() == [[21, 22], [11, 0]]
    assert b.y.tolist() == [[1, 2], [1, 0]]
    assert b.mask.tolist() == [[True, True], [True, False]]
    assert b.lengths.tolist() == [2, 1]
    assert padding_fraction(batches) == pytest.approx(1 / 7)


def test_single_column_gives_two_dimensional_x():
    xs, ys = sentences([2, 3], k=1)
    for inputs in (xs, [x[:, 0] for x in xs]):
        (b,) = make_batches(inputs, ys, batch_size=4)
        assert b.x.shape == (2, 3)
        assert b.x.tolist() == [[11, 12, 13], [1, 2, 0]]


@pytest.mark.parametrize("k, n", [(2, 3), (1, 4), (2, 0)])
def test_one_sentence_is_its_own_batch_copied(k, n):
    """The one-sentence batch (a server's request) is what the sorting path gives: int64
    copies (a caller's arrays are never written through the batch), every step real."""
    (x,), (y,) = sentences([n], k=k)
    for inputs in ([x], [x[:, 0]]) if k == 1 else ([x],):
        (b,) = make_batches(inputs, [y], batch_size=4, max_tokens=2)
        want = x[None, :, 0] if k == 1 else x[None]
        assert b.x.dtype == b.y.dtype == np.int64 and b.x.shape == want.shape
        assert b.x.tolist() == want.tolist() and b.y.tolist() == [y.tolist()]
        assert b.mask.shape == (1, n) and b.mask.all() and b.index.tolist() == [0]
        b.x[...] = -1
        assert (inputs[0] >= 0).all()
    (b,) = make_batches([x], None, batch_size=1)
    assert b.y is None


def test_without_labels():
    xs, _ = sentences([2, 3])
    (b,) = make_batches(xs, None, batch_size=2)
    assert b.y is None and b.mask.sum() == 5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), max_size=120),
    st.integers(1, 16),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_batches_hold_every_sentence_once_unchanged(lengths, batch_size, seed, shuffle):
    xs, ys = sentences(lengths)
    rng = np.random.default_rng(seed) if shuffle else None
    batches = make_batches(xs, ys, batch_size, rng)
    seen = np.concatenate([b.index for b in batches]) if batches else np.array([], int)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert isinstance(b, Batch) and 1 <= len(b.index) <= batch_size
        for row, i in enumerate(b.index):
            n = lengths[i]
            assert b.mask[row].tolist() == [True] * n + [False] * (b.mask.shape[1] - n)
            assert np.array_equal(b.x[row, :n], xs[i]) and np.array_equal(b.y[row, :n], ys[i])
            assert not b.x[row, n:].any() and not b.y[row, n:].any()
    if shuffle:  # same seed, same batches
        again = make_batches(xs, ys, batch_size, np.random.default_rng(seed))
        assert [b.index.tolist() for b in again] == [b.index.tolist() for b in batches]


def test_shuffled_batches_are_random_but_tightly_padded():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=2000)
    xs, ys = sentences(lengths, k=1)
    a = make_batches(xs, ys, 32, np.random.default_rng(1))
    b = make_batches(xs, ys, 32, np.random.default_rng(2))
    assert [x.index.tolist() for x in a] != [x.index.tolist() for x in b]
    naive = [slice(i, i + 32) for i in range(0, 2000, 32)]
    naive_padding = 1 - lengths.sum() / sum(32 * lengths[s].max() for s in naive)
    assert padding_fraction(a) < 0.1 < naive_padding
    assert padding_fraction(make_batches(xs, ys, 32)) <= padding_fraction(a)


def test_rejects_inconsistent_input():
    xs, ys = sentences([2, 3])
    with pytest.raises(ValueError):
        make_batches(xs, ys[:1], 2)
    with pytest.raises(ValueError):
        make_batches(xs, [ys[1], ys[0]], 2)
    with pytest.raises(ValueError):
        make_batches([xs[0], xs[1][:, :1]], None, 2)
    with pytest.raises(ValueError):
        make_batches(xs, ys, 0)


def test_empty_input():
    assert make_batches([], [], 4) == []


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=120),
    st.integers(1, 16),
    st.integers(1, 100),
)
def test_token_budget_bounds_every_batch(lengths, batch_size, max_tokens):
    xs, ys = sentences(lengths)
    batches = make_batches(xs, ys, batch_size, max_tokens=max_tokens)
    seen = np.concatenate([b.index for b in batches]) if batches else np.array([], int)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for b in batches:
        B, T = b.mask.shape
        assert 1 <= B <= batch_size
        assert max(max_tokens, T) >= B * T  # over the budget only as one sentence alone
        assert max_tokens >= B * T or B == 1
        for row, i in enumerate(b.index):
            assert np.array_equal(b.x[row, : lengths[i]], xs[i])


def test_one_long_sentence_does_not_pad_its_batch():
    """Issue 11, item 12: a 20,000-token sentence among 300 ordinary ones is batched alone."""
    lengths = [20] * 150 + [20_000] + [20] * 150
    xs, _ = sentences(lengths, k=1)
    batches = make_batches(xs, None, 256, max_tokens=4096)
    padded = sum(b.mask.size for b in batches)
    assert padded == sum(lengths)  # no padding at all: the long one is alone
    assert max(b.mask.size for b in batches) == 20_000
    (alone,) = [b for b in batches if b.mask.shape[1] == 20_000]
    assert alone.index.tolist() == [150]
    with pytest.raises(ValueError):
        make_batches(xs, None, 256, np.random.default_rng(0), max_tokens=4096)
    with pytest.raises(ValueError):
        make_batches(xs, None, 256, max_tokens=0)
