"""A training run's output directory: held by one run at a time, never replaced by accident.

`claim(out, resume, overwrite)` holds the directory for the length of a run:

- a path that exists and is not a directory is refused;
- an exclusive lock (flock) on `out/.rnnkit-train.lock` keeps a second run out while this
  one works: two runs into one directory would each replace the other's model;
- a directory that already holds files is refused unless the run continues what is there
  (resume) or is told to replace it (overwrite): rerunning `train` must not replace a
  finished model without a word. It is looked at under the lock, so a run that finishes
  while another waits to start is seen;
- a directory the claim created is removed again if the run leaves nothing in it, so a run
  refused for its data leaves nothing behind.

The lock file is removed when the run ends. Without fcntl (Windows) nothing is locked.
"""

import contextlib
import os
from pathlib import Path

from rnnkit.errors import RnnkitError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".rnnkit-train.lock"


@contextlib.contextmanager
def claim(out, resume=False, overwrite=False):
    """Hold the directory `out` for one training run (see the module's docstring)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RnnkitError(
            f"{out}: exists and is not a directory (--out is the directory the run writes to)"
        )
    created = [d for d in (out, *out.parents) if not d.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        with _locked(out):
            if not (resume or overwrite):
                _refuse_earlier_files(out)
            yield
    finally:
        for d in created:  # deepest first; only those left empty
            with contextlib.suppress(OSError):
                d.rmdir()


@contextlib.contextmanager
def _locked(out):
    if fcntl is None:
        yield
        return
    path = out / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RnnkitError(
                f"{out}: another rnnkit train is writing to this directory; "
                "wait for it to end or choose another --out"
            ) from None
        # The run before us may have removed the file between our open and our lock:
        # then we hold a file nobody else sees, and must lock the one that is there now.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # still under the lock: see the loop above
        os.close(fd)


def _refuse_earlier_files(out):
    names = sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE)
    if names:
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise RnnkitError(
            f"{out}: already holds {shown}; continue that run with --resume, replace it with "
            "--overwrite, or choose another --out"
        )
