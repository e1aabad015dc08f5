"""A pytrickle 0.1.6 worker applying the quickstart's green tint, for side-by-side tests.

Usage: python pytrickle_worker.py PORT [BOOST]
Serves pytrickle's StreamServer (routes /stream/*, /health, /version) on PORT.
Runs in the pytrickle venv (.venv-pytrickle), never in byoc_lab's.
"""

from __future__ import annotations

import sys
from typing import Any

from pytrickle import StreamProcessor
from pytrickle.frames import VideoFrame

BOOST = float(sys.argv[2]) / 255.0 if len(sys.argv) > 2 else 80 / 255.0
state: dict[str, Any] = {"boost": BOOST}


async def tint(frame: VideoFrame) -> VideoFrame:
    tensor = frame.tensor.clone()
    tensor[..., 1] = (tensor[..., 1] + state["boost"]).clamp(0.0, 1.0)
    return frame.replace_tensor(tensor)


async def update(params: dict[str, Any]) -> None:
    if "boost" in params:
        state["boost"] = float(params["boost"]) / 255.0


if __name__ == "__main__":
    StreamProcessor(
        video_processor=tint,
        param_updater=update,
        name="green-tint",
        port=int(sys.argv[1]),
        host="127.0.0.1",
        capability_name="green-tint-cpu",
    ).run()
