"""A client process that streams until it is killed (the gateway's client disconnects).

``python tests/reliability/client_proc.py GATEWAY_URL``: starts a stream of capability
``tint``, prints its id on the first line of stdout, publishes grey numbered frames at
30 fps for up to 100 s and reads the output, until the process is killed.
"""

from __future__ import annotations

import asyncio
import sys

from byoc_lab import GatewayClient
from byoc_lab.sources import SyntheticSource


async def main(url: str) -> None:
    client = GatewayClient(url, capability="tint")
    stream = await client.astart_stream(enable_data=False)
    print(stream.stream_id, flush=True)
    source = SyntheticSource(
        "solid", width=128, height=96, color=(100, 100, 100), count=3000, fps=30
    )
    await stream.apublish(source, fps=30)
    async for _ in stream.aframes(timeout=None):
        pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
