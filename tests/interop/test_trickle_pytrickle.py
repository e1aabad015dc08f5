"""byoc_lab's trickle server and clients against pytrickle 0.1.6's own clients.

pytrickle runs in its own venv as a separate process (see tests/peers/harness.py);
segments are compared byte for byte through their SHA-256.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from peers.harness import peer_command
from peers.payload import digest, segment_bytes

from byoc_lab.trickle import TricklePublisher, TrickleSubscriber, make_session

from .conftest import ServedTrickle

pytestmark = pytest.mark.interop

COUNT, SIZE = 4, 150_000


async def _run_peer(*argv: str, ready: bool = False) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    if ready:
        assert proc.stderr is not None
        async with asyncio.timeout(60):
            while (line := await proc.stderr.readline()) and b"ready" not in line:
                pass
    return proc


async def _result(proc: asyncio.subprocess.Process) -> list[dict[str, object]]:
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    result: list[dict[str, object]] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_pytrickle_publisher_to_byoc_lab_server_and_subscriber(
    pytrickle: Path, trickle_server: ServedTrickle
) -> None:
    trickle_server.server.create_channel("from-pytrickle", "video/mp2t")
    url = f"{trickle_server.base_url}/from-pytrickle"
    proc = await _run_peer(
        *peer_command("pytrickle_publish.py", url, str(COUNT), str(SIZE), "5", "a")
    )
    received: list[tuple[int, str]] = []
    async with make_session() as http, TrickleSubscriber(http, url, start_seq=0) as subscriber:
        async with asyncio.timeout(60):
            while len(received) < COUNT:
                segment = await subscriber.next_segment()
                assert segment is not None
                received.append((segment.seq, digest(await segment.read())))
    sent = await _result(proc)
    assert [s["sha256"] for s in sent] == [
        digest(segment_bytes("a", i, SIZE)) for i in range(COUNT)
    ]
    assert received == [(i, str(sent[i]["sha256"])) for i in range(COUNT)]


async def test_byoc_lab_publisher_to_pytrickle_subscriber(
    pytrickle: Path, trickle_server: ServedTrickle
) -> None:
    trickle_server.server.create_channel("to-pytrickle", "video/mp2t")
    url = f"{trickle_server.base_url}/to-pytrickle"
    # pytrickle's own default start, -2: "the current segment".
    proc = await _run_peer(
        *peer_command("pytrickle_subscribe.py", url, str(COUNT), "-2"), ready=True
    )
    async with make_session() as http, TricklePublisher(http, url, mime="video/mp2t") as publisher:
        for index in range(COUNT):
            data = segment_bytes("b", index, SIZE)
            async with publisher.segment() as segment:
                for start in range(0, SIZE, 30_000):
                    await segment.write(data[start : start + 30_000])
        got = await _result(proc)
    assert [(g["seq"], g["sha256"], g["len"]) for g in got] == [
        (i, digest(segment_bytes("b", i, SIZE)), SIZE) for i in range(COUNT)
    ]
