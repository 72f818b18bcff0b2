"""The HTTP API through FastAPI's test client: what it answers, how it batches, and its limits."""

import asyncio
import json
import subprocess
import sys
import threading

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

import httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli import main
from rnnkit.ner.tagger import Tagger
from rnnkit.serve.app import create_app
from rnnkit.serve.limits import Limits

TEXTS = [
    'He said, "Teddy Roosevelt was a great President."',
    "Angela Merkel met Barack Obama in Berlin.\nOlaf Scholz was not there.",
    "Emoji 🙂 and accents: José Martínez visited Zürich \u2028 with Björn.",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


@pytest.mark.parametrize("text", TEXTS)
def test_one_text_answers_what_rnnkit_tag_json_prints(client, text, capsys):
    assert main(["tag", "--json", text]) == 0
    printed = capsys.readouterr().out
    r = client.post("/tag", json={"text": text})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.text == printed.rstrip("\n")


def test_texts_answer_results_in_order(client, tagger):
    r = client.post("/tag", json={"texts": TEXTS})
    assert r.status_code == 200
    assert r.json() == {"results": [tagger.tag(t) for t in TEXTS]}
    assert client.post("/tag", json={"texts": []}).json() == {"results": []}


def test_concurrent_requests_are_tagged_in_fewer_calls(tagger):
    app = create_app(window=0.05)
    calls = []

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            batcher = await app.state.models.get()
            predict = batcher.tagger.predict

            def counting_predict(sentences, *args, **kwargs):
                calls.append(len(sentences))
                return predict(sentences, *args, **kwargs)

            batcher.tagger.predict = counting_predict
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                answers = await asyncio.gather(
                    *(c.post("/tag", json={"text": TEXTS[i % 3]}) for i in range(20))
                )
        return answers

    answers = asyncio.run(run())
    assert [a.json() for a in answers] == [tagger.tag(TEXTS[i % 3]) for i in range(20)]
    assert len(calls) < 20 and sum(calls) >= 20


def test_health_models_and_docs(client):
    assert client.get("/health").json() == {"status": "ok"}
    models = {"default": "default", "models": ["default", "lecture", "conll"]}
    assert client.get("/models").json() == models
    spec = client.get("/openapi.json").json()
    assert {"/tag", "/health", "/model", "/models"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and '<select id="model">' in page.text
    assert client.get("/static/app.js").status_code == 200


@pytest.mark.parametrize(
    "name, task, types",
    [
        ("default", "per", ["PER"]),
        ("lecture", "per", ["PER"]),
        ("conll", "bio", ["PER", "LOC", "ORG", "MISC"]),
    ],
)
def test_model_describes_the_shipped_models_from_their_metadata(client, name, task, types):
    meta = Tagger.load(name).meta
    info = client.get("/model", params={"model": name}).json()
    assert info["name"] == name
    assert info["task"] == meta["task"] == task
    assert sorted(info["types"]) == sorted(types)
    assert info["scores"] == meta["shipped_scores"]
    assert info["settings"] == meta["model"]


def test_a_model_is_picked_by_name_only(client):
    lecture = Tagger.load("lecture")
    r = client.post("/tag", params={"model": "lecture"}, json={"text": TEXTS[0]})
    assert r.json() == lecture.tag(TEXTS[0])
    for name in ["nope", "/etc/passwd", "../models/default.npz"]:
        r = client.post("/tag", params={"model": name}, json={"text": "x"})
        assert r.status_code == 404 and "default, lecture, conll" in r.json()["detail"]


def test_a_server_of_a_trained_model_describes_it(trained):
    with TestClient(create_app(trained)) as c:
        info = c.get("/model").json()
        assert info["name"] == str(trained)
        assert info["scores"]["valid"]["f1"] is not None
        assert c.post("/tag", json={"text": TEXTS[0]}).json() == Tagger.load(trained).tag(TEXTS[0])


@pytest.mark.parametrize(
    "body, words",
    [
        (b"{", "JSON decode error"),
        (b'{"text": 5}', "valid string"),
        (b'{"texts": "one"}', "valid list"),
        (b'{"texts": ["a", null]}', "valid string"),
        (b'{"text": "a", "texts": ["b"]}', "not both"),
        (b"{}", "not both"),
        (b'{"txt": "a"}', "Extra inputs"),
        (b"[1, 2]", "valid dictionary"),
        (b'"text"', "valid dictionary"),
    ],
)
def test_invalid_json_or_types_answer_422_with_a_message(client, body, words):
    r = client.post("/tag", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert words in " ".join(e["msg"] for e in r.json()["detail"])


@pytest.fixture(scope="module")
def small():
    with TestClient(create_app(limits=Limits(max_body_bytes=1000, max_chars=100))) as c:
        yield c


def test_a_body_over_the_limit_answers_413_by_its_length(small):
    r = small.post("/tag", json={"text": "x" * 2000})
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]


def test_a_streamed_body_over_the_limit_answers_413(small):
    def chunks():  # no Content-Length: the bytes are counted as they come
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    r = small.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]


def test_a_text_over_the_limit_answers_413(small):
    assert small.post("/tag", json={"text": "x" * 100}).status_code == 200
    r = small.post("/tag", json={"text": "x" * 101})
    assert r.status_code == 413 and "101 characters; the limit is 100" in r.json()["detail"]
    r = small.post("/tag", json={"texts": ["a", "x" * 101]})
    assert r.status_code == 413 and r.json()["detail"].startswith("text 1 has 101")


def test_a_request_that_takes_too_long_answers_503_and_the_server_goes_on():
    app = create_app(limits=Limits(timeout=0.2))
    release = threading.Event()
    with TestClient(app) as c:
        tagger = app.state.models._taggers["default"]
        predict = tagger.predict

        def stuck_predict(*args, **kwargs):
            release.wait(30)
            return predict(*args, **kwargs)

        tagger.predict = stuck_predict
        r = c.post("/tag", json={"text": TEXTS[0]})
        assert r.status_code == 503 and "longer than 0.2 s" in r.json()["detail"]
        tagger.predict = predict
        release.set()
        r = c.post("/tag", json={"text": TEXTS[0]})
        assert r.status_code == 200 and r.json()["entities"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = (
    JSON.map(lambda v: json.dumps(v).encode())
    | JSON.map(lambda v: json.dumps({"text": v}).encode())
    | JSON.map(lambda v: json.dumps({"texts": v}).encode())
    | st.lists(st.text(max_size=120), max_size=4).map(lambda v: json.dumps({"texts": v}).encode())
    | st.binary(max_size=1200)
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=BODIES,
    content_type=st.sampled_from(["application/json", "text/plain", None]),
    model=st.sampled_from([None, "lecture", "x"]),
)
def test_the_server_survives_every_input(small, body, content_type, model):
    headers = {} if content_type is None else {"content-type": content_type}
    params = {} if model is None else {"model": model}
    # The test client raises the server's own exceptions: a 500 would fail here.
    r = small.post("/tag", content=body, headers=headers, params=params)
    assert r.status_code in (200, 400, 404, 413, 422)
    answer = r.json()
    assert ("detail" in answer) == (r.status_code != 200)
    assert small.get("/health").status_code == 200


def test_rnnkit_serve_names_a_bad_model_file_before_it_listens(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "missing.npz"), "--port", "1"]) == 1
    assert "missing.npz" in capsys.readouterr().err


def test_import_rnnkit_needs_no_web_framework():
    code = (
        "import sys, rnnkit, rnnkit.cli\n"
        "sys.exit(bool({'fastapi', 'uvicorn'} & sys.modules.keys()))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
