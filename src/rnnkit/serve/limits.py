"""What one request may take: checked at the boundary, answered with a status and a message."""

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse


@dataclass(frozen=True)
class Limits:
    """max_body_bytes: a larger request body is refused with 413, whether its Content-Length says
    so or its streamed bytes do. max_chars: a longer text is refused with 413. timeout: seconds a
    request may wait for its tags (queue included) before it is answered 503."""

    max_body_bytes: int = 10_000_000
    max_chars: int = 1_000_000
    timeout: float = 30.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_chars", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")


class BodyLimit:
    """ASGI middleware: a request body over max_bytes is answered 413, as soon as its
    Content-Length says so, or else when the bytes streamed in pass the limit."""

    def __init__(self, app, max_bytes):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self.too_large()(scope, receive, send)
            return
        seen = 0

        async def receive_limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                # Raised inside FastAPI's reading of the body, which passes HTTPException on
                # to the app's handler: the client gets the same 413.
                raise HTTPException(413, self.message())
            return message

        await self.app(scope, receive_limited, send)

    def message(self):
        return f"the request body is over the limit of {self.max_bytes:,} bytes"

    def too_large(self):
        return JSONResponse({"detail": self.message()}, status_code=413)
