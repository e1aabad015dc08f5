"""Helpers for the trickle tests: a running-server handle and raw HTTP/1.1 clients.

The raw clients write requests byte for byte, so tests can send paths an HTTP client
would clean up, stall a body half-way, or drop a connection like a crashed publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from multidict import CIMultiDict

from byoc_lab.trickle import RetryPolicy, TrickleServer
from byoc_lab.trickle.wire import channel_url

FAST = RetryPolicy(attempts=3, delay=0.05, connect_timeout=2.0, read_timeout=3.0, wait_timeout=3.0)
"""A retry policy that fails fast enough for tests."""


@dataclass
class Running:
    """A trickle server listening on 127.0.0.1, plus a log of the requests it saw."""

    server: TrickleServer
    port: int
    base_path: str
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    arrivals: dict[str, asyncio.Event] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def url(self, name: str) -> str:
        return channel_url(self.base_url, name)

    def arrived(self, request_line: str) -> asyncio.Event:
        """Set when a request "METHOD /path" has reached the server's handlers."""
        return self.arrivals.setdefault(request_line, asyncio.Event())


StartServer = Callable[..., Awaitable[Running]]
"""The ``start_server`` fixture: ``await start_server(config, base_path=..., ...)``."""


@dataclass
class RawResponse:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


async def raw_request(
    port: int, method: str, path: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
) -> RawResponse:
    """Send one request over a fresh connection and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, payload = data.partition(b"\r\n\r\n")
    return parse_response(head, payload)


def parse_response(head: bytes, payload: bytes) -> RawResponse:
    status_line, *header_lines = head.decode("latin-1").strip().split("\r\n")
    parsed: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.add(name.strip(), value.strip())
    if parsed.get("Transfer-Encoding") == "chunked":
        payload = _dechunk(payload)
    return RawResponse(int(status_line.split()[1]), parsed, payload)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


class RawPost:
    """One chunked ``POST`` whose body the test feeds (or abandons) chunk by chunk."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int, path: str, headers: Iterable[tuple[str, str]] = ()) -> RawPost:
        """Connect and send the request headers only (a preconnect)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self._writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self._writer.drain()

    async def finish(self) -> RawResponse:
        """End the body and return the server's answer."""
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()
        return await self.response()

    async def response(self) -> RawResponse:
        """Read the answer (which may come early, e.g. when the segment is closed)."""
        head = await self._reader.readuntil(b"\r\n\r\n")
        response = parse_response(head, b"")
        length = int(response.headers.get("Content-Length", "0"))
        response.body = await self._reader.readexactly(length)
        self.abort()
        return response

    def abort(self) -> None:
        """Drop the connection without finishing the body (a crashed publisher)."""
        self._writer.transport.abort()


async def read_at_least(chunks: AsyncIterator[bytes], count: int) -> bytes:
    """Read from a segment's chunk iterator until at least ``count`` bytes arrived."""
    data = b""
    while len(data) < count:
        data += await anext(chunks)
    return data
