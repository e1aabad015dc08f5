"""Publish deterministic segments to a trickle channel with pytrickle's own publisher.

Usage: python pytrickle_publish.py CHANNEL_URL COUNT SIZE CHUNKS SEED
Prints one JSON list: [{"index": i, "sha256": ..., "len": ...}, ...].
Runs in the pytrickle venv (.venv-pytrickle), never in byoc_lab's.
"""

from __future__ import annotations

import asyncio
import json
import sys

from payload import digest, segment_bytes
from pytrickle import TricklePublisher


async def main(url: str, count: int, size: int, chunks: int, seed: str) -> None:
    sent = []
    async with TricklePublisher(url, "video/mp2t") as publisher:
        for index in range(count):
            data = segment_bytes(seed, index, size)
            part = -(-size // chunks)
            async with await publisher.next() as segment:
                for start in range(0, size, part):
                    await segment.write(data[start : start + part])
                    await asyncio.sleep(0.01)
            sent.append({"index": index, "sha256": digest(data), "len": len(data)})
        # pytrickle finishes each POST in a background task and close() cancels those
        # tasks at once, so give the last POST time to complete before closing.
        await asyncio.sleep(1.0)
    print(json.dumps(sent))


if __name__ == "__main__":
    url, count, size, chunks, seed = sys.argv[1:6]
    asyncio.run(main(url, int(count), int(size), int(chunks), seed))
