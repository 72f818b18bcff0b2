"""The model against the lecture's equations: by hand, by a reference loop, by finite
differences."""

import math

import numpy as np
import pytest

import rnnkit
from rnnkit.nn.reference import reference_forward


def small_model():
    m = rnnkit.RNN(n_x=2, n_a=2, n_y=1, dtype=np.float64)
    p = m.params
    p["W_aa"][...] = [[0.5, -0.2], [0.1, 0.3]]
    p["W_ax"][...] = [[1.0, 0.0], [0.0, -1.0]]
    p["b_a"][...] = [0.1, -0.1]
    p["W_ya"][...] = [[1.0, 2.0]]
    p["b_y"][...] = [0.5]
    return m


def test_two_steps_by_hand():
    # x<1> = word 0, x<2> = word 1, written out scalar by scalar from the lecture's equations.
    a1 = [math.tanh(1.0 + 0.1), math.tanh(0.0 - 0.1)]  # a<0> = 0
    a2 = [
        math.tanh(0.5 * a1[0] - 0.2 * a1[1] + 0.0 + 0.1),
        math.tanh(0.1 * a1[0] + 0.3 * a1[1] - 1.0 - 0.1),
    ]

    def sig(z):
        return 1 / (1 + math.exp(-z))

    y1 = sig(1.0 * a1[0] + 2.0 * a1[1] + 0.5)
    y2 = sig(1.0 * a2[0] + 2.0 * a2[1] + 0.5)
    y_hat, a = small_model().forward(np.array([[0, 1]]))
    np.testing.assert_allclose(a[0], [a1, a2], rtol=1e-12)
    np.testing.assert_allclose(y_hat[0, :, 0], [y1, y2], rtol=1e-12)
    # loss with y = (1, 0): mean binary cross-entropy over the two steps
    loss, _ = small_model().loss_and_grads(np.array([[0, 1]]), np.array([[1, 0]]))
    assert loss == pytest.approx((-math.log(y1) - math.log(1 - y2)) / 2, rel=1e-12)


def test_public_shapes_and_names():
    m = rnnkit.RNN(n_x=10_000, n_a=100, n_y=1, activation="tanh", output="sigmoid", seed=0)
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes == {
        "W_aa": (100, 100),
        "W_ax": (100, 10_000),
        "b_a": (100,),
        "W_ya": (1, 100),
        "b_y": (1,),
    }
    assert m.W_a.shape == (100, 10_100)
    assert all(v.dtype == np.float32 for v in m.params.values())
    y_hat, a = m.forward(np.zeros((3, 7), int))
    assert y_hat.shape == (3, 7, 1) and a.shape == (3, 7, 100)


def test_compact_notation_is_the_same_memory():
    m = rnnkit.RNN(n_x=6, n_a=3, n_y=1, dtype=np.float64, seed=1)
    assert np.shares_memory(m.W_a, m.params["W_aa"]) and np.shares_memory(m.W_a, m.params["W_ax"])
    rng = np.random.default_rng(0)
    a, x = rng.normal(size=3), rng.normal(size=6)
    W_aa, W_ax = m.params["W_aa"], m.params["W_ax"]
    np.testing.assert_allclose(m.W_a @ np.concatenate([a, x]), W_aa @ a + W_ax @ x, rtol=1e-12)
    m.W_a[0, 0] = 42.0  # writing through W_a changes W_aa
    assert W_aa[0, 0] == 42.0
    m.params["W_ax"][:, 2] = 7.0  # and writing W_ax changes W_a
    assert (m.W_a[:, 3 + 2] == 7.0).all()
    assert m.params["W_ax"].T[2].flags.c_contiguous  # a word's column is contiguous


def test_writing_params_changes_the_model():
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=1, seed=0)
    before, _ = m.forward(np.array([[1, 2]]))
    m.params["b_y"] += 1.0
    after, _ = m.forward(np.array([[1, 2]]))
    assert not np.allclose(before, after)


@pytest.mark.parametrize(
    "bad", [dict(activation="sigmoid"), dict(output="relu"), dict(n_a=0), dict(dropout=1.0)]
)
def test_bad_settings_are_value_errors(bad):
    with pytest.raises(ValueError):
        rnnkit.RNN(**{**dict(n_x=5, n_a=4, n_y=1), **bad})


def test_bad_inputs_are_value_errors():
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=1)
    for x in (
        np.array([[5]]),
        np.array([[-1]]),
        np.zeros((2, 3, 4)),
        np.zeros(3, int),
        np.array([["a"]]),
    ):
        with pytest.raises(ValueError):
            m.forward(x)
    with pytest.raises(ValueError):
        m.forward(np.zeros((2, 3), int), mask=np.ones((2, 4), bool))


@pytest.mark.parametrize(
    "layers, bidirectional, cell", [(1, False, "rnn"), (2, True, "rnn"), (3, True, "rnn"),
                                    (2, True, "gru"), (3, False, "gru")]
)  # fmt: skip
@pytest.mark.parametrize("n_s", [None, 2])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(layers, bidirectional, cell, n_s):
    """No sentences, or sentences of no steps: outputs of the batch's shape, a loss of 0 and
    zero gradients, in every depth and cell (a model of three layers, or a GRU, once raised
    NumPy's "cannot reshape array of size 0"). Ids of no group a step mean no x<t> at all: an
    error, where the compiled loop once read past the array and crashed the process."""
    m = rnnkit.RNN(
        6, 5, 4, "tanh", "softmax", layers=layers, bidirectional=bidirectional, cell=cell, n_s=n_s
    )
    n_out = 5 * (2 if bidirectional else 1)
    for shape in ((0, 3), (1, 0), (0, 0, 2), (2, 0, 3)):
        x, y = np.zeros(shape, np.int64), np.zeros(shape[:2], np.int64)
        s = {} if n_s is None else {"s": np.zeros((*shape[:2], n_s), np.float32)}
        y_hat, a = m.forward(x, **s)
        assert y_hat.shape == (*shape[:2], 4) and a.shape == (*shape[:2], n_out)
        for sparse in (False, True):
            loss, grads, *_ = m.loss_and_grads(x, y, sparse=sparse, **s)
            assert loss == 0 and grads.keys() == m.params.keys()
            for name, g in grads.items():
                g = g.to_dense() if hasattr(g, "to_dense") else g
                assert g.shape == m.params[name].shape and not g.any(), name
    s = {} if n_s is None else {"s": np.zeros((1, 3, n_s))}
    with pytest.raises(ValueError, match="K >= 1 ids a step"):
        m.forward(np.zeros((1, 3, 0), np.int64), **s)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
def test_ids_outside_the_vocabulary_are_refused_in_every_integer_type(dtype):
    # Every integer type, its extremes too: the compiled kernel would read past W_ax.
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=1)
    info = np.iinfo(dtype)
    for bad in sorted({info.min, -1, 5, 100, info.max} - {0} if info.min else {5, 100, info.max}):
        if info.min <= bad <= info.max:
            for x in (np.array([[0, bad, 4]], dtype), np.array([[[0, 1], [4, bad]]], dtype)):
                with pytest.raises(ValueError, match=r"ids must lie in \[0, n_x = 5\)"):
                    m.forward(x)
    good = np.array([[0, 4, 1]], dtype)
    assert m.forward(good)[0].shape == (1, 3, 1)
    assert m.forward(np.array([[[0, 4], [4, 0]]], dtype)[:, :, ::-1])[0].shape == (1, 2, 1)


def test_a_spelling_row_outside_its_table_is_refused():
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=1, n_s=3)
    table = np.zeros((2, 3), np.float32)
    for index in ([[0, 2]], [[-1, 0]], [[0, np.iinfo(np.int64).min]]):
        with pytest.raises(ValueError, match=r"s_index must lie in \[0, 2\)"):
            m.forward(np.array([[1, 2]]), s=table, s_index=np.array(index))
    assert m.forward(np.array([[1, 2]]), s=table, s_index=np.array([[1, 0]]))[0].shape == (1, 2, 1)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, "int8", np.complex64, object])
def test_a_dtype_that_is_not_float_is_a_type_error(dtype):
    """RNN(dtype=np.int32) once built all-zero weights (U(-k, k) rounded to integers)."""
    with pytest.raises(TypeError, match="dtype must be one of"):
        rnnkit.RNN(n_x=5, n_a=4, n_y=1, dtype=dtype)


@pytest.mark.parametrize(
    "output,n_y,y,message",
    [
        ("sigmoid", 1, [[0, 2, 1]], r"sigmoid targets must lie in \[0, 1\]"),
        ("sigmoid", 1, [[0, -3, 1]], r"sigmoid targets must lie in \[0, 1\]"),
        ("sigmoid", 1, [[0, np.nan, 1]], "must be finite"),
        ("linear", 1, [[0, np.inf, 1]], "must be finite"),
        ("sigmoid", 1, [["0", "1", "1"]], "must be numbers"),
        ("softmax", 3, [[0, 3, 1]], r"must lie in \[0, n_y = 3\)"),
        ("softmax", 3, [[0, -1, 1]], r"must lie in \[0, n_y = 3\)"),
        ("softmax", 3, [[0.0, 1.0, 1.0]], "integer class ids"),
    ],
)
def test_targets_outside_their_range_are_value_errors(output, n_y, y, message):
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=n_y, output=output)
    with pytest.raises(ValueError, match=message):
        m.loss_and_grads(np.array([[1, 2, 3]]), np.array(y))


@pytest.mark.parametrize(
    "output,n_y,shape",
    [
        ("sigmoid", 1, (2, 1)),  # would broadcast over T
        ("sigmoid", 1, (1, 4)),  # would broadcast over the batch
        ("sigmoid", 1, (4,)),
        ("sigmoid", 1, (2, 4, 2)),
        ("sigmoid", 2, (2, 4)),
        ("linear", 1, (2, 1, 1)),
        ("softmax", 3, (2, 1)),
        ("softmax", 3, (1, 4)),
        ("softmax", 3, (2, 4, 1)),
    ],
)
def test_targets_of_another_shape_are_refused_not_broadcast(output, n_y, shape):
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=n_y, output=output)
    with pytest.raises(ValueError, match=r"targets must .*shape"):
        m.loss_and_grads(np.ones((2, 4), int), np.zeros(shape, int))


@pytest.mark.parametrize(
    "output,n_y,junk", [("sigmoid", 1, np.nan), ("linear", 2, np.inf), ("softmax", 3, -100)]
)
def test_targets_at_padded_steps_are_never_read(output, n_y, junk):
    """NaN (or an ignore index such as -100) at a padded step once made the loss NaN: the loss
    and gradients are those of the same batch with 0 there."""
    rng = np.random.default_rng(3)
    m = rnnkit.RNN(n_x=6, n_a=4, n_y=n_y, output=output, dtype=np.float64, seed=1)
    x, y, mask = random_case(rng, 6, n_y, output, "ids", masked=True, m=4, T=6)
    mask[1, 3:] = False
    clean = np.where(mask.reshape(mask.shape + (1,) * (y.ndim - 2)), y, 0)
    dirty = np.where(mask.reshape(clean.shape[:2] + (1,) * (y.ndim - 2)), y, junk)
    want_loss, want = m.loss_and_grads(x, clean, mask)
    loss, grads = m.loss_and_grads(x, dirty, mask)
    assert np.isfinite(loss) and loss == want_loss
    for k in want:
        np.testing.assert_array_equal(grads[k], want[k])


def random_case(rng, n_x, n_y, output, inputs, masked, m=3, T=5, K=2):
    if inputs == "ids":
        x = rng.integers(0, n_x, (m, T))
    elif inputs == "groups":
        x = rng.integers(0, n_x, (m, T, K))
    else:
        x = rng.normal(size=(m, T, n_x))
    if output == "softmax":
        y = rng.integers(0, n_y, (m, T))
    elif output == "sigmoid":
        y = rng.integers(0, 2, (m, T, n_y))
    else:
        y = rng.normal(size=(m, T, n_y))
    lengths = rng.integers(1, T + 1, m) if masked else np.full(m, T)
    lengths[0] = T
    mask = np.arange(T)[None, :] < lengths[:, None]
    return x, y, (mask if masked else None)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize(
    "output,n_y", [("sigmoid", 1), ("sigmoid", 2), ("softmax", 3), ("linear", 2)]
)
@pytest.mark.parametrize("inputs", ["ids", "groups", "dense"])
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_match_central_differences(activation, output, n_y, inputs, masked):
    rng = np.random.default_rng(7)
    m = rnnkit.RNN(
        n_x=6, n_a=4, n_y=n_y, activation=activation, output=output, dtype=np.float64, seed=3
    )
    x, y, mask = random_case(rng, 6, n_y, output, inputs, masked)
    errors = rnnkit.gradcheck(m, x, y, mask)
    assert set(errors) == set(m.params)
    assert max(errors.values()) < 1e-6, errors


def test_a0_starts_the_chain():
    rng = np.random.default_rng(1)
    m = rnnkit.RNN(n_x=5, n_a=3, n_y=1, dtype=np.float64, seed=2)
    x, _, mask = random_case(rng, 5, 1, "sigmoid", "ids", True)
    a0 = rng.normal(size=(3, 3))
    y_hat, a = m.forward(x, mask, a0=a0)
    ref_y, ref_a = reference_forward(m, x, mask, a0=a0)
    np.testing.assert_allclose(y_hat, ref_y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a, ref_a, rtol=1e-12, atol=1e-15)
    assert not np.allclose(a, m.forward(x, mask)[1])


@pytest.mark.parametrize("inputs", ["ids", "groups", "dense"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_fast_forward_equals_the_textbook_loop(inputs, activation):
    rng = np.random.default_rng(0)
    m = rnnkit.RNN(
        n_x=7, n_a=5, n_y=3, activation=activation, output="softmax", dtype=np.float64, seed=1
    )
    x, _, mask = random_case(rng, 7, 3, "softmax", inputs, True, m=4, T=6)
    y_hat, a = m.forward(x, mask)
    ref_y, ref_a = reference_forward(m, x, mask)
    np.testing.assert_allclose(y_hat, ref_y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a, ref_a, rtol=1e-12, atol=1e-15)


def test_padded_steps_output_zero():
    m = rnnkit.RNN(n_x=5, n_a=4, n_y=2, output="softmax", seed=0)
    mask = np.array([[True, True, False], [True, True, True]])
    y_hat, a = m.forward(np.ones((2, 3), int), mask)
    assert (y_hat[0, 2] == 0).all() and (a[0, 2] == 0).all()


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_loss_is_finite_for_huge_logits(output):
    m = rnnkit.RNN(n_x=3, n_a=2, n_y=2, output=output, seed=0)
    m.params["W_ya"][...] = 1e4
    y = np.array([[0, 1]]) if output == "softmax" else np.array([[[0, 1], [1, 0]]])
    loss, grads = m.loss_and_grads(np.array([[0, 1]]), y)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


def test_float64_when_asked():
    m = rnnkit.RNN(n_x=3, n_a=2, n_y=1, dtype=np.float64)
    y_hat, a = m.forward(np.array([[0, 1]]))
    assert y_hat.dtype == a.dtype == np.float64
    assert all(
        g.dtype == np.float64
        for g in m.loss_and_grads(np.array([[0, 1]]), np.array([[0, 1]]))[1].values()
    )


def test_empty_batch_and_empty_sequences():
    m = rnnkit.RNN(n_x=3, n_a=2, n_y=1)
    y_hat, a = m.forward(np.zeros((2, 0), int))
    assert y_hat.shape == (2, 0, 1) and a.shape == (2, 0, 2)
    loss, grads = m.loss_and_grads(np.zeros((2, 0), int), np.zeros((2, 0), int))
    assert loss == 0 and all((g == 0).all() for g in grads.values())


def test_same_seed_same_model_and_different_seed_different_model():
    a, b, c = (rnnkit.RNN(n_x=9, n_a=4, n_y=1, seed=s) for s in (5, 5, 6))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W_aa"], c.params["W_aa"])


def test_init_x_sets_the_scale_of_the_first_input_weights():
    m = rnnkit.RNN(n_x=2000, n_a=16, n_y=1, init_x=1.0, layers=2, seed=0)
    W_ax, W_aa = m.params["W_ax[1]"], m.params["W_aa[1]"]
    assert 0.99 < np.abs(W_ax).max() <= 1.0  # U(-1, 1)
    assert np.abs(W_aa).max() <= 0.25 and np.abs(m.params["W_ax[2]"]).max() <= 0.25  # 1/sqrt(n_a)
    with pytest.raises(ValueError):
        rnnkit.RNN(n_x=3, n_a=2, n_y=1, init_x=0.0)
