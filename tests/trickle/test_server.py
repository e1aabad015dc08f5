"""The trickle server over raw HTTP: routes, statuses, headers, limits, lifecycle."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from byoc_lab.errors import ChannelLimitError, ChannelNameError, ParamError, RuntimeStateError
from byoc_lab.trickle import TRICKLE_SERVER_KEY, TrickleServer, TrickleServerConfig

from .helpers import RawPost, Running, StartServer, raw_request

SEQ = "Lp-Trickle-Seq"
LATEST = "Lp-Trickle-Latest"
CLOSED = "Lp-Trickle-Closed"


async def post(port: int, path: str, body: bytes, *headers: tuple[str, str]) -> None:
    response = await raw_request(port, "POST", path, headers, body)
    assert response.status == 200, response.text


async def test_unknown_channel_is_404_with_a_sentence(trickle: Running) -> None:
    response = await raw_request(trickle.port, "GET", "/nochan/0")
    assert response.status == 404
    assert response.text == "Channel nochan does not exist.\n"
    assert (await raw_request(trickle.port, "GET", "/nochan/next")).status == 404
    assert (await raw_request(trickle.port, "DELETE", "/nochan/0")).status == 404


async def test_without_autocreate_clients_cannot_create_channels(
    start_server: StartServer,
) -> None:
    running = await start_server(TrickleServerConfig(autocreate=False))
    response = await raw_request(running.port, "POST", "/ch/0", body=b"x")
    assert response.status == 404
    assert response.headers["Connection"] == "close"  # wakes go-livepeer preconnects
    create = await raw_request(running.port, "POST", "/ch", [("Expect-Content", "video/MP2T")])
    assert create.status == 404
    assert running.server.channels() == []

    running.server.create_channel("ch", "application/json")
    await post(running.port, "/ch/0", b"{}")
    got = await raw_request(running.port, "GET", "/ch/0")
    assert got.headers["Content-Type"] == "application/json"  # the channel's type, not the POST's


async def test_explicit_create_takes_the_mime_from_expect_content(trickle: Running) -> None:
    create = await raw_request(trickle.port, "POST", "/ch", [("Expect-Content", "video/MP2T")])
    assert create.status == 200
    assert [(c.name, c.mime, c.next_seq) for c in trickle.server.channels()] == [
        ("ch", "video/MP2T", 0)
    ]


async def test_publish_then_read_has_the_observed_http_trickle_headers(trickle: Running) -> None:
    response = await raw_request(
        trickle.port, "POST", "/ch/0", [("Content-Type", "video/MP2T")], b"hello"
    )
    assert response.status == 200
    assert response.headers[SEQ] == "0"
    assert CLOSED not in response.headers

    got = await raw_request(trickle.port, "GET", "/ch/0")
    assert got.status == 200
    assert got.body == b"hello"
    assert got.headers[SEQ] == "0"
    assert got.headers[LATEST] == "1"
    assert got.headers["Content-Type"] == "video/MP2T"
    assert got.headers["Transfer-Encoding"] == "chunked"


async def test_segment_beyond_the_write_head_is_470_with_latest(trickle: Running) -> None:
    await post(trickle.port, "/ch/0", b"a")
    response = await raw_request(trickle.port, "GET", "/ch/5")
    assert response.status == 470
    assert response.headers[LATEST] == "1"
    assert response.headers[SEQ] == "5"
    assert response.text == "Segment 5 is not available; the next one is 1.\n"


async def test_window_keeps_the_last_five_segments(trickle: Running) -> None:
    for seq in range(7):
        await post(trickle.port, f"/ch/{seq}", f"segment {seq}".encode())
    for seq in (0, 1):
        old = await raw_request(trickle.port, "GET", f"/ch/{seq}")
        assert (old.status, old.headers[LATEST], old.headers[SEQ]) == (470, "7", str(seq))
    for seq in range(2, 7):
        kept = await raw_request(trickle.port, "GET", f"/ch/{seq}")
        assert (kept.status, kept.body) == (200, f"segment {seq}".encode())
        assert kept.headers[SEQ] == str(seq)


async def test_current_and_next_sentinels(trickle: Running) -> None:
    for seq in range(3):
        await post(trickle.port, f"/ch/{seq}", f"s{seq}".encode())
    current = await raw_request(trickle.port, "GET", "/ch/-2")
    assert (current.status, current.headers[SEQ], current.body) == (200, "2", b"s2")
    assert current.headers[LATEST] == "3"

    waiting = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/-1"))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # -1 waits for a segment that does not exist yet
    await post(trickle.port, "/ch/-1", b"s3")  # POST -1 writes at the write head
    nxt = await waiting
    assert (nxt.status, nxt.headers[SEQ], nxt.body) == (200, "3", b"s3")
    assert LATEST not in nxt.headers  # it is the newest segment


async def test_current_on_an_empty_channel_waits_for_segment_zero(trickle: Running) -> None:
    trickle.server.create_channel("ch")
    waiting = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/-2"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await post(trickle.port, "/ch/0", b"first")
    got = await waiting
    assert (got.headers[SEQ], got.body) == ("0", b"first")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ch/abc"),
        ("GET", "/ch/1.5"),
        ("GET", "/ch/-3"),
        ("GET", "/ch/+1"),
        ("POST", "/ch/x"),
        ("POST", "/ch/-2"),
        ("DELETE", "/ch/one"),
        ("DELETE", "/ch/-1"),
    ],
)
async def test_malformed_segment_numbers_are_400(trickle: Running, method: str, path: str) -> None:
    trickle.server.create_channel("ch")
    response = await raw_request(trickle.port, method, path)
    assert response.status == 400
    assert response.text.startswith("Invalid segment number ")
    assert response.text.endswith(".\n")


@pytest.mark.parametrize(
    "name", ["..", "%2E%2E", "a%2Fb", "a%2fb", ".", "_changes", "a%00b", "x" * 129, "a..b"]
)
@pytest.mark.parametrize(("method", "suffix"), [("GET", "/0"), ("POST", "/0"), ("POST", "")])
async def test_unsafe_channel_names_are_400_and_create_nothing(
    trickle: Running, name: str, method: str, suffix: str
) -> None:
    response = await raw_request(trickle.port, method, f"/{name}{suffix}", body=b"x")
    assert response.status == 400
    assert response.text.startswith("Invalid channel name")
    assert trickle.server.channels() == []


async def test_unsafe_name_on_delete_is_400(trickle: Running) -> None:
    assert (await raw_request(trickle.port, "DELETE", "/..")).status == 400
    assert (await raw_request(trickle.port, "DELETE", "/a%2Fb/0")).status == 400


async def test_declared_oversize_is_413_before_reading(start_server: StartServer) -> None:
    running = await start_server(TrickleServerConfig(autocreate=True, max_segment_bytes=1000))
    response = await raw_request(running.port, "POST", "/ch/0", body=b"x" * 1001)
    assert response.status == 413
    assert response.text == "Segment is larger than the limit of 1000 bytes.\n"
    await post(running.port, "/ch/0", b"x" * 1000)  # exactly the limit is fine
    assert (await raw_request(running.port, "GET", "/ch/0")).body == b"x" * 1000


async def test_streamed_oversize_is_cut_answered_413_and_the_channel_lives(
    start_server: StartServer,
) -> None:
    running = await start_server(TrickleServerConfig(autocreate=True, max_segment_bytes=1000))
    raw = await RawPost.open(running.port, "/ch/0")
    await raw.send(b"a" * 600)
    await raw.send(b"b" * 600)  # 1200 > 1000: refused without waiting for the end
    response = await raw.response()
    assert response.status == 413
    assert response.headers[SEQ] == "0"
    assert "exceeded the limit of 1000 bytes" in response.text

    cut = await raw_request(running.port, "GET", "/ch/0")
    assert (cut.status, cut.body) == (200, b"a" * 600 + b"b" * 400)  # cut at the limit
    await post(running.port, "/ch/1", b"after")
    after = await raw_request(running.port, "GET", "/ch/1")
    assert (after.status, after.body) == (200, b"after")
    assert [c.name for c in running.server.channels()] == ["ch"]


async def test_empty_segment_is_200_empty_and_moves_the_head(trickle: Running) -> None:
    response = await raw_request(trickle.port, "POST", "/ch/0")
    assert (response.status, response.headers[SEQ]) == (200, "0")
    empty = await raw_request(trickle.port, "GET", "/ch/0")
    assert (empty.status, empty.body) == (200, b"")
    assert (empty.headers[SEQ], empty.headers[LATEST]) == ("0", "1")
    assert empty.headers["Content-Length"] == "0"
    assert CLOSED not in empty.headers
    assert trickle.server.channels()[0].next_seq == 1


async def test_next_route_reports_the_write_head(trickle: Running) -> None:
    for seq in range(3):
        await post(trickle.port, f"/ch/{seq}", b"x")
    response = await raw_request(trickle.port, "GET", "/ch/next")
    assert (response.status, response.text, response.headers[LATEST]) == (200, "3", "3")


async def test_delete_segment_releases_its_waiting_readers(trickle: Running) -> None:
    await post(trickle.port, "/ch/0", b"x")
    waiting = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/1"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert (await raw_request(trickle.port, "DELETE", "/ch/1")).status == 200
    released = await waiting
    assert (released.status, released.body, released.headers[SEQ]) == (200, b"", "1")
    assert CLOSED not in released.headers
    gone = await raw_request(trickle.port, "DELETE", "/ch/9")
    assert (gone.status, gone.text) == (400, "Segment 9 is not in the window.\n")


async def test_delete_channel_ends_waiting_readers_and_preconnected_writers(
    trickle: Running,
) -> None:
    await post(trickle.port, "/ch/0", b"x")
    waiting = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/-1"))
    preconnect = await RawPost.open(trickle.port, "/ch/1")
    await asyncio.wait_for(trickle.arrived("POST /ch/1").wait(), 2)
    await asyncio.sleep(0.05)

    deleted = await raw_request(trickle.port, "DELETE", "/ch")
    assert deleted.status == 200
    ended = await waiting
    assert (ended.status, ended.body, ended.headers[CLOSED]) == (200, b"", "terminated")
    answer = await preconnect.response()
    assert (answer.status, answer.headers[SEQ], answer.headers[CLOSED]) == (200, "1", "terminated")

    assert trickle.server.channels() == []
    late = await raw_request(trickle.port, "GET", "/ch/1")  # a lingering closed channel
    assert (late.status, late.headers[CLOSED], late.body) == (200, "terminated", b"")
    again = await raw_request(trickle.port, "DELETE", "/ch")
    assert (again.status, again.text) == (400, "Channel ch does not exist.\n")


async def test_close_channel_from_python_wakes_subscribers(trickle: Running) -> None:
    trickle.server.create_channel("ch")
    waiting = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/0"))
    await asyncio.sleep(0.1)
    assert trickle.server.close_channel("ch") is True
    assert trickle.server.close_channel("ch") is False
    assert (await waiting).headers[CLOSED] == "terminated"


async def test_reset_closes_older_segments_but_not_later_preconnects(trickle: Running) -> None:
    await post(trickle.port, "/ch/0", b"zero")
    stalled = await RawPost.open(trickle.port, "/ch/1")  # a publisher that died mid-segment
    await stalled.send(b"part")
    reader = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/1"))
    later = await RawPost.open(trickle.port, "/ch/3")  # preconnected ahead of the reset
    await asyncio.wait_for(trickle.arrived("POST /ch/3").wait(), 2)
    await asyncio.sleep(0.1)
    assert not reader.done()

    await post(trickle.port, "/ch/2", b"two", ("Lp-Trickle-Reset", "1"))
    ended = await reader
    assert (ended.status, ended.body) == (200, b"part")
    await later.send(b"three")
    assert (await later.finish()).status == 200
    assert (await raw_request(trickle.port, "GET", "/ch/3")).body == b"three"
    stalled.abort()


@pytest.mark.parametrize("handler_cancellation", [False, True])
async def test_publisher_cut_off_mid_segment_ends_it_with_what_arrived(
    start_server: StartServer, handler_cancellation: bool
) -> None:
    running = await start_server(handler_cancellation=handler_cancellation)
    raw = await RawPost.open(running.port, "/ch/0", [("Content-Type", "video/MP2T")])
    await raw.send(b"hello ")
    reader = asyncio.create_task(raw_request(running.port, "GET", "/ch/0"))
    await asyncio.sleep(0.1)
    await raw.send(b"world")
    await asyncio.sleep(0.05)
    raw.abort()
    partial = await reader
    assert (partial.status, partial.body, partial.headers[SEQ]) == (200, b"hello world", "0")

    await post(running.port, "/ch/1", b"next")
    assert (await raw_request(running.port, "GET", "/ch/1")).body == b"next"
    assert [(c.name, c.next_seq) for c in running.server.channels()] == [("ch", 2)]


async def test_publisher_cut_off_before_any_byte_leaves_the_segment_open(
    trickle: Running,
) -> None:
    trickle.server.create_channel("ch")
    reader = asyncio.create_task(raw_request(trickle.port, "GET", "/ch/0"))
    raw = await RawPost.open(trickle.port, "/ch/0")
    await asyncio.wait_for(trickle.arrived("POST /ch/0").wait(), 2)
    await asyncio.sleep(0.05)
    raw.abort()
    await asyncio.sleep(0.2)
    assert not reader.done()  # nothing was lost: a retry may still deliver segment 0
    await post(trickle.port, "/ch/0", b"retried")
    got = await reader
    assert (got.headers[SEQ], got.body) == ("0", b"retried")


async def test_max_channels(start_server: StartServer) -> None:
    running = await start_server(TrickleServerConfig(autocreate=True, max_channels=2))
    await post(running.port, "/a/0", b"x")
    await post(running.port, "/b/0", b"x")
    full = await raw_request(running.port, "POST", "/c/0", body=b"x")
    assert (full.status, full.text) == (503, "Too many channels are open.\n")
    assert (await raw_request(running.port, "POST", "/c")).status == 503
    with pytest.raises(ChannelLimitError, match="already hosts 2 channels"):
        running.server.create_channel("c")
    assert running.server.create_channel("a").name == "a"  # existing: no new slot needed

    assert (await raw_request(running.port, "DELETE", "/a")).status == 200
    await post(running.port, "/c/0", b"x")
    assert [c.name for c in running.server.channels()] == ["b", "c"]


async def test_idle_channels_are_swept(start_server: StartServer) -> None:
    config = TrickleServerConfig(
        autocreate=True, idle_timeout=0.4, sweep_interval=0.05, closed_linger=30
    )
    running = await start_server(config)
    running.server.create_channel("idle")
    running.server.create_channel("busy")
    waiting = asyncio.create_task(raw_request(running.port, "GET", "/idle/0"))
    for seq in range(8):
        await post(running.port, f"/busy/{seq}", b"x")
        await asyncio.sleep(0.1)
    ended = await waiting
    assert ended.headers[CLOSED] == "terminated"
    assert [c.name for c in running.server.channels()] == ["busy"]
    late = await raw_request(running.port, "GET", "/idle/0")
    assert late.headers[CLOSED] == "terminated"


async def test_closed_channels_linger_then_404(start_server: StartServer) -> None:
    config = TrickleServerConfig(autocreate=True, sweep_interval=0.05, closed_linger=0.1)
    running = await start_server(config)
    running.server.create_channel("ch")
    running.server.close_channel("ch")
    assert (await raw_request(running.port, "GET", "/ch/0")).headers[CLOSED] == "terminated"
    await asyncio.sleep(0.4)
    assert (await raw_request(running.port, "GET", "/ch/0")).status == 404


async def test_routes_mount_under_a_base_path(start_server: StartServer) -> None:
    running = await start_server(base_path="/ai/trickle/")
    await post(running.port, "/ai/trickle/ch/0", b"mounted")
    assert (await raw_request(running.port, "GET", "/ai/trickle/ch/0")).body == b"mounted"
    assert (await raw_request(running.port, "GET", "/ch/0")).status == 404


async def test_python_api() -> None:
    server = TrickleServer(TrickleServerConfig(max_channels=3))
    info = server.create_channel("b", "video/MP2T")
    assert (info.name, info.mime, info.next_seq) == ("b", "video/MP2T", 0)
    assert info.idle_s >= 0
    assert server.create_channel("b", "text/plain").mime == "video/MP2T"  # idempotent
    server.create_channel("a")
    assert [(c.name, c.mime) for c in server.channels()] == [
        ("a", "application/octet-stream"),
        ("b", "video/MP2T"),
    ]
    with pytest.raises(ChannelNameError):
        server.create_channel("../x")
    assert server.close_channel("a") is True
    assert server.close_channel("zzz") is False

    app = web.Application()
    server.setup(app, base_path="/ai/trickle/")
    assert app[TRICKLE_SERVER_KEY] is server
    with pytest.raises(RuntimeStateError, match="already attached"):
        server.make_app()


@pytest.mark.parametrize(
    "bad",
    [{"window": 0}, {"max_segment_bytes": 0}, {"max_channels": -1}, {"idle_timeout": 0.0}],
)
def test_config_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ParamError, match="TrickleServerConfig"):
        TrickleServerConfig(**bad)  # type: ignore[arg-type]


async def test_shutdown_ends_waiting_requests_promptly() -> None:
    server = TrickleServer(TrickleServerConfig(autocreate=True))
    runner = web.AppRunner(server.make_app(), shutdown_timeout=30.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await post(port, "/ch/0", b"x")
    waiting = asyncio.create_task(raw_request(port, "GET", "/ch/-1"))
    stalled = await RawPost.open(port, "/ch/1")
    await asyncio.sleep(0.1)

    started = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - started < 2.0  # not the 30 s shutdown_timeout
    assert (await waiting).headers[CLOSED] == "terminated"
    stalled.abort()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as client:
            await client.get(f"http://127.0.0.1:{port}/ch/0")
