"""Workbench serving a real LocalNetwork on 127.0.0.1: swaps, params, jobs, streams."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from byoc_lab import GreenTint, ProcessorSourceError, RuntimeStateError, SyntheticSource
from byoc_lab.runtime import get_loop
from byoc_lab.workbench import Workbench
from byoc_lab.workbench_jobs import StreamRun

from .conftest import COLOR, RED_MAX, SIZE, center

TINTED = (COLOR[0], COLOR[1] + 80, COLOR[2])


def _job_center(bench: Workbench) -> tuple[int, int, int]:
    outcome = bench.send_frame_job()
    assert outcome.error is None
    assert outcome.status == 200
    assert outcome.output is not None
    return center(outcome.output)


def _close(actual: tuple[float, ...], wanted: tuple[float, ...], tolerance: float = 6.0) -> bool:
    return all(abs(a - w) <= tolerance for a, w in zip(actual, wanted, strict=True))


def _wait_for(run: StreamRun, test: Callable[[tuple[int, int, int]], bool]) -> None:
    """Wait (bounded) for an output frame of ``run`` whose centre passes ``test``."""
    deadline = time.monotonic() + 30.0
    seen = None
    while time.monotonic() < deadline:
        frame = run.latest()
        if frame is not None and frame.output is not None:
            seen = center(frame.output)
            if test(seen):
                return
        time.sleep(0.05)
    pytest.fail(f"no matching stream output within 30 s; last centre {seen}, {run.stats()}")


def test_serve_status_and_a_frame_job(served: Workbench) -> None:
    status = served.service_status()
    assert status.running
    assert status.health == "IDLE"
    assert set(status.urls) == {"gateway", "orchestrator", "worker", "trickle"}
    assert status.urls["gateway"].startswith("http://127.0.0.1:")
    assert status.processor == "GreenTint (RGB array in/out, sync)"
    assert [event.kind for event in status.events] == ["started"]
    assert served.serve() is served.network  # already serving: the same network

    frame = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
    outcome = served.send_frame_job(frame)
    assert outcome.status == 200
    assert outcome.error is None
    assert outcome.capability == "wb-test"
    assert outcome.elapsed_ms > 0
    assert outcome.output is not None
    assert outcome.output[0, 0].tolist() == [40, 120, 40]
    assert served.processor is not served.network.processor  # never one shared instance
    after = served.service_status()
    assert after.events[-1].kind == "job"
    assert after.events[-1].message.startswith("HTTP 200 in ")
    assert any("wb-test" in line for line in after.log)


def test_apply_swaps_preview_and_worker_and_bad_code_changes_neither(served: Workbench) -> None:
    default = served.send_frame_job()  # nothing previewed yet: a synthetic frame
    assert default.ok
    assert default.input.shape[:2] == (SIZE[1], SIZE[0])
    served.preview.step()
    assert _job_center(served) == TINTED  # now the preview's latest input
    with pytest.raises(ProcessorSourceError):
        served.apply(RED_MAX.replace("return out", "return out +"))
    assert _job_center(served) == TINTED
    result = served.apply(RED_MAX)
    assert result.swapped_into == ["preview", "worker"]
    assert _job_center(served) == (255, COLOR[1], COLOR[2])
    step = served.preview.step()
    assert step is not None
    assert step.output is not None
    assert center(step.output) == (255, COLOR[1], COLOR[2])
    assert served.service_status().processor == "RedMax (RGB array in/out, sync)"


def test_params_reach_the_worker_without_a_stream(served: Workbench) -> None:
    served.update_params({"boost": 5})
    served.preview.step()  # jobs send the preview's latest input: a solid frame
    assert _job_center(served) == (COLOR[0], COLOR[1] + 5, COLOR[2])
    assert served.network is not None
    assert served.network.status()["params"] == {"boost": 5}


def test_stream_output_is_tinted_and_follows_params(served: Workbench) -> None:
    served.preview.play()
    run = served.start_stream()
    assert [served.stream] == [run]
    _wait_for(run, lambda c: _close(c, TINTED))
    assert served.service_status().streams == 1
    served.update_params({"boost": 200})
    _wait_for(run, lambda c: _close(c, (COLOR[0], COLOR[1] + 200, COLOR[2])))
    frame = run.latest()
    assert frame is not None
    stats = run.stats()
    assert stats["state"] == "running"
    assert stats["sent"] > 0
    assert stats["received"] > 0
    assert 1 <= frame.seq <= stats["received"]
    served.stop_stream()
    assert run.stats()["state"] == "stopped"
    assert served.stream is None
    kinds = [event.kind for event in served.service_status().events]
    assert kinds.count("stream") == 2


def test_stream_frames_carry_their_frame_numbers(bench_numbered: Workbench) -> None:
    bench_numbered.serve()
    bench_numbered.preview.play()
    run = bench_numbered.start_stream()
    got: list[int] = []
    unsubscribe = run.on_frame(lambda frame: got.append(frame.index))
    deadline = time.monotonic() + 30.0
    while len(got) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    unsubscribe()
    assert len(got) >= 5, run.stats()
    assert got == sorted(got)
    stats = run.stats()
    assert stats["latency_ms"] is not None
    assert stats["latency_ms"] > 0


def test_export_writes_the_edited_text(served: Workbench, tmp_path: Path) -> None:
    edited = RED_MAX.replace("Param(255,", "Param(200,")
    served.apply(edited)
    result = served.export(tmp_path / "ctx", build=False)
    assert (result.path / "processor.py").read_text() == edited
    assert result.spec.class_name == "RedMax"
    assert result.spec.capability == "wb-test"


def test_close_stops_everything_and_frees_the_ports(bench: Workbench) -> None:
    network = bench.serve()
    bench.preview.play()
    run = bench.start_stream()
    ports = [urlsplit(url).port for url in bench.service_status().urls.values()]
    bench.close()
    assert not network.running
    assert run.stats()["state"] == "stopped"
    assert bench.preview.state.value == "stopped"
    for port in set(ports):
        assert port is not None
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port


def test_a_job_after_the_worker_stopped_is_an_error_outcome(served: Workbench) -> None:
    network = served.network
    assert network is not None
    # The worker dies under a running gateway (LocalNetwork has no public way to do it).
    get_loop().run(network._worker.stop(), 30)
    outcome = served.send_frame_job()
    assert outcome.output is None
    assert outcome.status == 503
    assert outcome.error is not None
    assert "wb-test" in outcome.error
    status = served.service_status()
    assert status.events[-1].message.startswith("HTTP 503 in ")
    assert status.health == "ERROR"
    assert status.error == "the worker is not running (the gateway still is)"
    assert "worker" not in status.urls


def test_a_stopped_network_means_not_serving(served: Workbench) -> None:
    network = served.network
    assert network is not None
    network.stop()  # stopped behind the workbench's back
    assert served.network is None
    assert not served.service_status().running
    with pytest.raises(RuntimeStateError, match="not serving"):
        served.send_frame_job()


@pytest.fixture
def bench_numbered() -> Iterator[Workbench]:
    source = SyntheticSource("bars", width=SIZE[0], height=SIZE[1])
    wb = Workbench(GreenTint(), source=source, size=SIZE, capability="wb-numbers")
    yield wb
    wb.close()
