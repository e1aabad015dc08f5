"""Read segments from a trickle channel with pytrickle's own subscriber.

Usage: python pytrickle_subscribe.py CHANNEL_URL COUNT START_SEQ
Prints "ready" on stderr once subscribed, then one JSON list on stdout:
[{"seq": n, "sha256": ..., "len": ...}, ...], stopping after COUNT segments or at
the end of the stream.
Runs in the pytrickle venv (.venv-pytrickle), never in byoc_lab's.
"""

from __future__ import annotations

import asyncio
import json
import sys

from payload import digest
from pytrickle import TrickleSubscriber


async def main(url: str, count: int, start_seq: int) -> None:
    got = []
    async with TrickleSubscriber(url, start_seq=start_seq) as subscriber:
        print("ready", file=sys.stderr, flush=True)
        while len(got) < count:
            segment = await subscriber.next()
            if segment is None:
                break
            data = b""
            while chunk := await segment.read():
                data += chunk
            got.append({"seq": segment.seq(), "sha256": digest(data), "len": len(data)})
    print(json.dumps(got))


if __name__ == "__main__":
    url, count, start_seq = sys.argv[1:4]
    asyncio.run(main(url, int(count), int(start_seq)))
