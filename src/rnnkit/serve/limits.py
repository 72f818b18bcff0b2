"""What one request may take: checked at the boundary, answered with a status and a message."""

import asyncio
import math
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

# On the answers given before the body is read whole: the rest of it, if it comes, is no request
# for the connection to read next.
CLOSE = {"Connection": "close"}
# Bytes a second that a request body must average once its first read_timeout seconds are
# over: a client that trickles a byte every few seconds, each within read_timeout, would
# otherwise hold its connection for days (a 10 MB body at a byte every 29 s). A body of 10 MB
# has some three hours at this rate, a slow mobile link's 50 kB/s needs 200 s.
MIN_RATE = 1_000


@dataclass(frozen=True)
class Limits:
    """max_body_bytes: a larger request body is refused with 413, whether its Content-Length says
    so or its streamed bytes do. max_chars: a longer text is refused with 413. max_texts: a
    request with more texts is refused with 413. timeout: seconds a request may wait for its tags
    (queue included) before it is answered 503. read_timeout: seconds the server waits for the
    next piece of a request's body before it answers 408, and the grace before the body must
    come at MIN_RATE bytes a second or be answered 408."""

    max_body_bytes: int = 10_000_000
    max_chars: int = 1_000_000
    max_texts: int = 10_000
    timeout: float = 30.0
    read_timeout: float = 30.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_chars", "max_texts", "timeout", "read_timeout"):
            value = getattr(self, name)
            # inf would wait for ever, and nan compares false with everything: neither is a limit.
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive and finite, not {value}")


class BodyLimit:
    """ASGI middleware: a request body over max_bytes is answered 413, as soon as its
    Content-Length says so, or else when the bytes streamed in pass the limit; a body whose next
    piece takes longer than read_timeout seconds to come, or that comes at under min_rate bytes
    a second once read_timeout seconds have passed, is answered 408."""

    def __init__(self, app, max_bytes, read_timeout=30.0, min_rate=MIN_RATE):
        self.app, self.max_bytes, self.read_timeout = app, max_bytes, read_timeout
        self.min_rate = min_rate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self.too_large()(scope, receive, send)
            return
        seen, complete, started = 0, False, None

        async def receive_limited():
            nonlocal seen, complete, started
            if complete:  # only the disconnect is left to come, which may rightly take long
                return await receive()
            started = started or asyncio.get_running_loop().time()
            message = await self.next_piece(receive, seen, started)
            seen += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if seen > self.max_bytes:
                # Raised inside FastAPI's reading of the body, which passes HTTPException on
                # to the app's handler: the client gets the same 413.
                raise HTTPException(413, self.message(), headers=CLOSE)
            return message

        await self.app(scope, receive_limited, send)

    async def next_piece(self, receive, seen, started):
        # A client that sends its headers and half a body would otherwise hold its connection,
        # and at shutdown the server, for ever; one that trickles it, for days (MIN_RATE).
        due = started + self.read_timeout + seen / self.min_rate
        wait = min(self.read_timeout, due - asyncio.get_running_loop().time())
        try:
            if wait <= 0:
                raise TimeoutError
            return await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            if wait < self.read_timeout:
                detail = f"the request body came at under {self.min_rate:,} bytes a second"
            else:
                detail = f"the request body stopped coming for {self.read_timeout:g} s"
            raise HTTPException(408, f"{detail}; send it whole", headers=CLOSE) from None

    def message(self):
        return f"the request body is over the limit of {self.max_bytes:,} bytes"

    def too_large(self):
        return JSONResponse({"detail": self.message()}, status_code=413, headers=CLOSE)
