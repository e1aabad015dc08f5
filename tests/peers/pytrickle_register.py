"""Register a capability with pytrickle 0.1.6's own helper, from the environment.

Usage: ORCH_URL=… ORCH_SECRET=… CAPABILITY_NAME=… CAPABILITY_URL=… python pytrickle_register.py
Prints "registered" and exits 0 on success, exits 1 otherwise.
Runs in the pytrickle venv (.venv-pytrickle), never in byoc_lab's.
"""

from __future__ import annotations

import asyncio
import sys

from pytrickle import RegisterCapability


async def main() -> int:
    result = await RegisterCapability.register(max_retries=3, delay=0.5)
    if result is False:
        return 1
    print("registered")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
