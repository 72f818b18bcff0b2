"""The fast paths against the plain code they replace.

The compiled loop (Numba, optional) is held equal to the NumPy loop; the loop
over only the running rows of a longest-first batch to the loop over every row;
the sparse sums and the lazy Adam to their definitions.
"""

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

import rnnkit
from rnnkit.nn import kernels, recurrence
from rnnkit.nn.sparse import ColumnGrad, group_ids, segment_sum

needs_numba = pytest.mark.skipif(not kernels.available, reason="numba is not installed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_segment_sum_equals_reduceat(dtype):
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 300):
        ids = rng.zipf(1.5, n) % 50
        rows = rng.normal(size=(n, 7)).astype(dtype)
        order, starts, unique = group_ids(ids)
        got = segment_sum(rows[order], starts)
        want = np.add.reduceat(rows[order], starts, axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
        assert got.dtype == dtype and len(unique) == len(starts)


def test_lazy_adam_equals_its_definition_on_the_used_columns():
    rng = np.random.default_rng(1)
    p = {"w": np.asfortranarray(rng.normal(size=(3, 8)))}
    opt = rnnkit.Adam(p, lr=0.01)
    w, m, v = p["w"].copy(), np.zeros((3, 8)), np.zeros((3, 8))
    for t in range(1, 5):
        ids = np.sort(rng.choice(8, 3, replace=False))
        rows = rng.normal(size=(3, 3))
        opt.step({"w": ColumnGrad(ids, rows.copy(), (3, 8))})
        m[:, ids] = 0.9 * m[:, ids] + 0.1 * rows.T
        v[:, ids] = 0.999 * v[:, ids] + 0.001 * rows.T**2
        w[:, ids] -= (
            0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m[:, ids] / (np.sqrt(v[:, ids]) + 1e-8)
        )
    np.testing.assert_allclose(p["w"], w, rtol=1e-12)
    np.testing.assert_allclose(opt.m["w"], m, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 2, 9])
@pytest.mark.parametrize("at_once", [0, 1 << 30])
def test_input_term_of_k_groups_sums_them_in_order_whatever_the_batch(
    dtype, K, at_once, monkeypatch
):
    """W_ax x<t> of K groups is ((w_1 + w_2) + ...) + w_K + b_a, bit for bit, gathered a group at
    a time (a batch) or all at once (a sentence), for a token alone and in any batch."""
    monkeypatch.setattr(rnnkit.nn.model, "GATHERED_AT_ONCE", at_once)
    model = rnnkit.RNN(50, 7, 1, seed=2, dtype=dtype)
    W_ax, b_a = model.params["W_ax"], model.params["b_a"]
    x = np.random.default_rng(3).integers(0, 50, (40, 6, K))  # (m, T, K)
    x_tm = np.swapaxes(x, 0, 1)  # a strided view, as the model passes it
    want = W_ax.T[x_tm[..., 0]]
    for k in range(1, K):
        want = want + W_ax.T[x_tm[..., k]]
    want = want + b_a
    np.testing.assert_array_equal(model._input_term(W_ax, b_a, x_tm), want)
    for i in (0, 17, 39):  # one sequence alone
        alone = model._input_term(W_ax, b_a, np.swapaxes(x[i : i + 1], 0, 1))
        np.testing.assert_array_equal(alone[:, 0], want[:, i])


def longest_first(lengths, T):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


@needs_numba
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [[9], [9, 9], [9, 7, 7, 4, 2, 1, 0], [5] * 40])
@pytest.mark.parametrize("groups", [None, 1, 3])
def test_recurrence_kernel_equals_numpy(activation, reverse, lengths, groups):
    """kernels.rnn_forward against recurrence.rnn_forward on the input term the model computes:
    word ids (one group, or K groups), or floats (groups None)."""
    rng = np.random.default_rng(4)
    m, T, n_x, n_a = len(lengths), 9, 30, 6
    model = rnnkit.RNN(n_x, n_a, 1, activation, seed=9)
    W_aa, W_ax, b_a = (model.params[k] for k in ("W_aa", "W_ax", "b_a"))
    mask_tm = np.ascontiguousarray(longest_first(lengths, T).T)
    if groups is None:
        x_tm = rng.normal(size=(T, m, n_x)).astype(np.float32)
    else:
        x_tm = rng.integers(0, n_x, (T, m, groups) if groups > 1 else (T, m))
    rows = np.array(recurrence.running_rows(mask_tm))
    got = kernels.rnn_forward(x_tm, W_ax, b_a, W_aa, activation, rows, reverse)
    want = recurrence.rnn_forward(
        model._input_term(W_ax, b_a, x_tm), W_aa, activation, mask_tm, reverse=reverse
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_numba
def test_kernel_tanh_is_float32_tanh():
    """The kernel's tanh (a rational function, which vectorises) is np.tanh to a few ulp."""
    v = np.concatenate(
        [np.linspace(-12, 12, 20001), [0, 1e-30, -1e-7, np.inf, -np.inf, np.nan]]
    ).astype(np.float32)
    W_aa = np.zeros((1, 1), np.float32)
    got = kernels.rnn_forward(
        v.reshape(-1, 1, 1),
        np.eye(1, dtype=np.float32),
        np.zeros(1, np.float32),
        W_aa,
        "tanh",
        np.ones(len(v), np.intp),
    )
    np.testing.assert_allclose(got.ravel(), np.tanh(v), rtol=5e-7, atol=1e-30)  # NaN stays NaN


@needs_numba
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("m", [1, 2, 6])
@pytest.mark.parametrize("order", ["longest first", "any"])
@pytest.mark.parametrize("n_y", [1, 3, 13])  # 13: the output layer as one BLAS product
def test_model_outputs_with_and_without_kernels(bidirectional, layers, m, order, n_y, monkeypatch):
    """The kernel also makes the top layer's logits: one output or several, one chain or two."""
    model = rnnkit.RNN(
        50,
        8,
        n_y,
        output="sigmoid" if n_y == 1 else "softmax",
        layers=layers,
        bidirectional=bidirectional,
        seed=5,
    )
    rng = np.random.default_rng(6)
    mask = longest_first(sorted(rng.integers(1, 13, m), reverse=True), 12)
    x = rng.integers(0, 50, (m, 12)) * mask
    if order == "any":
        x, mask = x[::-1], mask[::-1]
    assert kernels.load()  # forward() alone takes the kernel only once it pays
    for args in ((x,), (x, mask)):
        with_k = model.forward(*args)
        monkeypatch.setattr(kernels, "available", False)
        without = model.forward(*args)
        monkeypatch.setattr(kernels, "available", True)
        for a, b in zip(with_k, without):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_longest_first_batch_equals_any_order(bidirectional, layers):
    """A batch sorted longest first takes the loop over running rows only; shuffled, the loop
    over all rows."""
    rng = np.random.default_rng(7)
    model = rnnkit.RNN(
        20, 5, 1, layers=layers, bidirectional=bidirectional, dtype=np.float64, seed=8
    )
    lengths = np.array([9, 7, 7, 4, 2, 1])
    mask = np.arange(9)[None, :] < lengths[:, None]
    x, y = rng.integers(0, 20, (6, 9)) * mask, rng.integers(0, 2, (6, 9))
    assert recurrence.running_rows(np.ascontiguousarray(mask.T)) == [6, 5, 4, 4, 3, 3, 3, 1, 1]
    perm = np.array([3, 0, 5, 2, 4, 1])
    assert recurrence.running_rows(np.ascontiguousarray(mask[perm].T)) is None
    y_hat, a = model.forward(x, mask)
    y_hat_p, a_p = model.forward(x[perm], mask[perm])
    np.testing.assert_allclose(y_hat_p, y_hat[perm], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a_p, a[perm], rtol=1e-12, atol=1e-15)
    loss, grads = model.loss_and_grads(x, y, mask)
    loss_p, grads_p = model.loss_and_grads(x[perm], y[perm], mask[perm])
    assert loss == pytest.approx(loss_p, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads_p[k], grads[k], rtol=1e-10, atol=1e-14)
    errors = rnnkit.gradcheck(model, x, y, mask)
    assert max(errors.values()) < 1e-6, errors


@needs_numba
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("inputs", ["ids", "groups", "s", "s table"])
@pytest.mark.parametrize("m", [1, 3, 12])  # products by BLAS, by the loop, and by BLAS
@pytest.mark.parametrize("n_y", [3, 13])  # the output layer a token at a time, or by one product
def test_the_whole_model_in_one_kernel_call_equals_numpy(
    layers, bidirectional, activation, inputs, m, n_y, monkeypatch
):
    """kernels.stack_forward (a model of one or two layers in one compiled call) against NumPy,
    on word ids, K groups of ids, and a dense s<t> or a table of rows beside them; deeper models
    keep the loop per chain."""
    n_x, n_a, n_s, T = 40, 9, 4, 8
    model = rnnkit.RNN(
        n_x,
        n_a,
        n_y,
        activation,
        "softmax",
        layers=layers,
        bidirectional=bidirectional,
        n_s=n_s if inputs.startswith("s") else None,
        seed=3,
    )
    rng = np.random.default_rng(11)
    mask = longest_first(sorted(rng.integers(1, T + 1, m), reverse=True), T)
    x = rng.integers(0, n_x, (m, T, 3) if inputs == "groups" else (m, T))
    spelled = {}
    if inputs == "s":
        spelled = {"s": rng.normal(size=(m, T, n_s)).astype(np.float32)}
    elif inputs == "s table":
        spelled = {
            "s": rng.normal(size=(5, n_s)).astype(np.float32),
            "s_index": rng.integers(0, 5, (m, T)),
        }
    assert kernels.load()
    calls = []
    stack = kernels.stack_forward
    monkeypatch.setattr(kernels, "stack_forward", lambda *a: calls.append(1) or stack(*a))
    with_k = model.forward(x, mask, **spelled)
    assert calls == ([1] if layers <= 2 else [])
    monkeypatch.setattr(kernels, "available", False)
    without = model.forward(x, mask, **spelled)
    for a, b in zip(with_k, without):  # ŷ, and the top layer's states
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_numba
@pytest.mark.parametrize("layers", [1, 2])
def test_the_whole_model_kernel_refuses_ids_and_rows_out_of_range(layers, monkeypatch):
    """The compiled stack checks word ids and spelling rows as it reads them (RNN.forward no
    longer checks them first on that path): out of range it computes nothing, and forward
    raises the same error as on NumPy's path, with the kernel still in use afterwards."""
    n_x, n_s = 6, 3
    model = rnnkit.RNN(n_x, 5, 4, "tanh", "softmax", layers=layers, bidirectional=True, n_s=n_s)
    table = np.zeros((2, n_s), np.float32)
    assert kernels.load()
    calls = []
    stack = kernels.stack_forward
    monkeypatch.setattr(kernels, "stack_forward", lambda *a: calls.append(1) or stack(*a))
    x_good, rows_good = np.array([[0, 5, 1], [2, 3, 4]]), np.array([[1, 0, 1], [0, 0, 1]])
    for x, index, error in (
        ([[0, 6, 1], [2, 3, 4]], rows_good, r"ids must lie in \[0, n_x = 6\)"),
        ([[0, 5, 1], [2, 3, -1]], rows_good, r"ids must lie in \[0, n_x = 6\)"),
        ([[[0, 1], [5, 9], [1, 1]]] * 2, rows_good, r"ids must lie in \[0, n_x = 6\)"),
        (np.array([[0, 2**64 - 1, 1], [2, 3, 4]], np.uint64), rows_good, r"ids must lie in \["),
        (np.array([[0, -128, 1], [2, 3, 4]], np.int8), rows_good, r"ids must lie in \["),
        (x_good, np.array([[1, 0, 1], [0, 2**63, 1]], np.uint64), r"s_index must lie in \["),
        (x_good, [[1, 0, 2], [0, 0, 1]], r"s_index must lie in \[0, 2\)"),
        (x_good, [[1, 0, 1], [-1, 0, 1]], r"s_index must lie in \[0, 2\)"),
    ):
        calls.clear()
        with pytest.raises(ValueError, match=error):
            model.forward(np.array(x), s=table, s_index=np.array(index))
        assert calls == [1]  # the kernel saw them first
    y_hat, _ = model.forward(x_good, s=table, s_index=rows_good)
    assert kernels.available and calls[-1] == 1 and np.isfinite(y_hat).all()


@needs_numba
def test_the_compiled_loop_takes_empty_batches_and_refuses_ids_of_no_group():
    """With the loop loaded: empty batches give empty outputs at every depth (three layers once
    raised NumPy's "cannot reshape"), and ids of shape (m, T, 0), which the whole-model kernel
    once read past their end (a segmentation fault), are refused. In a fresh process, so that
    a crash fails this test, not the run."""
    out = run_python(
        """
        import numpy as np, rnnkit
        from rnnkit.nn import kernels
        assert kernels.load()
        for layers in (1, 2, 3):
            m = rnnkit.RNN(6, 5, 4, "tanh", "softmax", layers=layers, bidirectional=True)
            for shape in ((0, 3), (1, 0), (0, 0, 2), (2, 0, 3)):
                y_hat, a = m.forward(np.zeros(shape, np.int64))
                assert y_hat.shape == (*shape[:2], 4) and a.shape == (*shape[:2], 10)
            try:
                m.forward(np.zeros((1, 3, 0), np.int64))
            except ValueError as e:
                print(e)
        print(kernels.available)
        """
    )
    assert out.count("needs K >= 1 ids a step") == 3 and out.endswith("True\n")


def test_a_failing_kernel_falls_back_to_numpy(monkeypatch):
    """The optional kernel must never stop a tagger: if Numba fails, forward() gives NumPy's
    answer."""
    model = rnnkit.RNN(20, 8, 1, seed=0)
    x = np.random.default_rng(0).integers(0, 20, (3, 5))
    expected, _ = model.forward(x)
    monkeypatch.setattr(kernels, "available", True)

    def broken(*args):
        raise RuntimeError("broken cache")

    monkeypatch.setattr(kernels, "_compiled", SimpleNamespace(loop=broken, stack=broken))
    with pytest.warns(UserWarning, match="broken cache"):
        y_hat, _ = model.forward(x)
    np.testing.assert_allclose(y_hat, expected, rtol=1e-5, atol=1e-6)
    assert kernels.available is False


def run_python(code, **env):
    """stdout of `code` run in a fresh interpreter (with the given environment variables set)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@needs_numba
def test_kernel_cache_hits_in_a_fresh_process_and_does_not_grow(tmp_path):
    """Numba's on-disk cache once never hit: each process compiled the loop again and added its
    own files to __pycache__. The second process must load what the first compiled."""
    code = """
        import numpy as np
        import rnnkit
        from rnnkit.nn import kernels
        assert kernels.load()
        from rnnkit.nn.numba_loop import stack
        model = rnnkit.RNN(20, 8, 1, seed=0)
        model.forward(np.arange(12).reshape(2, 6))
        print(sum(stack.stats.cache_hits.values()), sum(stack.stats.cache_misses.values()))
    """
    cache = tmp_path / "cache"
    first = run_python(code, NUMBA_CACHE_DIR=str(cache))
    files = sorted(p.name for p in cache.rglob("*"))
    second = run_python(code, NUMBA_CACHE_DIR=str(cache))
    assert first.split() == ["0", "1"]  # compiled once, for this argument types
    assert second.split() == ["1", "0"]  # loaded, not compiled
    assert sorted(p.name for p in cache.rglob("*")) == files


@needs_numba
def test_the_kernels_blas_is_held_to_rnnkits_threads():
    """Numba's np.dot calls SciPy's own OpenBLAS, which it loads at its first kernel: that one
    too must run with rnnkit's one thread, not the three the environment asks for."""
    out = run_python(
        """
        import numpy as np, threadpoolctl
        import rnnkit
        from rnnkit import threads
        from rnnkit.nn import kernels
        assert kernels.load()
        model = rnnkit.RNN(20, 8, 1, layers=2, bidirectional=True, seed=0)
        with threads.limited():
            model.forward(np.arange(12).reshape(2, 6))
            counts = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                      if i["user_api"] == "blas"}
        print(len(counts), sorted(set(counts.values())))
        """,
        OPENBLAS_NUM_THREADS="3",
    )
    libraries, counts = out.split(maxsplit=1)
    assert int(libraries) >= 2 and counts.strip() == "[1]", out  # NumPy's BLAS and SciPy's


def test_tagging_a_text_does_not_load_numba():
    """Numba costs a process up to seconds and 80 MB: `rnnkit tag` of a text never pays it back."""
    out = run_python("""
        import sys
        from rnnkit.cli import main
        assert main(["tag", 'He said, "Teddy Roosevelt was a great President."']) == 0
        print("numba" in sys.modules, "scipy" in sys.modules)
    """)
    assert out.splitlines()[-1] == "False False"


@needs_numba
def test_the_kernel_is_taken_only_once_loaded_however_much_is_tagged(monkeypatch):
    """A process's output must not depend on how much it tagged before: NumPy until load()."""
    model = rnnkit.RNN(20, 8, 1, seed=0)
    x = np.arange(12).reshape(1, 12)
    monkeypatch.setattr(kernels, "_compiled", None)
    calls = []
    for name in ("rnn_forward", "stack_forward"):  # a chain, or the whole model, compiled
        compiled = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, f=compiled: calls.append(1) or f(*a))
    want, _ = model.forward(x)
    for _ in range(50):
        y_hat, _ = model.forward(x)
        np.testing.assert_array_equal(y_hat, want)  # the same bits every time
    assert calls == []
    assert kernels.load()
    y_hat, _ = model.forward(x)
    assert calls == [1]
    np.testing.assert_allclose(y_hat, want, rtol=1e-5, atol=1e-6)


def crf_case(rng, m, T, n_y, scale, forbid):
    """Random CRF scores, right-padded lengths (at times an empty sequence) and, with `forbid`,
    some transitions forbidden, by -inf in A and by the allowed mask; tag 0 may follow and lead
    to any tag, so that a path always exists. scale "ties": small integers, so that many paths
    tie."""
    lengths = np.sort(rng.integers(0, T + 1, m))[::-1]
    mask = np.arange(T) < lengths[:, None]
    shapes = ((m, T, n_y), (n_y, n_y), (n_y,), (n_y,))
    if scale == "ties":
        z, A, start, end = (rng.integers(-2, 3, s).astype(float) for s in shapes)
    else:
        z, A, start, end = (rng.normal(size=s) * scale for s in shapes)
    allowed = np.ones((n_y, n_y), bool)
    if forbid:
        allowed = rng.random((n_y, n_y)) > 0.3
        A[rng.random((n_y, n_y)) < 0.2] = -np.inf
        allowed[0, :] = allowed[:, 0] = True
        A[0, :], A[:, 0] = np.nan_to_num(A[0, :], neginf=0), np.nan_to_num(A[:, 0], neginf=0)
    return z, lengths, mask, A, start, end, allowed


@needs_numba
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0, 1000.0, "ties"])
@pytest.mark.parametrize("forbid", [False, True])
def test_crf_decoding_kernels_equal_numpy(scale, forbid, monkeypatch):
    """Viterbi compiled gives NumPy's path to the bit (ties to the first tag, as argmax), and
    the marginals agree to rounding, in exp space (small scores) and in log space (scores
    hundreds of nats apart, where exp space would underflow)."""
    from rnnkit.nn.crf import crf_decode_folded, crf_marginals
    from rnnkit.nn.viterbi import viterbi

    rng = np.random.default_rng([7, forbid, len(str(scale))])
    assert kernels.load()
    for _ in range(40):
        m, T, n_y = rng.integers(1, 5), rng.integers(1, 15), rng.integers(1, 7)
        z, lengths, mask, A, start, end, allowed = crf_case(rng, m, T, n_y, scale, forbid)
        ends = np.ones(n_y, bool), np.ones(n_y, bool)
        folded = rng.random(n_y) < 0.4
        folded[0] = False
        with_k = (
            viterbi(z, A, mask, start, end, allowed),
            crf_marginals(z, mask, A, start, end),
            *crf_decode_folded(z, lengths, A, start, end, allowed, *ends, folded),
        )
        monkeypatch.setattr(kernels, "available", False)
        path = viterbi(z, A, mask, start, end, allowed)
        p = crf_marginals(z, mask, A, start, end)
        shown_path, shown_p = crf_decode_folded(z, lengths, A, start, end, allowed, *ends, folded)
        monkeypatch.setattr(kernels, "available", True)
        np.testing.assert_array_equal(with_k[0], path)
        np.testing.assert_allclose(with_k[1], p, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(with_k[2][mask], shown_path[mask])
        np.testing.assert_allclose(with_k[3][mask], shown_p[mask], rtol=0, atol=1e-9)
        # and NumPy's folding is its definition: folded labels read as 0, whose p gains theirs
        as_zero = folded[path] | (path == 0)
        np.testing.assert_array_equal(shown_path, np.where(folded[path], 0, path))
        own = np.take_along_axis(p, path[..., None], axis=-1)[..., 0]
        np.testing.assert_allclose(
            shown_p, np.where(as_zero, p[..., 0] + (p * folded).sum(axis=-1), own), atol=1e-12
        )


@needs_numba
def test_crf_kernels_keep_numpys_errors_and_float32():
    """A sequence with no allowed path is NumPy's ValueError, naming it, kernel or not; the
    model's float32 emissions decode as their float64 values do."""
    from rnnkit.nn.crf import crf_decode_folded
    from rnnkit.nn.viterbi import viterbi

    assert kernels.load()
    z = np.zeros((2, 3, 2))
    allowed = np.array([[True, False], [False, True]])
    no_end, none = np.array([True, False]), np.zeros(2, bool)
    with pytest.raises(ValueError, match="sequence 0 has no allowed tag path"):
        viterbi(z, None, None, None, None, allowed, np.array([False, True]), no_end)
    with pytest.raises(ValueError, match="sequence 0 has no allowed tag path"):
        crf_decode_folded(z, [3, 3], np.zeros((2, 2)), np.zeros(2), np.zeros(2), allowed,
                          np.array([False, True]), no_end, none)  # fmt: skip
    rng = np.random.default_rng(3)
    z32 = rng.normal(size=(3, 6, 4)).astype(np.float32)
    A, s, e = (rng.normal(size=n).astype(np.float32) for n in ((4, 4), 4, 4))
    ok = np.ones((4, 4), bool), np.ones(4, bool), np.ones(4, bool), np.zeros(4, bool)
    best32, p32 = crf_decode_folded(z32, [6, 4, 1], A, s, e, *ok)
    best64, p64 = crf_decode_folded(z32.astype(float), [6, 4, 1], A, s, e, *ok)
    np.testing.assert_array_equal(best32, best64)
    np.testing.assert_allclose(p32, p64, atol=1e-12)
