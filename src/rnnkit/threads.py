"""How many BLAS threads rnnkit's own work uses.

An RNN of the lecture's size makes many small matrix products, one per step: more
BLAS threads than one gain nothing on them and lose much when other work shares
the cores (training at 46,000 instead of 323,000 tokens/s, tagging 215,000 tokens
in 17.7 s instead of 1.4 s on this project's 2-core machine). So rnnkit runs its
tagging and training with one BLAS thread by default, from the command line and
from Python alike, and gives the process its own setting back afterwards, so that
other code in the same program keeps the threads it asked for.

    rnnkit.threads.set_threads(2)      # rnnkit's work uses 2 BLAS threads from now on
    rnnkit.threads.set_threads(None)   # leave BLAS as the process has it

threadpoolctl (tiny, pure Python) does the limiting; it is a core dependency.
"""

import contextlib
import threading

_threads: int | None = 1
_lock = threading.Lock()
_active = 0  # blocks running under the limit now, in any thread
_restore = []  # limits set by the first of them (and for libraries loaded since): the last undoes
_controller = None


def set_threads(n: int | None) -> None:
    """Use n BLAS threads in rnnkit's tagging and training (None: don't limit them)."""
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"threads must be a positive integer or None, not {n!r}")
    _threads = n


def get_threads() -> int | None:
    return _threads


@contextlib.contextmanager
def limited():
    """Run the block with the chosen number of BLAS threads.

    The limit is process-wide, so overlapping blocks in several threads (a server's
    requests) share one: the first to enter sets it and the last to leave restores
    what was there, never a value another block set in between.
    """
    global _active, _restore, _controller
    if _threads is None:
        yield
        return
    with _lock:
        if _active == 0:
            if _controller is None:  # finding the loaded BLAS libraries takes about 1 ms: once
                _controller = _find_libraries()
            _restore.append(_Limit(_controller.lib_controllers, _threads))
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                while _restore:
                    _restore.pop().restore_original_limits()


def libraries_loaded():
    """Tell rnnkit that a BLAS library may have been loaded since it last looked (the compiled
    kernel brings SciPy's own OpenBLAS): it is limited from now on, within running blocks too."""
    global _controller
    with _lock:
        if _controller is None:
            return
        known = {lib.filepath for lib in _controller.lib_controllers}
        _controller = _find_libraries()
        if _active and _threads is not None:
            new = [c for c in _controller.lib_controllers if c.filepath not in known]
            if new:
                _restore.append(_Limit(new, _threads))


class _Limit:
    """The BLAS libraries among `libraries` (threadpoolctl's LibControllers) held to n threads;
    restore_original_limits() gives each its own count back. threadpoolctl's own limit() does the
    same, but looks at every library's state first, about 15 µs: too much for a call that tags
    one sentence in a few hundred. A library already at n is left alone, neither set nor
    restored: setting a count costs more than reading it (about 2 µs against 1 here, for each
    library, both ways), and a process that runs BLAS on one thread anyway pays neither."""

    def __init__(self, libraries, n):
        blas = [(lib, lib.num_threads) for lib in libraries if lib.user_api == "blas"]
        self._saved = [(lib, was) for lib, was in blas if was != n]
        for lib, _ in self._saved:
            lib.set_num_threads(n)

    def restore_original_limits(self):
        for lib, n in self._saved:
            if n is not None:  # a library that could not say its count keeps rnnkit's
                lib.set_num_threads(n)


def _find_libraries():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
