"""The worker's HTTP API against a real server on 127.0.0.1 (no live streams here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from byoc_lab import FrameProcessor, GreenTint, Param
from byoc_lab.frames import ImageFormat, RGBImage, decode_image, encode_image
from byoc_lab.loader import load_processor
from byoc_lab.worker import WorkerConfig, WorkerServer

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"

Serve = Callable[..., Awaitable[tuple[WorkerServer, aiohttp.ClientSession]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[WorkerServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(processor: Any, **config: Any) -> tuple[WorkerServer, aiohttp.ClientSession]:
        server = WorkerServer(processor, WorkerConfig(**config))
        await server.start(port=0)
        servers.append(server)
        http = aiohttp.ClientSession(base_url=server.url)
        sessions.append(http)
        await server.core.wait_initialized()
        return server, http

    yield start
    for http in sessions:
        await http.close()
    for server in servers:
        await server.stop()


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    data: dict[str, Any] = await response.json(content_type=None)
    return data


async def test_quickstart_batch_job_returns_the_right_green_sum(serve: Serve) -> None:
    _, http = await serve(load_processor(QUICKSTART))
    async with http.post(
        "/",
        data=bytes(640 * 480 * 3),
        headers={"Content-Type": "application/octet-stream"},
    ) as response:
        body = await response.read()
        assert response.status == 200
        assert response.content_type == "application/octet-stream"
    assert len(body) == 921_600
    assert sum(body[1::3]) == 24_576_000


async def test_array_processor_gets_raw_bodies_reshaped_to_the_frame_size(serve: Serve) -> None:
    _, http = await serve(GreenTint(boost=10), frame_size=(4, 2))
    frame = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(2, 4, 3)
    async with http.post("/reverse/any/path", data=frame.tobytes()) as response:
        assert response.status == 200
        out = np.frombuffer(await response.read(), np.uint8).reshape(2, 4, 3)
    assert np.array_equal(out[:, :, 0], frame[:, :, 0])
    assert np.array_equal(out[:, :, 1], frame[:, :, 1] + 10)
    async with http.post("/", data=bytes(100)) as response:
        text = (await _json(response))["message"]
        assert response.status == 400
    assert "24 bytes (4x2 packed RGB)" in text
    assert "got 100 bytes" in text


async def test_png_and_jpeg_bodies_come_back_processed_in_the_same_format(serve: Serve) -> None:
    _, http = await serve(GreenTint(boost=100))
    image = np.full((48, 64, 3), 50, dtype=np.uint8)
    formats: tuple[tuple[str, ImageFormat], ...] = (("image/png", "png"), ("image/jpeg", "jpeg"))
    for kind, fmt in formats:
        async with http.post(
            "/", data=encode_image(image, fmt), headers={"Content-Type": kind}
        ) as response:
            assert response.status == 200
            assert response.content_type == kind
            out = decode_image(await response.read())
        assert out.shape == (48, 64, 3)
        assert abs(int(out[:, :, 1].mean()) - 150) <= 2
        assert abs(int(out[:, :, 0].mean()) - 50) <= 2


async def test_batch_errors_are_clear_and_the_server_keeps_serving(serve: Serve) -> None:
    class Fails(FrameProcessor):
        def process(self, frame: RGBImage) -> RGBImage:
            raise RuntimeError("model exploded")

    _, http = await serve(Fails(), frame_size=(2, 2))
    async with http.post("/", data=b"{}", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 415
        assert (
            "application/octet-stream (raw RGB), image/png or image/jpeg"
            in (await _json(r))["message"]
        )
    async with http.post("/", data=b"garbage", headers={"Content-Type": "image/png"}) as r:
        assert r.status == 400
        assert "not an image OpenCV can decode" in (await _json(r))["message"]
    async with http.post("/", data=bytes(12)) as r:
        assert r.status == 500
        assert (await _json(r))["message"] == "process() raised RuntimeError: model exploded"
    async with http.get("/health") as r:
        assert (await _json(r)) == {"status": "IDLE"}


async def test_health_goes_loading_then_idle_and_start_waits_for_it(serve: Serve) -> None:
    gate = asyncio.Event()

    class SlowLoad(GreenTint):
        async def initialize(self) -> None:
            await gate.wait()

    server = WorkerServer(SlowLoad(), WorkerConfig())
    await server.start(port=0)
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            async with http.get("/health") as r:
                assert (await _json(r)) == {"status": "LOADING"}
            async with http.get("/stream/status") as r:
                status = await _json(r)
            assert status["startup_complete"] is False
            assert status["pipeline_ready"] is False
            gate.set()
            await server.core.wait_initialized()
            async with http.get("/health") as r:
                assert (await _json(r)) == {"status": "IDLE"}
    finally:
        await server.stop()


async def test_failed_initialize_is_error_health_with_the_reason(serve: Serve) -> None:
    class NoModel(GreenTint):
        async def initialize(self) -> None:
            raise FileNotFoundError("weights.bin")

    _, http = await serve(NoModel())
    async with http.get("/health") as r:
        health = await _json(r)
    assert health["status"] == "ERROR"
    assert "NoModel.initialize() raised FileNotFoundError: weights.bin" in health["error"]
    async with http.post("/stream/start", json={"gateway_request_id": "s1"}) as r:
        assert r.status == 503
        assert "processor failed to start" in (await _json(r))["message"]


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"{not json", {"Content-Type": "application/json"}, "not valid JSON"),
        (b"{}", {"Content-Type": "text/plain"}, "expected Content-Type: application/json"),
        (b"[1, 2]", {"Content-Type": "application/json"}, "must be a JSON object"),
        (b'{"params": {}}', {"Content-Type": "application/json"}, "needs gateway_request_id"),
        (
            b'{"gateway_request_id": "a", "params": {"width": 512}}',
            {"Content-Type": "application/json"},
            "width and height must be given together",
        ),
        (
            b'{"gateway_request_id": "a", "params": {"max_framerate": 61}}',
            {"Content-Type": "application/json"},
            "max_framerate is out of range",
        ),
        (
            b'{"gateway_request_id": "a", "subscribe_url": "file:///etc/passwd"}',
            {"Content-Type": "application/json"},
            "subscribe_url is not an http(s) URL",
        ),
        (
            b'{"gateway_request_id": "a", "params": "{}"}',
            {"Content-Type": "application/json"},
            "params must be a JSON object",
        ),
    ],
)
async def test_bad_start_requests_get_400_naming_the_field(
    serve: Serve, body: bytes, headers: dict[str, str], words: str
) -> None:
    _, http = await serve(GreenTint())
    for path in ("/stream/start", "/api/stream/start", "/live-video-to-video"):
        async with http.post(path, data=body, headers=headers) as r:
            payload = await _json(r)
            assert r.status == 400, payload
            assert payload["status"] == "error"
            assert words in payload["message"]
    async with http.get("/health") as r:
        assert (await _json(r))["status"] == "IDLE"


async def test_stop_and_params_without_a_stream_are_400(serve: Serve) -> None:
    _, http = await serve(GreenTint())
    async with http.post("/stream/stop") as r:
        assert r.status == 400
        assert (await _json(r)) == {"status": "error", "message": "No active stream to stop"}
    async with http.post("/api/stream/params", json={"boost": 3}) as r:
        assert r.status == 400
        assert (await _json(r))["message"] == "No active stream to update"


async def test_status_version_and_hardware(serve: Serve) -> None:
    _, http = await serve(GreenTint(boost=7), capability="green-tint-cpu")
    async with http.get("/api/stream/status") as r:
        assert r.status == 200
        status = await _json(r)
    assert status["status"] == "IDLE"
    assert status["active_streams"] == 0
    assert status["client_active"] is False
    assert status["params"] == {"boost": 7}
    assert status["processor"] == "GreenTint (RGB array in/out, sync)"
    async with http.get("/version") as r:
        version = await _json(r)
    assert version == {"pipeline": "byoc", "model_id": "green-tint-cpu", "version": "0.1.0"}
    async with http.get("/hardware/info") as r:
        assert (await _json(r))["model_id"] == "green-tint-cpu"


async def test_bearer_token_is_required_when_configured(serve: Serve) -> None:
    _, http = await serve(GreenTint(), token="s3cret", frame_size=(2, 2))
    async with http.post("/", data=bytes(12)) as r:
        assert r.status == 401
        assert "missing or wrong bearer token" in (await _json(r))["message"]
    async with http.post("/", data=bytes(12), headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401
    async with http.post("/", data=bytes(12), headers={"Authorization": "Bearer s3cret"}) as r:
        assert r.status == 200
    async with http.get("/health") as r:
        assert r.status == 200


async def test_oversized_body_is_413_and_the_server_lives(serve: Serve) -> None:
    _, http = await serve(GreenTint(), max_body_bytes=1024, frame_size=(2, 2))
    async with http.post("/", data=bytes(4096)) as r:
        assert r.status == 413
        assert (await _json(r))["status"] == "error"
    async with http.post("/", data=bytes(12)) as r:
        assert r.status == 200


async def test_swap_replaces_the_processor_and_keeps_shared_params(serve: Serve) -> None:
    class Tint2(FrameProcessor):
        boost = Param(80, min=0, max=255)

        def process(self, frame: RGBImage) -> RGBImage:
            out = frame.copy()
            out[:, :, 2] = np.minimum(frame[:, :, 2].astype(np.uint16) + self.boost, 255)
            return out

    server, http = await serve(GreenTint(boost=33), frame_size=(1, 1))
    async with http.post("/", data=bytes(3)) as r:
        assert list(await r.read()) == [0, 33, 0]
    carried = await server.core.swap(Tint2())
    assert carried == {"boost": 33}
    async with http.post("/", data=bytes(3)) as r:
        assert list(await r.read()) == [0, 0, 33]
