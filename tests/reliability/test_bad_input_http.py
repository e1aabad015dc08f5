"""Bad input to every HTTP route of the worker, orchestrator, gateway and trickle server.

Promise: malformed JSON, wrong types, missing and extra fields, bodies over the limit,
invalid ``Livepeer`` headers, path-like names and wrong content types get a 4xx (or
the documented status) whose body says what was expected, never a 5xx or a traceback,
and the service then serves a good request correctly. The table is in
``endpoints*.py``; a route without an entry fails :func:`test_every_route_has_a_table_entry`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from yarl import URL

from .endpoints import FRAME, Case, Endpoint, served_routes
from .endpoints_gateway import gateway_endpoints
from .endpoints_orchestrator import orchestrator_endpoints
from .endpoints_trickle import trickle_endpoints
from .endpoints_worker import worker_endpoints
from .stack import Stack, assert_green, running_stack

ENDPOINTS: list[Endpoint] = [
    *worker_endpoints(),
    *orchestrator_endpoints(),
    *trickle_endpoints("orchestrator", "/ai/trickle/"),
    *gateway_endpoints(),
    *trickle_endpoints("trickle", "/"),
]
TRACEBACK_MARKS = ("Traceback", 'File "')


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async for running in running_stack():
        yield running


async def test_every_route_has_a_table_entry() -> None:
    table = [endpoint.key for endpoint in ENDPOINTS]
    assert len(table) == len(set(table)), "an endpoint is listed twice"
    served = served_routes()
    assert served - set(table) == set(), "routes without bad-input cases: add them to the table"
    assert set(table) - served == set(), "table entries for routes nobody serves"
    assert all(endpoint.cases for endpoint in ENDPOINTS)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_bad_input_gets_a_clear_4xx_and_the_service_serves_on(
    stack: Stack, endpoint: Endpoint
) -> None:
    for case in endpoint.cases:
        setup = case.setup if case.setup is not None else endpoint.setup
        await stack.prepare(setup, endpoint.service)
        status, body = await _send(stack, endpoint, case)
        where = f"{endpoint} [{case.name}] -> {status} {body[:300]!r}"
        assert status == case.status, where
        if not case.documented:
            assert 400 <= status < 500, where
        text = body.decode("utf-8", "replace")
        for words in case.says:
            assert words.lower() in text.lower(), where
        assert not any(mark in text for mark in TRACEBACK_MARKS), where
        if status >= 400:
            _assert_explained(endpoint, text, where)
        elif case.body == FRAME:  # a documented 200 for a batch job: the job was done
            assert_green(body)
        await stack.check_serves(endpoint.service)


def _assert_explained(endpoint: Endpoint, text: str, where: str) -> None:
    """An error answer says something: the worker's JSON message, or a line of text."""
    if endpoint.service == "worker":
        message = json.loads(text)["message"]
        assert isinstance(message, str), where
        assert len(message) > 10, where
    else:
        assert len(text.strip()) > 10, where


async def _send(stack: Stack, endpoint: Endpoint, case: Case) -> tuple[int, bytes]:
    path = case.path if case.path is not None else endpoint.path
    if path.startswith("?"):
        path = endpoint.path + path
    url = URL(stack.base(endpoint.service) + path, encoded=True)
    skip = () if "Content-Type" in case.headers else ("Content-Type",)
    data: object = case.body
    if case.chunked:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(case.body), 65536):
                yield case.body[start : start + 65536]

        data = chunks()
    async with stack.http.request(
        endpoint.method, url, data=data, headers=dict(case.headers), skip_auto_headers=skip
    ) as response:
        return response.status, await response.read()
