"""The background loop's blocking ``run``: results, the caller's timeout, the coroutine's own."""

from __future__ import annotations

import asyncio

import pytest

from byoc_lab.errors import JobTimeoutError
from byoc_lab.runtime import get_loop


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


async def _own_timeout() -> None:
    await asyncio.sleep(0)
    raise JobTimeoutError("no output frame from stream s within 0.1 s")


async def _slow() -> None:
    await asyncio.sleep(30)


def test_run_returns_the_coroutines_result() -> None:
    assert get_loop().run(_answer(), 5) == 42


def test_a_timeout_the_coroutine_raises_comes_through_as_itself() -> None:
    # JobTimeoutError is a TimeoutError, as is concurrent.futures.TimeoutError since 3.11.
    with pytest.raises(JobTimeoutError, match="no output frame from stream s"):
        get_loop().run(_own_timeout(), 5)


def test_the_callers_timeout_cancels_the_coroutine() -> None:
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.2 s") as caught:
        get_loop().run(_slow(), 0.2)
    assert not isinstance(caught.value, JobTimeoutError)
