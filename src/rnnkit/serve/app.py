"""The HTTP service.

POST /tag      {"text": "..."} -> the object `rnnkit tag --json` prints for the text;
               {"texts": [...]} -> {"results": [one such object per text]};
               ?model=NAME picks one of the models GET /models lists
GET  /health   {"status": "ok"}
GET  /model    name, task, entity types, scores and settings of a model (?model=NAME)
GET  /models   the names a request may pick, the served one first
GET  /         the web page; /docs and /openapi.json: the API, as FastAPI describes it
HEAD           on each GET route: its headers, no body
"""

import asyncio
import email.message
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from rnnkit import __version__
from rnnkit.errors import RnnkitError
from rnnkit.serve.limits import BodyLimit, Limits
from rnnkit.serve.models import Models, UnknownModel, check_window, describe

STATIC = Path(__file__).parent / "static"


class TagRequest(BaseModel):
    """One text, or a list of texts: exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"text": 'He said, "Teddy Roosevelt was a great President."'}]
        },
    )
    text: str | None = Field(None, description="one raw text")
    # fail_fast: the first bad item ends validation; a million bad items would otherwise make a
    # million error objects, gigabytes of them.
    texts: list[str] | None = Field(
        None, fail_fast=True, description="several raw texts, tagged in order"
    )

    @model_validator(mode="before")
    @classmethod
    def _an_object_with_known_keys(cls, data):
        # One error for the lot: extra="forbid" alone makes one per unknown key.
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "model_type", 'Input should be a JSON object with "text" or "texts"'
            )
        unknown = [str(key) for key in data if key not in cls.model_fields]
        if unknown:
            raise PydanticCustomError(
                "extra_forbidden",
                'Extra inputs are not permitted: {keys}; the body takes "text" or "texts"',
                {"keys": _some(unknown)},
            )
        return data

    @model_validator(mode="after")
    def _one_of_text_and_texts(self):
        if self.text is None and self.texts is None:
            raise ValueError('give "text" (one text) or "texts" (a list of texts)')
        if self.text is not None and self.texts is not None:
            raise ValueError('give "text" (one text) or "texts" (a list of texts), not both')
        return self


# ?model= and ?show= as lists: a plain str parameter silently keeps the last of repeated ones
ModelParam = Annotated[list[str] | None, Query(description="a name GET /models lists")]
ShowParam = Annotated[
    list[str] | None,
    Query(description='entity types to answer with, "PER,LOC" (repeated: all of them)'),
]


def _one_model(model):
    """The one ?model= of a request (None: the served one); given twice, a 400."""
    if model and len(model) > 1:
        raise HTTPException(400, f"model is given {len(model)} times; give it once")
    return model[0] if model else None


def _types(show):
    """Every ?show= of a request as one "A,B" list (None: the model's own types)."""
    return None if show is None else ",".join(show)


class Token(BaseModel):
    text: str
    start: int
    end: int
    label: str
    prob: float = Field(description="ŷ of the predicted label")


class Entity(BaseModel):
    text: str
    start: int = Field(description="text[start:end] is the entity")
    end: int
    type: str
    score: float = Field(description="the mean ŷ of the entity's tokens' labels")


class TagResult(BaseModel):
    text: str
    tokens: list[Token]
    entities: list[Entity]


class TagResults(BaseModel):
    results: list[TagResult]


def _some(keys, shown=3, width=20):
    # A few of the keys, each cut short: a body may hold a million keys, or one of 9 MB.
    named = ", ".join(repr(k if len(k) <= width else k[:width] + "…") for k in keys[:shown])
    more = len(keys) - shown
    return f"{named} and {more:,} more ({len(keys):,} unknown keys)" if more > 0 else named


MAX_ERRORS = 10  # a 422 lists this many errors at most, then says how many there were


async def invalid_request(request, e):
    """A 422 that lists what is wrong, without echoing the input back (FastAPI's own answer
    does: megabytes for a large wrong body), MAX_ERRORS at most."""
    errors = e.errors()
    if not _is_json(request.headers.get("content-type")) and any(
        err.get("loc", ())[:1] == ("body",) for err in errors
    ):
        # FastAPI reads a body as JSON only when its Content-Type says it is; otherwise the
        # error would say "should be a JSON object" of a body that is one.
        return _invalid([{"loc": ["body"], "msg": _NOT_JSON}])
    detail = [
        {"loc": list(err.get("loc", ())), "msg": _message(err)} for err in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        detail.append({"loc": [], "msg": f"and {len(errors) - MAX_ERRORS:,} more errors"})
    return _invalid(detail)


_NOT_JSON = (
    "send the body with the header Content-Type: application/json; without it the body is not "
    "read as JSON"
)


def _is_json(content_type):
    # FastAPI's test: application/json, or application/...+json.
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _message(err):
    msg = err.get("msg", "")
    return msg + (f": {err['ctx']['error']}" if err.get("type") == "json_invalid" else "")


def _invalid(detail):
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(model=None, limits=None, window=0.002, show=None):
    """The application serving `model` (a path or shipped name; None: the default model), with
    `limits` (None: the defaults of Limits); `window`: seconds a lone request waits for others
    to be tagged with it, at most 1 and less than the timeout. show: the entity types `model`
    answers with (Tagger.show; None: those its file names); RnnkitError for one it lacks."""
    limits = limits or Limits()
    check_window(window, limits.timeout)
    models = Models(model, window=window, show=show)

    @asynccontextmanager
    async def lifespan(app):
        yield
        await models.close()

    app = FastAPI(
        title="rnnkit",
        version=__version__,
        description="The lecture's RNN as a named-entity tagger. The page at / tries it out.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, read_timeout=limits.read_timeout)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.state.models = models

    async def pick(name, show=None):
        try:
            return await models.get(name, show)
        except UnknownModel as e:
            raise HTTPException(404, str(e)) from None
        except RnnkitError as e:  # a type the model lacks: the message names its types
            raise HTTPException(400, str(e).replace("--show", "show", 1)) from None

    @app.post(
        "/tag",
        response_class=Response,
        responses={
            200: {"model": TagResult | TagResults, "description": "the tags"},
            400: {"description": "show names a type the model does not tag, or model is repeated"},
            408: {"description": "the body stopped coming before it was whole"},
            413: {"description": "the body, a text or the number of texts is over the limit"},
            422: {"description": "not JSON, or not one of the two shapes"},
            503: {"description": "tagging took longer than the server's timeout"},
        },
    )
    async def tag(body: TagRequest, model: ModelParam = None, show: ShowParam = None):
        """Tag one text ({"text": ...}) or several ({"texts": [...]}) with the model named,
        answering with the entity types `show` names ("PER,LOC"; default: the model's own)."""
        batcher = await pick(_one_model(model), _types(show))
        texts = [body.text] if body.texts is None else body.texts
        if len(texts) > limits.max_texts:  # checked first: tagging them would take unbounded time
            raise HTTPException(
                413, f"the request has {len(texts):,} texts; the limit is {limits.max_texts:,}"
            )
        for i, text in enumerate(texts):
            if len(text) > limits.max_chars:
                what = "the text" if body.texts is None else f"text {i}"
                raise HTTPException(
                    413,
                    f"{what} has {len(text):,} characters; the limit is {limits.max_chars:,}",
                )
        try:
            results = await asyncio.wait_for(batcher.tag(texts), limits.timeout)
        except TimeoutError:
            raise HTTPException(
                503, f"tagging took longer than {limits.timeout:g} s; try again or send less text"
            ) from None
        content = results[0] if body.texts is None else '{"results": [' + ", ".join(results) + "]}"
        return Response(content, media_type="application/json")

    # Each GET route answers HEAD too (what monitors and `curl -I` send), undocumented: one
    # route of both methods gives OpenAPI the same operation id twice.
    @app.get("/health")
    @app.head("/health", include_in_schema=False)
    async def health():
        return {"status": "ok"}

    @app.get("/model")
    @app.head("/model", include_in_schema=False)
    async def model_info(model: ModelParam = None, show: ShowParam = None):
        """Name, task, entity types, scores (from the model's file) and settings of a model."""
        name = _one_model(model)
        batcher = await pick(name, _types(show))
        return describe(models.default if name is None else name, batcher.tagger)

    @app.get("/models")
    @app.head("/models", include_in_schema=False)
    async def model_names():
        return {"default": models.default, "models": list(models.names)}

    @app.get("/", include_in_schema=False)
    @app.head("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
