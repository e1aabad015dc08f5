"""Services that fail under a live stream: a killed worker, a crashed orchestrator, a
closed control channel, a client that vanishes.

Workers, orchestrators and clients that crash run as real processes (``byoc-lab
serve``, ``byoc-lab orchestrator``, a client script) and are killed with SIGKILL, so
nothing gets to clean up. Each test's docstring is its promise; recovery times are
measured and printed (``pytest -s``) and asserted only with generous bounds.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from byoc_lab import GatewayClient
from byoc_lab.builtins import GreenTint
from byoc_lab.errors import TrickleError
from byoc_lab.network import GatewayConfig, GatewayServer
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.registration import Registrar, Registration

from .faultnet import (
    CAPABILITY,
    SECRET,
    SESSION,
    Net,
    Process,
    Run,
    fault_net,
    free_port,
    get_json,
    measure,
    poll,
    run_stream,
)

HERE = Path(__file__).resolve().parent


def _registered(net: Net) -> bool:
    return any(c.name == CAPABILITY for c in net.orchestrator.orchestrator.capabilities())


def _registered_since(net: Net, since: float) -> bool:
    """Whether the orchestrator logged a registration of the capability after ``since``."""
    entries = net.orchestrator.orchestrator.routing.entries()
    return any(e.time >= since and "registered (from " in e.message for e in entries)


def _worker(port: int, orch_url: str, log: Path) -> Process:
    return Process(
        "serve", "byoc_lab.builtins:GreenTint", "--port", str(port),
        "--capability", CAPABILITY, "--orch-url", orch_url, "--register-interval", "0.5",
        env={"ORCH_SECRET": SECRET}, log=log,
    )  # fmt: skip


async def _answers(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        status, _ = await get_json(http, url)
    except (aiohttp.ClientError, TimeoutError):
        return False
    return status < 500


def _tasks_of(stream_id: str) -> list[str]:
    """Tasks on this loop (worker, orchestrator, gateway) still working for the stream."""
    names = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
    return [name for name in names if stream_id in name]


async def test_a_killed_worker_process_is_reported_and_a_restarted_one_serves(
    tmp_path: Path,
) -> None:
    """When the worker process is killed (SIGKILL) mid-stream, the orchestrator notices
    within its monitor interval: the client's output ends after an unbroken run of
    frames, its publishing fails (input channel closed), and both the gateway's status
    and an ``error`` event on the stream's events channel say the worker is
    unreachable; the orchestrator frees the capacity. A worker process restarted on the
    same port registers again and a new stream delivers every frame."""
    port = free_port()
    async with fault_net(worker=False) as net:
        first = _worker(port, net.orchestrator.url, tmp_path / "worker-1.log").start()
        second = _worker(port, net.orchestrator.url, tmp_path / "worker-2.log")
        try:
            await poll(lambda: _registered(net), within=30, what="the worker to register")
            killed: list[float] = []

            async def kill_after_30_frames(run: Run) -> None:
                await poll(lambda: len(run.numbers) >= 30, within=15,
                           what="30 frames before the kill")  # fmt: skip
                first.kill()
                killed.append(time.monotonic())

            run = await run_stream(net.client, 600, during=kill_after_30_frames)
            noticed = [
                line for line in net.orchestrator.orchestrator.routing.entries()
                if "worker unreachable" in str(line)
            ]  # fmt: skip
            ended_after = run.ended - killed[0]

            # the failure, as each side sees it
            assert len(run.numbers) >= 30
            assert run.numbers == list(range(len(run.numbers))), run.numbers  # no gap
            assert len(run.numbers) < 600
            assert run.frames_error is None  # the output channel was closed: a clean end
            assert isinstance(run.publish_error, TrickleError), run.publish_error
            assert run.status is not None
            assert f"the worker at http://127.0.0.1:{port} is unreachable" in str(
                run.status["error"]
            ), run.status
            assert any("is unreachable" in e.get("message", "") for e in run.errors())
            assert noticed, [str(e) for e in net.orchestrator.orchestrator.routing.entries()]
            assert net.orchestrator.orchestrator.streams() == []
            assert net.gateway.gateway.streams() == []
            assert [c.load for c in net.orchestrator.orchestrator.capabilities()] == [0]

            # a restarted worker
            restarted, wall = time.monotonic(), time.time()
            second.start()
            await poll(lambda: _registered_since(net, wall), within=30,
                       what="the restarted worker to register")  # fmt: skip
            again = await run_stream(net.client, 60)
            serving = time.monotonic() - restarted
            assert again.numbers == list(range(60)), second.tail()
            assert again.final_status()["state"] == "ENDED"
            await net.assert_healthy(f"http://127.0.0.1:{port}")
        finally:
            first.close()
            second.close()
    measure("worker killed", output_ended_after_kill_s=ended_after,
            restart_to_new_stream_done_s=serving)  # fmt: skip
    assert ended_after < 5.0


async def test_a_crashed_orchestrator_ends_streams_clearly_and_the_worker_registers_again(
    tmp_path: Path,
) -> None:
    """When the orchestrator process is killed (SIGKILL) mid-stream, every side ends the
    stream with an error within a few seconds: the worker's session fails naming the
    lost channel (no session left), the gateway's status names the events channel that
    failed, the client's output ends with an error. When an orchestrator comes back on
    the same address, the worker registers again within about its register interval
    (0.5 s here; measured), and a new stream through the same gateway delivers every
    frame."""
    orch_port = free_port()
    orch_url = f"http://127.0.0.1:{orch_port}"

    def orchestrator(log: str) -> Process:
        return Process(
            "orchestrator", "-serviceAddr", f"127.0.0.1:{orch_port}", "-orchSecret", SECRET,
            log=tmp_path / log,
        )  # fmt: skip

    first, second = orchestrator("orch-1.log"), orchestrator("orch-2.log")
    worker = WorkerServer(GreenTint(), WorkerConfig(capability=CAPABILITY, session=SESSION))
    gateway = GatewayServer(GatewayConfig(orchestrators=(orch_url,)))
    async with aiohttp.ClientSession() as http:
        registrar: Registrar | None = None
        client: GatewayClient | None = None
        try:
            first.start()
            await worker.start(port=0)
            await gateway.start(port=0)
            client = GatewayClient(gateway.url, capability=CAPABILITY)
            await poll(lambda: _answers(http, orch_url + "/process/token"), within=30,
                       what="the orchestrator to answer")  # fmt: skip
            registration = Registration(
                orch_url=orch_url, secret=SECRET, name=CAPABILITY, url=worker.url
            )
            registrar = Registrar(http, registration, interval=0.5)
            registrar.start()
            await asyncio.wait_for(registrar.registered.wait(), 10)
            killed: list[float] = []

            async def kill_after_30_frames(run: Run) -> None:
                await poll(lambda: len(run.numbers) >= 30, within=15,
                           what="30 frames before the crash")  # fmt: skip
                first.kill()
                killed.append(time.monotonic())

            run = await run_stream(client, 600, during=kill_after_30_frames)
            await poll(lambda: not worker.core.status()["streams"], within=15,
                       what="the worker's session to end")  # fmt: skip
            session_ended = time.monotonic() - killed[0]

            assert len(run.numbers) >= 30
            assert run.numbers == list(range(len(run.numbers)))
            assert isinstance(run.frames_error, TrickleError), run.frames_error
            assert isinstance(run.publish_error, TrickleError), run.publish_error
            assert run.status is not None
            assert "events channel failed" in str(run.status["error"]), run.status
            assert gateway.gateway.streams() == []
            error = worker.core.error or ""
            assert f"{orch_url}/ai/trickle/{run.stream.stream_id}" in error, error
            await poll(lambda: registrar is not None and registrar.last_error is not None,
                       within=10, what="the registrar to notice")  # fmt: skip
            assert "cannot reach the orchestrator" in (registrar.last_error or "")

            second.start()
            await poll(lambda: _answers(http, orch_url + "/process/token"), within=30,
                       what="the restarted orchestrator to answer")  # fmt: skip
            back = time.monotonic()
            await poll(lambda: registrar is not None and registrar.last_error is None,
                       within=10, what="the worker to register again")  # fmt: skip
            reregistered = time.monotonic() - back
            again = await run_stream(client, 60)
            assert again.numbers == list(range(60)), second.tail()
            assert again.final_status()["state"] == "ENDED"
            status, health = await get_json(http, worker.url + "/health")
            assert (status, health) == (200, {"status": "IDLE"})
            status, _ = await get_json(http, gateway.url + "/process/stream/x/status")
            assert status == 404  # the gateway answers
        finally:
            if client is not None:
                await client.aclose()
            if registrar is not None:
                await registrar.stop()
            await gateway.stop()
            await worker.stop()
            first.close()
            second.close()
    measure("orchestrator crashed", worker_session_ended_after_s=session_ended,
            reregistered_after_back_s=reregistered)  # fmt: skip
    assert session_ended < 10.0
    assert reregistered < 5.0


async def test_a_closed_control_channel_stops_the_stream_cleanly_everywhere() -> None:
    """When the stream's control channel is closed (``DELETE``, as when the gateway side
    tears it down), the orchestrator's monitor stops the worker's stream within about a
    second: the worker ends it cleanly (``stream_stopped``, ENDED, no error), the client's
    output ends after an unbroken run of frames, the orchestrator frees the capacity
    and closes every channel, the gateway forgets the stream, and no task of the stream
    is left running. A new stream then works."""
    async with fault_net() as net:
        closed: list[float] = []

        async def close_control(run: Run) -> None:
            await poll(lambda: len(run.numbers) >= 30, within=15,
                       what="30 frames before closing the control channel")  # fmt: skip
            async with net.http.delete(run.stream.urls["trickle_control_url"]) as response:
                assert response.status == 200
            closed.append(time.monotonic())

        run = await run_stream(net.client, 600, during=close_control)
        sid = run.stream.stream_id
        await poll(lambda: not net.worker_status()["streams"], within=5,
                   what="the worker's session to end")  # fmt: skip
        stopped_after = time.monotonic() - closed[0]

        assert len(run.numbers) >= 30
        assert run.numbers == list(range(len(run.numbers)))
        assert run.frames_error is None
        stopped = [e for e in run.events if e.get("type") == "stream_stopped"]
        assert [(e["reason"], e["error"]) for e in stopped] == [("stopped by request", None)]
        assert run.final_status()["state"] == "ENDED"
        assert net.orchestrator.orchestrator.streams() == []
        assert [c.load for c in net.orchestrator.orchestrator.capabilities()] == [0]
        assert not [c.name for c in net.trickle.channels() if c.name.startswith(sid)]
        assert net.gateway.gateway.streams() == []
        await poll(lambda: not _tasks_of(sid), within=5, what="the stream's tasks to end")
        again = await run_stream(net.client, 30)
        assert again.numbers == list(range(30))
        await net.assert_healthy()
    measure("control channel closed", worker_stopped_after_s=stopped_after)
    assert stopped_after < 5.0


async def test_a_client_that_vanishes_is_cleaned_up_everywhere(tmp_path: Path) -> None:
    """When the gateway's client process dies mid-stream (SIGKILL: no stop, no goodbye),
    the worker's input falls silent and its session ends after ``input_timeout`` (5 s
    here) with that reason, which the gateway's status shows; the worker's session,
    the orchestrator's stream and capacity, the gateway's stream, every trickle channel
    and every task of the stream are gone within a few seconds more. A new client then
    streams with every frame, and every service is healthy."""
    async with fault_net() as net:
        script = HERE / "client_proc.py"
        client = Process(str(script), net.gateway.url, log=tmp_path / "client.log")
        try:
            client.start(stdout=-1)  # subprocess.PIPE: the stream id comes on stdout
            assert client.proc is not None
            assert client.proc.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(client.proc.stdout.readline), 60)
            sid = line.decode().strip()
            assert sid, client.tail()
            await poll(lambda: net.worker_status()["streams"].get(sid, {}).get("frames_out", 0)
                       >= 30, within=30, what="30 frames through the worker")  # fmt: skip
            client.kill()
            killed = time.monotonic()

            await poll(lambda: not net.worker_status()["streams"], within=15,
                       what="the worker's session to end")  # fmt: skip
            worker_done = time.monotonic() - killed
            await poll(lambda: not net.orchestrator.orchestrator.streams()
                       and not net.gateway.gateway.streams(), within=5,
                       what="the orchestrator and gateway to drop the stream")  # fmt: skip
            await poll(lambda: not _tasks_of(sid), within=5, what="the stream's tasks to end")
            all_done = time.monotonic() - killed

            assert not [c.name for c in net.trickle.channels() if c.name.startswith(sid)]
            assert [c.load for c in net.orchestrator.orchestrator.capabilities()] == [0]
            assert "no trickle segment started within 5" in net.worker_status()["error_message"]
            status, body = await get_json(
                net.http, f"{net.gateway.url}/process/stream/{sid}/status"
            )
            assert status == 200
            assert "no trickle segment started within 5" in str(body["error"]), body

            again = await run_stream(net.client, 30)
            assert again.numbers == list(range(30))
            await net.assert_healthy()
        finally:
            client.close()
    measure("client vanished", worker_session_ended_s=worker_done, all_cleaned_s=all_done)
    assert all_done < SESSION.input_timeout + 5.0
