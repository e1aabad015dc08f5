"""TricklePublisher and TrickleSubscriber against a real TrickleServer on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from byoc_lab.errors import (
    RuntimeStateError,
    StreamClosedError,
    StreamNotFoundError,
    TrickleError,
    TrickleHTTPError,
    TrickleTimeoutError,
)
from byoc_lab.trickle import (
    RetryPolicy,
    TricklePublisher,
    TrickleSegment,
    TrickleServerConfig,
    TrickleSubscriber,
    make_session,
)

from .helpers import FAST, RawPost, Running, StartServer, raw_request, read_at_least


def payload(seq: int, size: int) -> bytes:
    return random.Random(seq).randbytes(size)


async def write_slowly(pub: TricklePublisher, chunk: bytes, count: int) -> None:
    async with pub.segment() as seg:
        for _ in range(count):
            await seg.write(chunk)
            await asyncio.sleep(0.002)


async def collect(subscriber: TrickleSubscriber, count: int) -> list[tuple[int, bytes]]:
    got = []
    async for segment in subscriber:
        got.append((segment.seq, await segment.read()))
        if len(got) == count:
            break
    return got


async def test_many_segments_arrive_byte_identical_then_delete_ends_the_stream(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("video")
    sizes = [1, 10, 1000, 65_536, 200_003, 7, 4096, 100_000, 3, 50_000] * 2
    sent = {seq: payload(seq, size) for seq, size in enumerate(sizes)}
    async with TrickleSubscriber(session, url, start_seq=0, retry=FAST) as sub:
        received: list[tuple[int, str]] = []

        async def consume() -> None:
            async for segment in sub:
                chunks = [chunk async for chunk in segment]
                received.append((segment.seq, hashlib.sha256(b"".join(chunks)).hexdigest()))

        consumer = asyncio.create_task(consume())
        async with TricklePublisher(session, url, retry=FAST) as pub:
            for seq, data in sent.items():
                async with pub.segment() as seg:
                    assert seg.seq == seq
                    for start in range(0, len(data), 16_384):  # several writes per segment
                        await seg.write(data[start : start + 16_384])
                await asyncio.sleep(0.005)  # let the subscriber keep up with the window
            await asyncio.sleep(0.1)
            await pub.close(delete=True)
        await asyncio.wait_for(consumer, 5)  # iteration ends on Lp-Trickle-Closed

    expected = [(seq, hashlib.sha256(data).hexdigest()) for seq, data in sent.items()]
    assert received == expected
    assert trickle.server.channels() == []


async def test_subscriber_gets_bytes_before_the_publisher_finishes_the_segment(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("live")
    async with (
        TricklePublisher(session, url, retry=FAST) as pub,
        TrickleSubscriber(session, url, start_seq=-1, retry=FAST) as sub,
    ):
        waiting = asyncio.create_task(anext(sub))
        await asyncio.wait_for(trickle.arrived("GET /live/-1").wait(), 2)
        async with pub.segment() as seg:
            await seg.write(b"chunk-1|")
            segment = await waiting
            chunks = aiter(segment)
            assert await read_at_least(chunks, 8) == b"chunk-1|"  # segment 0 still open
            assert "POST /live/0" not in trickle.finished
            await seg.write(b"chunk-2|")
            assert await read_at_least(chunks, 8) == b"chunk-2|"
            await seg.write(b"chunk-3")
        assert await segment.read() == b"chunk-3"
        assert segment.seq == 0
        assert segment.content_type == "video/MP2T"


async def test_publisher_preconnects_the_next_segment_while_writing(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("pre")
    async with TricklePublisher(session, url, retry=FAST) as pub:
        await asyncio.wait_for(trickle.arrived("POST /pre/0").wait(), 2)  # at __aenter__
        async with pub.segment() as seg:
            await seg.write(b"x")
            await asyncio.wait_for(trickle.arrived("POST /pre/1").wait(), 2)
            assert "POST /pre/0" not in trickle.finished  # seq 0 is still being written
        assert "POST /pre/0" in trickle.finished
        assert "POST /pre/1" not in trickle.finished  # waiting for its first byte
        assert pub.seq == 1
    assert trickle.started[:2] == ["POST /pre/0", "POST /pre/1"]


async def test_current_joins_the_segment_being_written_and_next_waits_for_a_new_one(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    async with (
        TricklePublisher(session, url, retry=FAST) as pub,
        TrickleSubscriber(session, url, retry=FAST) as current,  # default start: -2
        TrickleSubscriber(session, url, start_seq=-1, retry=FAST) as nxt,
    ):
        assert (current.seq, nxt.seq) == (-2, -1)
        await pub.publish(b"zero")
        await pub.publish(b"one")
        async with pub.segment() as seg:
            await seg.write(b"two-a|")
            joined = await anext(current)
            assert (joined.seq, joined.latest) == (2, 3)
            assert await read_at_least(aiter(joined), 6) == b"two-a|"
            waiting = asyncio.create_task(anext(nxt))  # asked while 2 is being written
            await seg.write(b"two-b")
            await asyncio.sleep(0.1)
            assert not waiting.done()
        assert await joined.read() == b"two-b"
        assert await pub.publish(b"three") == 3
        fresh = await waiting
        assert (fresh.seq, await fresh.read()) == (3, b"three")
        following = await anext(current)  # current moved on to 3 as well
        assert (following.seq, await following.read()) == (3, b"three")


async def test_subscriber_that_fell_out_of_the_window_jumps_to_latest(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    async with TricklePublisher(session, url, retry=FAST) as pub:
        for seq in range(8):
            await pub.publish(f"s{seq}".encode())
        async with TrickleSubscriber(session, url, start_seq=1, retry=FAST) as sub:
            waiting = asyncio.create_task(anext(sub))
            await asyncio.wait_for(trickle.arrived("GET /ch/8").wait(), 2)
            await pub.publish(b"s8")
            segment = await waiting
            assert (segment.seq, await segment.read()) == (8, b"s8")
    assert trickle.started.index("GET /ch/1") < trickle.started.index("GET /ch/8")


async def test_subscriber_on_a_missing_channel_raises_after_the_retry_policy(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    async with TrickleSubscriber(session, trickle.url("nope"), start_seq=0, retry=FAST) as sub:
        with pytest.raises(StreamNotFoundError, match="does not exist") as info:
            await anext(sub)
    assert info.value.url == trickle.url("nope") + "/0"
    assert trickle.started.count("GET /nope/0") == FAST.attempts


async def test_subscriber_waits_for_a_channel_created_during_its_retries(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    patient = RetryPolicy(attempts=20, delay=0.05, wait_timeout=3.0)
    async with TrickleSubscriber(session, trickle.url("soon"), start_seq=0, retry=patient) as sub:
        waiting = asyncio.create_task(anext(sub))
        await asyncio.sleep(0.2)
        await raw_request(trickle.port, "POST", "/soon/0", body=b"here")
        segment = await waiting
        assert (segment.seq, await segment.read()) == (0, b"here")


async def test_closing_the_channel_ends_iteration_cleanly(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    trickle.server.create_channel("ch")
    async with TrickleSubscriber(session, trickle.url("ch"), start_seq=-1, retry=FAST) as sub:
        consumer = asyncio.create_task(collect(sub, 10))
        await asyncio.wait_for(trickle.arrived("GET /ch/-1").wait(), 2)
        trickle.server.close_channel("ch")
        assert await consumer == []
        assert await sub.next_segment() is None  # stays ended


async def test_empty_segments_are_skipped(trickle: Running, session: aiohttp.ClientSession) -> None:
    await raw_request(trickle.port, "POST", "/ch/0")  # go-livepeer: 200 with an empty body
    await raw_request(trickle.port, "POST", "/ch/1", body=b"one")
    async with TrickleSubscriber(session, trickle.url("ch"), start_seq=0, retry=FAST) as sub:
        segment = await anext(sub)
        assert (segment.seq, await segment.read()) == (1, b"one")


async def test_subscriber_resumes_after_a_wait_timeout(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    trickle.server.create_channel("ch")
    impatient = RetryPolicy(attempts=2, delay=0.05, wait_timeout=0.3)
    async with TrickleSubscriber(session, trickle.url("ch"), start_seq=0, retry=impatient) as sub:
        with pytest.raises(TrickleTimeoutError, match=r"no trickle segment started within 0\.3 s"):
            await anext(sub)
        waiting = asyncio.create_task(anext(sub))
        await asyncio.sleep(0.05)
        await raw_request(trickle.port, "POST", "/ch/0", body=b"late")
        segment = await waiting
        assert (segment.seq, await segment.read()) == (0, b"late")


async def test_stalled_segment_times_out_with_a_typed_error(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    stalled = await RawPost.open(trickle.port, "/ch/0")
    await stalled.send(b"start")
    policy = RetryPolicy(attempts=2, delay=0.05, read_timeout=0.3, wait_timeout=2.0)
    async with TrickleSubscriber(session, trickle.url("ch"), start_seq=0, retry=policy) as sub:
        segment = await anext(sub)
        chunks = aiter(segment)
        assert await anext(chunks) == b"start"
        with pytest.raises(TrickleTimeoutError, match=r"segment 0: no data for 0\.3 s"):
            await anext(chunks)
    stalled.abort()


async def test_partial_segment_of_a_crashed_publisher_then_the_next_one(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    crashed = await RawPost.open(trickle.port, "/ch/0")
    await crashed.send(b"half a ")
    async with TrickleSubscriber(session, url, start_seq=0, retry=FAST) as sub:
        first = await anext(sub)
        assert await read_at_least(aiter(first), 7) == b"half a "
        await crashed.send(b"segment")
        await asyncio.sleep(0.05)
        crashed.abort()
        assert await first.read() == b"segment"
        async with TricklePublisher(session, url, start_seq=1, retry=FAST) as pub:
            await pub.publish(b"whole")
        second = await anext(sub)
        assert (second.seq, await second.read()) == (1, b"whole")


async def test_publisher_retries_an_unsent_segment_until_the_channel_exists(
    start_server: StartServer, session: aiohttp.ClientSession
) -> None:
    running = await start_server(TrickleServerConfig(autocreate=False))
    patient = RetryPolicy(attempts=10, delay=0.1)
    async with TricklePublisher(session, running.url("late"), retry=patient) as pub:
        await asyncio.sleep(0.15)  # the preconnected POST got 404 by now
        running.server.create_channel("late", "application/json")
        assert await pub.publish(b'{"hello": 1}') == 0
    got = await raw_request(running.port, "GET", "/late/0")
    assert (got.body, got.headers["Content-Type"]) == (b'{"hello": 1}', "application/json")
    assert running.started.count("POST /late/0") >= 2


async def test_publisher_to_a_missing_channel_raises_not_found(
    start_server: StartServer, session: aiohttp.ClientSession
) -> None:
    running = await start_server(TrickleServerConfig(autocreate=False))
    async with TricklePublisher(session, running.url("nope"), retry=FAST) as pub:
        await asyncio.sleep(0.05)  # the preconnect's 404 is in: retried, nothing sent yet
        with pytest.raises(StreamNotFoundError, match="does not exist") as info:
            await pub.publish(b"x")
        assert pub.seq == 1  # the failed segment used its number
    assert info.value.url == running.url("nope") + "/0"
    # Retried while nothing was sent; once "x" went out on a retry, the 404 is final.
    assert 2 <= running.started.count("POST /nope/0") <= FAST.attempts


async def test_oversized_segment_raises_413_and_the_publisher_goes_on(
    start_server: StartServer, session: aiohttp.ClientSession
) -> None:
    running = await start_server(TrickleServerConfig(autocreate=True, max_segment_bytes=65_536))
    url = running.url("ch")
    async with TricklePublisher(session, url, retry=FAST) as pub:
        with pytest.raises(TrickleHTTPError) as info:
            await write_slowly(pub, b"x" * 4096, 50)
        assert info.value.status == 413
        assert "HTTP 413" in str(info.value)
        assert await pub.publish(b"small") == 1
    async with TrickleSubscriber(session, url, start_seq=0, retry=FAST) as sub:
        assert [(seq, len(data)) for seq, data in await collect(sub, 2)] == [(0, 65_536), (1, 5)]


async def test_exception_inside_a_segment_drops_it_and_publishing_continues(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    async with (
        TricklePublisher(session, url, retry=FAST) as pub,
        TrickleSubscriber(session, url, start_seq=0, retry=FAST) as sub,
    ):
        received: list[TrickleSegment] = []

        async def fail_mid_segment() -> None:
            async with pub.segment() as seg:
                await seg.write(b"partial")
                received.append(await anext(sub))
                assert await read_at_least(aiter(received[0]), 7) == b"partial"
                raise ValueError("encoder failed")

        with pytest.raises(ValueError, match="encoder failed"):
            await fail_mid_segment()
        assert await received[0].read() == b""  # the dropped segment ended where it was cut
        await pub.publish(b"next")
        second = await anext(sub)
        assert (second.seq, await second.read()) == (1, b"next")
    assert "DELETE /ch/0" in trickle.started


async def test_publisher_sees_a_closed_channel(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    trickle.server.create_channel("ch")
    async with TricklePublisher(session, trickle.url("ch"), retry=FAST) as pub:
        await pub.publish(b"before")
        trickle.server.close_channel("ch")  # answers the preconnected POST for seq 1
        with pytest.raises(StreamClosedError, match="closed"):
            await pub.publish(b"after")


async def test_reset_lets_a_restarted_publisher_unblock_old_subscribers(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    crashed = await RawPost.open(trickle.port, "/ch/0")  # died mid-segment, socket left open
    await crashed.send(b"stuck")
    async with TrickleSubscriber(session, url, start_seq=0, retry=FAST) as sub:
        stuck = await anext(sub)
        async with TricklePublisher(session, url, start_seq=1, reset=True, retry=FAST) as pub:
            await pub.publish(b"restarted")
        assert await stuck.read() == b"stuck"
        fresh = await anext(sub)
        assert (fresh.seq, await fresh.read()) == (1, b"restarted")
    crashed.abort()


async def test_many_subscribers_get_the_same_bytes(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    url = trickle.url("ch")
    trickle.server.create_channel("ch")
    subs = [TrickleSubscriber(session, url, start_seq=0, retry=FAST) for _ in range(4)]
    consumers = [asyncio.create_task(collect(sub, 3)) for sub in subs]
    async with TricklePublisher(session, url, retry=FAST) as pub:
        for seq in range(3):
            await pub.publish(payload(seq, 30_000))
    results = await asyncio.gather(*consumers)
    for sub in subs:
        await sub.close()
    expected = [(seq, payload(seq, 30_000)) for seq in range(3)]
    assert results == [expected] * 4


async def test_closed_publisher_refuses_segments_and_close_is_idempotent(
    trickle: Running, session: aiohttp.ClientSession
) -> None:
    pub = TricklePublisher(session, trickle.url("ch"), retry=FAST)
    await pub.publish(b"x")  # usable without `async with` too
    await pub.close(delete=True)
    await pub.close(delete=True)  # the channel is already gone: not an error
    with pytest.raises(RuntimeStateError, match=r"publisher for \S+ is closed"):
        await pub.publish(b"y")
    assert trickle.server.channels() == []
    async with TricklePublisher(session, trickle.url("other"), retry=FAST) as other:
        async with other.segment() as seg:
            await seg.write(b"on time")
        with pytest.raises(RuntimeStateError, match="already finished"):
            await seg.write(b"late")


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="wait_timeout"):
        RetryPolicy(wait_timeout=0)
    assert RetryPolicy(wait_timeout=None).wait_timeout is None


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_tls_verification_is_on_unless_turned_off(
    start_server: StartServer, self_signed: ssl.SSLContext
) -> None:
    running = await start_server(ssl_context=self_signed)
    url = running.url("ch").replace("http://", "https://")
    async with make_session() as strict:
        with pytest.raises(TrickleError, match="TLS handshake") as info:
            async with TrickleSubscriber(strict, url, start_seq=0, retry=FAST) as sub:
                await anext(sub)
        assert "verify_tls=False" in str(info.value)
    async with make_session(verify_tls=False) as trusting:
        async with TricklePublisher(trusting, url, retry=FAST) as pub:
            await pub.publish(b"secret")
        async with TrickleSubscriber(trusting, url, start_seq=0, retry=FAST) as sub:
            segment: TrickleSegment = await anext(sub)
            assert await segment.read() == b"secret"
