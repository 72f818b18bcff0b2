"""`rnnkit serve`: the tagger over HTTP, with a web page (the serve extra: FastAPI and uvicorn).

app       the FastAPI application: POST /tag, GET /health, /model, /models, the page at /
batching  concurrent requests' texts tagged together in one call
limits    the sizes and times a request may take
models    the served model and the shipped ones, loaded on first use
static/   the web page: plain HTML, CSS and JavaScript, no build step

Nothing in rnnkit imports this package, so `import rnnkit` needs no web framework.
"""
