"""The HTTP service.

POST /tag      {"text": "..."} -> the object `rnnkit tag --json` prints for the text;
               {"texts": [...]} -> {"results": [one such object per text]};
               ?model=NAME picks one of the models GET /models lists
GET  /health   {"status": "ok"}
GET  /model    name, task, entity types, scores and settings of a model (?model=NAME)
GET  /models   the names a request may pick, the served one first
GET  /         the web page; /docs and /openapi.json: the API, as FastAPI describes it
"""

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rnnkit import __version__
from rnnkit.serve.limits import BodyLimit, Limits
from rnnkit.serve.models import Models, UnknownModel, describe

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
    texts: list[str] | None = Field(None, description="several raw texts, tagged in order")

    @model_validator(mode="after")
    def _one_of_text_and_texts(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError('give "text" (one text) or "texts" (a list of texts), not both')
        return self


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


class TagResult(BaseModel):
    text: str
    tokens: list[Token]
    entities: list[Entity]


class TagResults(BaseModel):
    results: list[TagResult]


def create_app(model=None, limits=None, window=0.002):
    """The application serving `model` (a path or shipped name; None: the default model), with
    `limits` (None: the defaults of Limits); `window`: seconds a lone request waits for others
    to be tagged with it."""
    limits = limits or Limits()
    models = Models(model, window=window)

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
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.state.models = models

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, e):
        # FastAPI's own answer echoes each bad input back: megabytes for a large wrong body.
        errors = [
            {
                "loc": list(err.get("loc", ())),
                "msg": err.get("msg", "")
                + (f": {err['ctx']['error']}" if err.get("type") == "json_invalid" else ""),
            }
            for err in e.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    async def pick(name):
        try:
            return await models.get(name)
        except UnknownModel as e:
            raise HTTPException(404, str(e)) from None

    @app.post(
        "/tag",
        response_class=Response,
        responses={
            200: {"model": TagResult | TagResults, "description": "the tags"},
            413: {"description": "the body or a text is over the server's limit"},
            422: {"description": "not JSON, or not one of the two shapes"},
            503: {"description": "tagging took longer than the server's timeout"},
        },
    )
    async def tag(body: TagRequest, model: str | None = None):
        """Tag one text ({"text": ...}) or several ({"texts": [...]}) with the model named."""
        batcher = await pick(model)
        texts = [body.text] if body.texts is None else body.texts
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

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/model")
    async def model_info(model: str | None = None):
        """Name, task, entity types, scores (from the model's file) and settings of a model."""
        batcher = await pick(model)
        return describe(models.default if model is None else model, batcher.tagger)

    @app.get("/models")
    async def model_names():
        return {"default": models.default, "models": list(models.names)}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
