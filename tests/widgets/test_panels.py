"""ParamsPanel, ServePanel, JobsPanel and ExportPanel without a browser.

Each test builds a panel over a real Workbench, acts on the widgets the way the
browser would (setting ``value``, ``button.click()``) and asserts on the core: the
workbench's parameters, the preview's output pixels, the running network, files on
disk.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as widgets
import pytest

from byoc_lab import FrameProcessor, GreenTint, Param, SyntheticSource
from byoc_lab.frames import RGBImage, decode_image
from byoc_lab.widgets._background import PanelWork
from byoc_lab.widgets.export_panel import ExportPanel
from byoc_lab.widgets.jobs_panel import NOT_STARTED, STOPPED, JobsPanel
from byoc_lab.widgets.params_panel import NO_PARAMS, ParamsPanel
from byoc_lab.widgets.serve_panel import ServePanel
from byoc_lab.workbench import Workbench
from byoc_lab.workbench_jobs import StreamRun

from .conftest import eventually

SIZE = (160, 120)
COLOR = (10, 20, 30)
FAST = 0.05  # refresh interval in tests


class Everything(FrameProcessor):
    """One parameter of each kind."""

    gain = Param(0.5, min=0.0, max=2.0, help="multiplies the frame")
    level = Param(3, min=0)  # no upper bound: a number box, not a slider
    boost = Param(40, min=0, max=255)
    enabled = Param(True)
    mode = Param("add", choices=["add", "mul"])
    label = Param("hello")

    def process(self, frame: RGBImage) -> RGBImage:
        return frame


class Plain(FrameProcessor):
    """No parameters at all."""

    def process(self, frame: RGBImage) -> RGBImage:
        return frame


def solid() -> SyntheticSource:
    return SyntheticSource("solid", width=SIZE[0], height=SIZE[1], color=COLOR, burn_in=False)


def center(image: RGBImage) -> tuple[int, int, int]:
    h, w = image.shape[:2]
    patch = image[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3)
    r, g, b = (round(float(v)) for v in patch.mean(axis=0))
    return r, g, b


def near(got: tuple[int, int, int], want: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=True))


def stream_of(bench: Workbench) -> StreamRun | None:
    """The workbench's stream now (a call, so type narrowing does not carry over)."""
    return bench.stream


def feed_of(panel: JobsPanel) -> object:
    """What the panel's frame view shows now."""
    return panel.stream_view.feed


@pytest.fixture
def bench() -> Iterator[Workbench]:
    wb = Workbench(GreenTint(), source=solid(), size=SIZE, capability="panel-test")
    try:
        yield wb
    finally:
        wb.close()


def _closed_port(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return False
    except OSError:
        return True


# -- ParamsPanel -------------------------------------------------------------------------


def test_params_panel_has_one_control_per_declared_parameter() -> None:
    with Workbench(Everything(), source=solid(), size=SIZE) as wb:
        panel = ParamsPanel(wb, refresh_interval=None)
        try:
            kinds = {name: type(control) for name, control in panel.controls.items()}
            assert kinds == {
                "gain": widgets.FloatSlider,
                "level": widgets.IntText,
                "boost": widgets.IntSlider,
                "enabled": widgets.Checkbox,
                "mode": widgets.Dropdown,
                "label": widgets.Text,
            }
            gain = panel.controls["gain"]
            assert (gain.min, gain.max, gain.step, gain.value) == (0.0, 2.0, 0.01, 0.5)
            assert gain.continuous_update
            assert panel.controls["boost"].continuous_update
            assert gain.description == "gain"
            assert gain.tooltip == "multiplies the frame"
            assert "byoc-param-gain" in gain._dom_classes
            assert "byoc-params" in panel._dom_classes
            assert list(panel.controls["mode"].options) == ["add", "mul"]
        finally:
            panel.close()


def test_moving_a_slider_changes_the_preview_output(bench: Workbench) -> None:
    panel = ParamsPanel(bench, refresh_interval=None)
    try:
        bench.preview.play()
        panel.controls["boost"].value = 200
        assert bench.params() == {"boost": 200}

        def tinted() -> bool:
            frame = bench.preview.latest()
            return (
                frame is not None
                and frame.output is not None
                and (center(frame.output) == (COLOR[0], COLOR[1] + 200, COLOR[2]))
            )

        eventually(tinted, what="the preview output with boost=200")
        assert panel.message.value == ""
    finally:
        panel.close()


def test_a_refused_value_is_shown_and_the_control_reverts() -> None:
    with Workbench(Everything(), source=solid(), size=SIZE) as wb:
        panel = ParamsPanel(wb, refresh_interval=None)
        try:
            panel.controls["level"].value = -5
            assert panel.controls["level"].value == 3
            assert wb.params()["level"] == 3
            assert "out of bounds" in panel.message.value
            assert "Traceback" not in panel.message.value
            panel.controls["level"].value = 9
            assert wb.params()["level"] == 9
            assert panel.message.value == ""
        finally:
            panel.close()


def test_a_value_set_from_code_moves_its_control(bench: Workbench) -> None:
    panel = ParamsPanel(bench, refresh_interval=FAST)
    try:
        bench.update_params({"boost": 33})
        eventually(lambda: panel.controls["boost"].value == 33, what="the slider at 33")
        assert bench.params() == {"boost": 33}  # moving the control did not send it back
        panel.controls["boost"].value = 34
        assert bench.params() == {"boost": 34}
    finally:
        panel.close()


def test_swapping_the_processor_rebuilds_the_controls(bench: Workbench) -> None:
    panel = ParamsPanel(bench, refresh_interval=FAST)
    try:
        assert list(panel.controls) == ["boost"]
        bench.use(Everything())
        eventually(lambda: "gain" in panel.controls, what="controls of the new processor")
        panel.controls["gain"].value = 1.5
        assert bench.params()["gain"] == 1.5
        bench.use(Plain())
        eventually(lambda: not panel.controls, what="no controls for Plain")
        texts = [getattr(child, "value", "") for child in panel.children]
        assert any(NO_PARAMS in text for text in texts)
    finally:
        panel.close()


# -- ServePanel --------------------------------------------------------------------------


def test_serve_panel_starts_shows_health_and_stops(bench: Workbench) -> None:
    panel = ServePanel(bench, refresh_interval=FAST)
    try:
        assert "byoc-health-stopped" in panel.health._dom_classes
        assert not panel.start_button.disabled
        assert panel.stop_button.disabled
        panel.start_button.click()
        assert panel.wait(60)
        network = bench.network
        assert network is not None
        assert network.running
        gateway = network.gateway_url
        assert panel.status is not None
        assert panel.status.health in ("IDLE", "OK")
        assert panel.status.health in panel.health.value
        assert f"byoc-health-{panel.status.health.lower()}" in panel.health._dom_classes
        assert gateway in panel.urls.value
        assert network.worker_url in panel.urls.value
        assert "started" in panel.log_view.value
        assert panel.start_button.disabled
        assert not panel.stop_button.disabled

        panel.stop_button.click()
        assert panel.wait(60)
        assert bench.network is None
        assert "STOPPED" in panel.health.value
        assert "press Start" in panel.message.value
        assert _closed_port(gateway)
    finally:
        panel.close()


# -- JobsPanel ---------------------------------------------------------------------------


def test_job_before_serving_says_to_start_the_service(bench: Workbench) -> None:
    panel = JobsPanel(bench, refresh_interval=None)
    try:
        panel.send_button.click()
        assert panel.wait(30)
        assert NOT_STARTED in panel.message.value
        assert panel.result.value == b""
        panel.stream_start.click()
        assert panel.wait(30)
        assert NOT_STARTED in panel.message.value
    finally:
        panel.close()


def test_job_returns_a_tinted_frame_with_its_timing(bench: Workbench) -> None:
    panel = JobsPanel(bench, refresh_interval=None)
    try:
        bench.serve()
        bench.preview.play()
        eventually(bench.preview.latest, what="a preview frame (the job's input)")
        panel.send_button.click()
        assert panel.wait(30)
        assert panel.message.value == ""
        assert panel.status.value == "HTTP 200"
        assert panel.timing.value.endswith(" ms")
        image = decode_image(panel.result.value)
        assert image.shape == (SIZE[1], SIZE[0], 3)
        assert near(center(image), (COLOR[0], COLOR[1] + 80, COLOR[2]))  # JPEG: lossy
        assert "mean RGB of the output 10, 100, 30" in panel.summary.value
        assert panel.outcome is not None
        assert panel.outcome.status == 200

        bench.stop_serving()
        panel.send_button.click()
        assert panel.wait(30)
        assert STOPPED in panel.message.value
        assert "Traceback" not in panel.message.value
    finally:
        panel.close()


def test_stream_output_goes_to_the_frame_view(bench: Workbench) -> None:
    panel = JobsPanel(bench, refresh_interval=FAST)
    try:
        bench.serve()
        bench.preview.play()
        panel.stream_start.click()
        assert panel.wait(30)
        run = bench.stream
        assert run is not None, panel.message.value
        assert panel.stream_view.feed is run
        assert panel.stream_view.panes == "output"
        eventually(lambda: run.stats()["received"] > 0, what="stream output frames")
        latest = run.latest()
        assert latest is not None
        assert latest.output is not None
        assert near(center(latest.output), (COLOR[0], COLOR[1] + 80, COLOR[2]))  # H.264: lossy
        eventually(lambda: "received" in panel.stream_stats.value, what="the stats line")

        panel.stream_stop.click()
        assert panel.wait(30)
        assert stream_of(bench) is None
        assert feed_of(panel) is None
        assert "stopped" in panel.message.value
    finally:
        panel.close()


# -- ExportPanel -------------------------------------------------------------------------


def test_export_writes_the_context_and_shows_the_dockerfile(
    bench: Workbench, tmp_path: Path
) -> None:
    panel = ExportPanel(bench)
    try:
        assert panel.capability.value == "panel-test"
        assert panel.dest.value == str(Path("export") / "panel-test")
        panel.capability.value = "tint-cpu"
        assert panel.dest.value == str(Path("export") / "tint-cpu")  # follows the name
        dest = tmp_path / "ctx"
        panel.dest.value = str(dest)

        panel.check_button.click()
        assert panel.wait(120)
        assert "preflight passed" in panel.message.value
        assert not dest.exists()

        panel.export_button.click()
        assert panel.wait(120)
        assert "exported tint-cpu" in panel.message.value
        dockerfile = (dest / "Dockerfile").read_text(encoding="utf-8")
        assert (dest / "processor.py").is_file()
        assert dockerfile.splitlines()[0] in panel.dockerfile.value
        assert "<pre>" in panel.dockerfile.value
        assert "HEALTHCHECK" in panel.dockerfile.value
        assert "requirements.txt" in panel.files.value
        assert panel.result is not None
        assert panel.result.path == dest

        panel.export_button.click()  # the context exists now and overwrite is off
        assert panel.wait(120)
        assert "not empty" in panel.message.value
    finally:
        panel.close()


def test_export_errors_are_messages_and_build_needs_an_engine(bench: Workbench) -> None:
    panel = ExportPanel(bench)
    try:
        panel.capability.value = "Not A Name"
        panel.check_button.click()
        assert panel.wait(120)
        assert "capability name is not usable" in panel.message.value
        assert "Traceback" not in panel.message.value
        eventually(lambda: panel.engine_problem != "checking…", what="the docker check")
        if panel.engine_problem is not None:
            assert panel.build_button.disabled
            assert panel.engine_problem in panel.engine.value.replace("&#x27;", "'")
    finally:
        panel.close()


# -- the panels' background work ---------------------------------------------------------


def test_panel_work_reports_errors_and_refuses_jobs_after_close() -> None:
    work = PanelWork("test")
    seen: list[Any] = []
    ticks: list[int] = []
    work.every(FAST, lambda: ticks.append(1))
    assert work.run(lambda: 1 // 0, seen.append)
    assert work.wait(10)
    eventually(lambda: len(ticks) >= 2, what="two refreshes")
    work.close()
    assert isinstance(seen[0].error, ZeroDivisionError)
    assert seen[0].value is None
    count = len(ticks)
    assert not work.run(lambda: 1, seen.append)
    assert len(seen) == 1
    time.sleep(3 * FAST)
    assert len(ticks) == count  # the refresh was stopped and awaited
