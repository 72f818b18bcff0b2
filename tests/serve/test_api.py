"""The HTTP API through FastAPI's test client: what it answers, how it batches, and its limits."""

import asyncio
import json
import re
import subprocess
import sys
import threading

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

import httpx
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli import main
from rnnkit.ner.tagger import Tagger
from rnnkit.serve.app import MAX_ERRORS, create_app
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


@pytest.mark.parametrize("path", ["/", "/health", "/model", "/models"])
def test_the_get_routes_answer_head_with_the_headers_of_get(client, path):
    head, get = client.head(path), client.get(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))


def test_the_openapi_schema_has_exactly_the_keys_of_an_answer(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    answer = client.post("/tag", json={"texts": [TEXTS[1]]}).json()
    result = answer["results"][0]
    assert result["entities"], "an answer with an entity, to hold its keys against the schema"
    for name, obj in [
        ("TagResults", answer),
        ("TagResult", result),
        ("Token", result["tokens"][0]),
        ("Entity", result["entities"][0]),
    ]:
        assert set(schemas[name]["properties"]) == set(obj), name
        assert set(schemas[name]["required"]) == set(obj), name


@pytest.mark.parametrize(
    "name, task, types",
    [
        ("default", "tags", ["PER"]),  # it learned LOC and ORG too, and shows PER
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


def test_a_server_shows_the_types_that_serve_show_names(capsys):
    # The default learned PER, LOC and ORG and its file shows PER: --show widens what it answers,
    # as `rnnkit tag --show` prints it, and only for the served model.
    text = "Angela Merkel visited Paris and met Siemens executives."
    with TestClient(create_app(show="PER,LOC,ORG")) as c:
        assert c.get("/model").json()["types"] == ["PER", "LOC", "ORG"]
        answer = c.post("/tag", json={"text": text})
        assert main(["tag", "--json", "--show", "PER,LOC,ORG", text]) == 0
        assert answer.text == capsys.readouterr().out.rstrip("\n")
        assert {"LOC", "PER"} <= {e["type"] for e in answer.json()["entities"]}
        lecture = c.post("/tag", params={"model": "lecture"}, json={"text": text}).json()
        assert lecture == Tagger.load("lecture").tag(text)


def test_a_request_names_the_types_it_wants_answered(client, capsys):
    text = "Angela Merkel visited Paris and met Siemens executives."
    assert main(["tag", "--json", "--show", "LOC,PER", text]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    for show in ("LOC,PER", "PER,LOC", " PER , LOC,PER"):  # one set of types, however written
        r = client.post("/tag", params={"show": show}, json={"text": text})
        assert r.status_code == 200 and r.text == printed, show
    assert client.get("/model", params={"show": "LOC,PER"}).json()["types"] == ["LOC", "PER"]
    # the model's own types without it, and other requests are not changed by it
    assert client.post("/tag", json={"text": text}).json() == Tagger.load().tag(text)
    r = client.post("/tag", params={"show": "PER,LOC,ORG", "model": "conll"}, json={"text": text})
    assert r.json() == Tagger.load("conll").showing("PER,LOC,ORG").tag(text)


def test_a_repeated_show_is_all_of_its_types_and_a_repeated_model_is_refused(client):
    """A plain query parameter keeps the last of repeated ones, silently: ?show=PER&show=LOC
    would answer LOC alone. Repeated, show means all the types it names, and model (which can
    name one model only) is a 400 rather than a guess."""
    text = "Angela Merkel visited Paris and met Siemens executives."
    both = client.post("/tag", params={"show": "PER,LOC"}, json={"text": text})
    r = client.post("/tag", params=[("show", "PER"), ("show", "LOC")], json={"text": text})
    assert r.status_code == 200 and r.text == both.text
    assert {"PER", "LOC"} <= {e["type"] for e in r.json()["entities"]}
    info = client.get("/model", params=[("show", "LOC"), ("show", "PER")]).json()
    assert info["types"] == ["LOC", "PER"]
    for path, send in (("/tag", client.post), ("/model", client.get)):
        extra = {"json": {"text": text}} if path == "/tag" else {}
        r = send(path, params=[("model", "default"), ("model", "lecture")], **extra)
        assert r.status_code == 400 and r.json()["detail"] == "model is given 2 times; give it once"


@pytest.mark.parametrize(
    "params, words",
    [
        ({"show": "DRUG"}, "show names DRUG; the model tags LOC, ORG, PER"),
        ({"show": ""}, "show names no type; the model tags LOC, ORG, PER"),
        ({"show": "LOC", "model": "lecture"}, "show names LOC; the model tags PER"),
    ],
)
def test_a_show_the_model_cannot_answers_400_naming_its_types(client, params, words):
    r = client.post("/tag", params=params, json={"text": "Anna Smith"})
    assert r.status_code == 400 and r.json()["detail"] == words
    assert client.get("/model", params=params).status_code == 400


def test_requests_shown_differently_are_tagged_one_at_a_time_on_one_model():
    # Each set of types has its own Batcher, and all of them one lock: a model's remembered
    # features and spellings are not for two threads at once.
    app = create_app(window=0)
    models = app.state.models
    batchers = [asyncio.run(models.get(None, show)) for show in (None, "PER", "LOC", "PER,LOC")]
    assert len({id(b) for b in batchers}) == 4
    assert len({id(b._lock) for b in batchers}) == 1
    assert asyncio.run(models.get(None, "LOC,PER")) is batchers[3]
    lecture = asyncio.run(models.get("lecture"))
    assert lecture._lock is not batchers[0]._lock
    texts = [f"Anna Smith met Olaf Scholz in Paris, text {i}." for i in range(40)]
    with TestClient(app) as c:
        answers = {}

        def post(show):
            params = {} if show is None else {"show": show}
            answers[show] = c.post("/tag", params=params, json={"texts": texts}).json()

        shows = (None, "PER", "LOC", "PER,LOC")
        threads = [threading.Thread(target=post, args=(show,)) for show in shows]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    tagger = Tagger.load()
    for show, answer in answers.items():
        assert answer == {"results": [tagger.showing(show or "PER").tag(t) for t in texts]}, show


@pytest.mark.parametrize(
    "args, words",
    [
        (["--show", "DRUG"], "--show names DRUG; the model tags LOC, ORG, PER"),
        (["--model", "lecture", "--show", "LOC"], "--show names LOC; the model tags PER"),
    ],
)
def test_rnnkit_serve_refuses_a_show_the_model_cannot_before_it_listens(args, words, capsys):
    assert main(["serve", "--port", "1", *args]) == 1
    assert words in capsys.readouterr().err


def test_rnnkit_serve_names_a_host_that_names_no_address(capsys):
    # uvicorn said only "[Errno -2] Name or service not known", after the model had loaded;
    # "a..b" is refused without asking a DNS server ("" stays every interface, as in uvicorn)
    assert main(["serve", "--host", "a..b", "--port", "1"]) == 1
    assert "rnnkit: error: --host a..b: " in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, words",
    [
        (b"{", "JSON decode error"),
        (b'{"text": 5}', "valid string"),
        (b'{"texts": "one"}', "valid list"),
        (b'{"texts": ["a", null]}', "valid string"),
        (b'{"text": "a", "texts": ["b"]}', "not both"),
        (b"{}", '"texts" (a list of texts)'),
        (b'{"text": null}', '"texts" (a list of texts)'),
        (b'{"txt": "a"}', "Extra inputs"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
def test_invalid_json_or_types_answer_422_with_a_message(client, body, words):
    r = client.post("/tag", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    message = " ".join(e["msg"] for e in r.json()["detail"])
    assert words in message
    # "not both" only where both were given: a body of neither once was told it gave both
    assert ("not both" in message) == (b'"text"' in body and b'"texts"' in body)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"texts": [1] * 200_000}, "valid string"),
        ({"texts": ["a", None] * 100_000}, "valid string"),
        ({"text": 5, "texts": [[1]] * 200_000}, "valid string"),
        ({f"key{i}": 1 for i in range(200_000)}, "'key0', 'key1', 'key2' and 199,997 more"),
        ({"x" * 5000: 1, "text": "a"}, "'xxxxxxxxxxxxxxxxxxxx…'"),
    ],
)
def test_a_body_of_many_errors_answers_a_short_422(client, body, words):
    # Validation stops at the first bad item, and unknown keys are one error: a million errors
    # would take gigabytes to build.
    r = client.post("/tag", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) <= 2 and len(r.content) < 1000
    assert words in " ".join(e["msg"] for e in detail)


def test_a_422_lists_the_first_errors_and_how_many_more():
    app = create_app()

    @app.post("/many")
    async def many():
        raise RequestValidationError([{"loc": ("body", i), "msg": f"bad {i}"} for i in range(25)])

    with TestClient(app) as c:
        detail = c.post("/many", json={}).json()["detail"]
    assert [e["msg"] for e in detail[:MAX_ERRORS]] == [f"bad {i}" for i in range(MAX_ERRORS)]
    assert detail[MAX_ERRORS:] == [{"loc": [], "msg": f"and {25 - MAX_ERRORS} more errors"}]


@pytest.mark.parametrize("headers", [{}, {"content-type": "text/plain"}])
def test_json_sent_without_its_content_type_answers_422_naming_the_header(client, headers):
    r = client.post("/tag", content=b'{"text": "Angela Merkel"}', headers=headers)
    assert r.status_code == 422
    assert "Content-Type: application/json" in r.json()["detail"][0]["msg"]
    r = client.post("/tag", content=b"{", headers={"content-type": "application/json"})
    assert "Content-Type" not in r.json()["detail"][0]["msg"]


@pytest.fixture(scope="module")
def small():
    limits = Limits(max_body_bytes=1000, max_chars=100, max_texts=3)
    with TestClient(create_app(limits=limits)) as c:
        yield c


def test_a_body_over_the_limit_answers_413_by_its_length(small):
    r = small.post("/tag", json={"text": "x" * 2000})
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]
    assert r.headers["connection"] == "close"  # the rest of the body is no next request


def test_a_streamed_body_over_the_limit_answers_413(small):
    def chunks():  # no Content-Length: the bytes are counted as they come
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    r = small.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]
    assert r.headers["connection"] == "close"


def test_a_text_over_the_limit_answers_413(small):
    assert small.post("/tag", json={"text": "x" * 100}).status_code == 200
    r = small.post("/tag", json={"text": "x" * 101})
    assert r.status_code == 413 and "101 characters; the limit is 100" in r.json()["detail"]
    r = small.post("/tag", json={"texts": ["a", "x" * 101]})
    assert r.status_code == 413 and r.json()["detail"].startswith("text 1 has 101")


def test_more_texts_than_the_limit_answer_413(small):
    assert small.post("/tag", json={"texts": ["a"] * 3}).status_code == 200
    r = small.post("/tag", json={"texts": ["a"] * 4})
    assert r.status_code == 413 and r.json()["detail"] == "the request has 4 texts; the limit is 3"


@pytest.mark.parametrize(
    "window, timeout, words",
    [
        (float("inf"), 30, "0 to 1 s"),
        (float("nan"), 30, "0 to 1 s"),
        (5.0, 30, "0 to 1 s"),
        (-0.1, 30, "0 to 1 s"),
        (0.5, 0.5, "shorter than the timeout (0.5 s)"),
    ],
)
def test_a_batch_window_that_would_time_every_request_out_is_refused(window, timeout, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        create_app(limits=Limits(timeout=timeout), window=window)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--batch-window", "inf"], "--batch-window: must be 0 to 1000 milliseconds, not inf"),
        (["--batch-window", "5000"], "--batch-window: must be 0 to 1000 milliseconds, not 5000"),
        (["--timeout", "inf"], "--timeout: must be positive and finite, not inf"),
        (["--read-timeout", "0"], "--read-timeout: must be positive and finite, not 0"),
        (["--max-texts", "0"], "--max-texts: must be at least 1, not 0"),
    ],
)
def test_rnnkit_serve_refuses_limits_that_are_no_limits(args, words, capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--port", "1", *args])
    assert words in capsys.readouterr().err


def test_rnnkit_serve_refuses_a_batch_window_as_long_as_the_timeout(capsys):
    assert main(["serve", "--batch-window", "500", "--timeout", "0.5", "--port", "1"]) == 1
    assert (
        "--batch-window (500 ms) must be shorter than --timeout (0.5 s)" in capsys.readouterr().err
    )


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
@pytest.mark.parametrize("name", ["max_texts", "read_timeout", "timeout"])
def test_limits_must_be_positive_and_finite(name, value):
    with pytest.raises(ValueError, match=f"{name} must be positive and finite"):
        Limits(**{name: value})


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
