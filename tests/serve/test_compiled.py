"""`rnnkit serve --compiled`: a real server process that tags with the compiled kernel."""

import json
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

from rnnkit.cli import main
from rnnkit.ner.tagger import Tagger
from rnnkit.nn import kernels

TEXT = 'He said, "Teddy Roosevelt was a great President." Angela Merkel agreed.'


def without_scores(items):
    return [{k: v for k, v in x.items() if k not in ("prob", "score")} for x in items]


@pytest.mark.skipif(not kernels.available, reason="numba is not installed")
def test_compiled_serves_what_the_tagger_tags(serve):
    """The server says it tags with the kernel, and answers what the tagger gives in this
    process, a probability within its last printed digit."""
    with serve("--compiled", "--no-access-log") as (proc, url):
        request = urllib.request.Request(
            f"{url}/tag",
            data=json.dumps({"text": TEXT}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            got = json.load(r)
        proc.terminate()
        said = proc.stdout.read()
    assert "tagging with the compiled kernel (Numba)" in said
    want = Tagger.load().tag(TEXT)
    assert [e["text"] for e in got["entities"]] == ["Teddy Roosevelt", "Angela Merkel"]
    for key in ("tokens", "entities"):
        assert without_scores(got[key]) == without_scores(want[key])
        for x, y in zip(got[key], want[key]):
            assert abs(x.get("prob", x.get("score")) - y.get("prob", y.get("score"))) <= 1.5e-4


def test_compiled_without_numba_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(kernels, "available", False)
    monkeypatch.setattr(kernels, "_compiled", None)
    assert main(["serve", "--compiled", "--port", "0"]) != 0
    err = capsys.readouterr().err
    assert "--compiled needs Numba and SciPy" in err and "pip install 'rnnkit[fast]'" in err
