"""rnnkit's BLAS thread setting: applied to its own work, given back afterwards (issue 11)."""

import json
import subprocess
import sys
import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rnnkit import threads


def blas_threads_now():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture(autouse=True)
def two_threads():
    """Give BLAS two threads around each test, so that a limit of one shows."""
    with threadpool_limits(2, user_api="blas"):
        before = threads.get_threads()
        yield
        threads.set_threads(before)


def test_the_limit_holds_inside_and_is_given_back():
    threads.set_threads(1)
    with threads.limited():
        assert blas_threads_now() == {1}
    assert blas_threads_now() == {2}


def test_none_leaves_blas_alone():
    threads.set_threads(None)
    with threads.limited():
        assert blas_threads_now() == {2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_count_is_refused(bad):
    with pytest.raises(ValueError, match="positive integer or None"):
        threads.set_threads(bad)


def test_nested_blocks_keep_the_limit_until_the_outer_one_ends():
    threads.set_threads(1)
    with threads.limited():
        with threads.limited():
            assert blas_threads_now() == {1}
        assert blas_threads_now() == {1}
    assert blas_threads_now() == {2}


class FakeController:
    """Records what the limiter does to the process-wide setting (OpenBLAS reports its thread
    count unreliably to threads other than the one that set it, so the bookkeeping across
    threads is checked against this stand-in): one BLAS library, as threadpoolctl's
    LibController shows it, beside an OpenMP one that must be left alone."""

    def __init__(self):
        self.setting, self.log = 2, []
        self.lib_controllers = [FakeLibrary(self, "blas"), FakeLibrary(self, "openmp")]


class FakeLibrary:
    def __init__(self, controller, user_api):
        self.controller, self.user_api, self.filepath = controller, user_api, f"lib{user_api}.so"

    @property
    def num_threads(self):
        return self.controller.setting

    def set_num_threads(self, n):
        assert self.user_api == "blas", "only BLAS is limited"
        self.controller.setting = n
        self.controller.log.append(("set", n))


def test_overlapping_blocks_in_threads_restore_the_original_once_all_are_done(monkeypatch):
    """A enters, B enters, A leaves (B still runs under the limit), B leaves: the process gets
    its two threads back, never the limit that was in force when B came in."""
    fake = FakeController()
    monkeypatch.setattr(threads, "_controller", fake)
    threads.set_threads(1)
    a_leave, b_leave = threading.Event(), threading.Event()
    a_in, b_in = threading.Event(), threading.Event()

    def hold(entered, leave):
        with threads.limited():
            entered.set()
            leave.wait(10)

    a = threading.Thread(target=hold, args=(a_in, a_leave))
    b = threading.Thread(target=hold, args=(b_in, b_leave))
    a.start()
    a_in.wait(10)
    b.start()
    b_in.wait(10)
    a_leave.set()
    a.join(10)
    assert fake.setting == 1  # B still works under the limit
    b_leave.set()
    b.join(10)
    assert fake.setting == 2 and fake.log == [("set", 1), ("set", 2)]


def test_a_library_already_at_the_limit_is_left_alone(monkeypatch):
    """Setting a count costs more than reading it, and a short sentence's call pays it twice: a
    library at the limit already is neither set nor restored, and still runs at the limit."""
    fake = FakeController()
    fake.setting = 1
    monkeypatch.setattr(threads, "_controller", fake)
    threads.set_threads(1)
    with threads.limited():
        assert fake.setting == 1
    assert fake.setting == 1 and fake.log == []
    threads.set_threads(3)  # a library below the limit is raised to it, and given back
    with threads.limited():
        assert fake.setting == 3
    assert fake.setting == 1 and fake.log == [("set", 3), ("set", 1)]


def test_a_blas_library_loaded_inside_a_block_is_limited_too_and_given_back():
    """The compiled kernel loads SciPy's own OpenBLAS after a block has begun: it must run with
    rnnkit's threads as well, and get its own setting back when the block ends. In a fresh
    process, so that SciPy's BLAS is not loaded before the block."""
    pytest.importorskip("scipy.linalg")
    probe = """
import json
from threadpoolctl import threadpool_info, threadpool_limits
from rnnkit import threads

def counts():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

threads.set_threads(1)
with threadpool_limits(2, user_api="blas"):
    with threads.limited():
        before = set(counts())
        import scipy.linalg  # noqa: F401
        new = [f for f in counts() if f not in before]
        threads.libraries_loaded()
        inside = counts()
    print(json.dumps({"new": new, "inside": inside, "after": counts()}))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    if not seen["new"]:
        pytest.skip("SciPy shares NumPy's BLAS here: no second library to limit")
    assert all(seen["inside"][f] == 1 for f in seen["new"])
    assert set(seen["inside"].values()) == {1}
