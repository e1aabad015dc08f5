"""Lab: the composed view builds, previews at once, drives one workbench, closes it all."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

import ipywidgets as widgets

import byoc_lab
from byoc_lab import GreenTint, SyntheticSource
from byoc_lab.frames import decode_image
from byoc_lab.preview import PreviewState
from byoc_lab.widgets import Lab as LazyLab
from byoc_lab.widgets.editor import Editor
from byoc_lab.widgets.export_panel import ExportPanel
from byoc_lab.widgets.jobs_panel import JobsPanel
from byoc_lab.widgets.lab import TAB_TITLES, Lab
from byoc_lab.widgets.params_panel import ParamsPanel
from byoc_lab.widgets.preview_panel import PreviewPanel
from byoc_lab.widgets.serve_panel import ServePanel

from .conftest import eventually

SIZE = (160, 120)

DIMMER = """\
import numpy as np

from byoc_lab import FrameProcessor, Param


class Dimmer(FrameProcessor):
    factor = Param(0.5, min=0.0, max=1.0)

    def process(self, frame: np.ndarray) -> np.ndarray:
        return (frame * self.factor).astype(np.uint8)
"""


def _source() -> SyntheticSource:
    return SyntheticSource(width=SIZE[0], height=SIZE[1])


def state_of(lab: Lab) -> PreviewState:
    """The preview's state now (a call, so type narrowing does not carry over)."""
    return lab.workbench.preview.state


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return False
    except OSError:
        return True


def test_lab_is_exported_lazily_from_byoc_lab() -> None:
    assert byoc_lab.Lab is Lab
    assert LazyLab is Lab
    assert "Lab" in byoc_lab.__all__


def test_lab_builds_previews_at_once_and_closes_everything() -> None:
    lab = Lab(GreenTint(), _source(), size=SIZE, capability="lab-test")
    try:
        assert isinstance(lab, widgets.VBox)
        assert "byoc-lab" in lab._dom_classes
        assert lab.workbench.preview.state is PreviewState.PLAYING
        eventually(lab.workbench.preview.latest, what="a first preview frame")
        assert isinstance(lab.editor, Editor)
        assert isinstance(lab.preview_panel, PreviewPanel)
        assert isinstance(lab.params_panel, ParamsPanel)
        assert list(lab.tabs.children) == [lab.serve_panel, lab.jobs_panel, lab.export_panel]
        assert isinstance(lab.serve_panel, ServePanel)
        assert isinstance(lab.jobs_panel, JobsPanel)
        assert isinstance(lab.export_panel, ExportPanel)
        assert tuple(lab.tabs.titles) == TAB_TITLES
        bundle = lab._repr_mimebundle_()
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == lab.model_id
        assert lab.export_panel.capability.value == "lab-test"

        lab.serve_panel.start_button.click()
        assert lab.serve_panel.wait(60)
        network = lab.workbench.network
        assert network is not None
        gateway, worker = network.gateway_url, network.worker_url
        lab.jobs_panel.stream_start.click()
        assert lab.jobs_panel.wait(30)
        assert lab.workbench.stream is not None, lab.jobs_panel.message.value
    finally:
        lab.close()
    assert lab.closed
    assert lab.workbench.closed
    assert state_of(lab) is PreviewState.STOPPED
    assert lab.workbench.network is None
    assert lab.workbench.stream is None
    assert _refused(gateway)
    assert _refused(worker)
    assert lab.comm is None
    assert lab.params_panel.comm is None
    lab.close()  # idempotent


def test_editor_apply_swaps_everywhere_and_rebuilds_the_params() -> None:
    lab = Lab(GreenTint(), _source(), size=SIZE)
    try:
        assert list(lab.params_panel.controls) == ["boost"]
        assert lab.editor.apply(DIMMER) is not None
        assert list(lab.params_panel.controls) == ["factor"]  # at once, not at the next poll
        lab.params_panel.controls["factor"].value = 0.25
        assert lab.workbench.params() == {"factor": 0.25}
        assert lab.editor.apply("class Broken(\n") is None
        assert type(lab.workbench.processor).__name__ == "Dimmer"
        assert list(lab.params_panel.controls) == ["factor"]
    finally:
        lab.close()


def test_a_bare_lab_uses_the_defaults() -> None:
    lab = Lab(source="synthetic")
    try:
        assert isinstance(lab.workbench.processor, GreenTint)
        assert lab.workbench.size == (640, 480)
        assert lab.workbench.capability == "byoc_lab"
        assert lab.workbench.preview.state is PreviewState.PLAYING
    finally:
        lab.close()


def test_displayed_lab_carries_a_still_for_renderers_without_a_kernel() -> None:
    with LazyLab(source="synthetic") as lab:
        bundle = lab._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "application/vnd.jupyter.widget-view+json" in data
        still = decode_image(base64.b64decode(data["image/jpeg"]))
        height, width = lab.workbench.size[1], lab.workbench.size[0]
        assert still.shape == (height, 2 * width + 8, 3)
        left, right = still[:, :width].astype(int), still[:, width + 8 :].astype(int)
        # GreenTint(80) on the right: green up (saturating), red and blue as on the left
        assert abs((right[:, :, 0] - left[:, :, 0]).mean()) < 4
        assert (right[:, :, 1] - left[:, :, 1]).mean() > 30
