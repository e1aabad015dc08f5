"""
processor.py - BYOC green-tint pipeline for Livepeer.

Applies a green-channel boost to every incoming video frame.
CPU only, no model loading.
"""

import asyncio
import logging

from byoc_lab import FrameProcessor, run_processor

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)


class GreenTintProcessor(FrameProcessor):
    """Applies a green channel boost to every frame.

    Input and output: raw RGB bytes (width * height * 3 bytes per frame).
    """

    async def initialize(self):
        """Called once when the container starts. Load models here."""
        logger.info("GreenTintProcessor: initialised")

    async def process(self, frame: bytes) -> bytes:
        """Receive one frame of raw bytes, return transformed bytes."""
        data = bytearray(frame)
        # Boost the green channel (offset 1 in each RGB triplet)
        for i in range(1, len(data), 3):
            data[i] = min(255, data[i] + 80)
        return bytes(data)

    async def shutdown(self):
        """Called when the job ends."""
        logger.info("GreenTintProcessor: shutdown")


if __name__ == "__main__":
    asyncio.run(run_processor(GreenTintProcessor(), port=8000))
