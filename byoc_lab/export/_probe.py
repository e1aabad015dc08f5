"""Preflight probe: the exported ``processor.py`` in a clean interpreter, alone.

Run by :func:`byoc_lab.export.preflight.run_probe` as
``python -I -m byoc_lab.export._probe RESULT.json CLASS PARAMS_JSON`` from a directory
that holds only ``processor.py``: no notebook globals, no ``PYTHONPATH``, no working
directory on ``sys.path``, as in the container. It loads the class, creates it, checks
the contract and the parameter schema, runs ``initialize()``, one frame through
``process()`` and ``shutdown()``, and writes what it learned (or which check failed,
and why) to ``RESULT.json``. It is not an API.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from byoc_lab.errors import ByocLabError
from byoc_lab.loader import instantiate, load_processor_class
from byoc_lab.runner import InputKind, ProcessorRunner

FRAME = (120, 160)  # height, width of the test frame


class ProbeFailure(Exception):
    """A failed check: ``check`` names it, the message says what happened."""

    def __init__(self, check: str, message: str, *, has_fix: bool = False) -> None:
        super().__init__(message)
        self.check = check
        self.has_fix = has_fix  # the message already says what to do


def _fail(check: str, what: str, exc: BaseException) -> ProbeFailure:
    """A failure of ``check``: byoc_lab's own message, else the root cause and its line."""
    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    if any(isinstance(link, NameError) for link in chain):
        check = "globals"
    shown = exc if isinstance(exc, ByocLabError) else chain[-1]
    frames = traceback.extract_tb(chain[-1].__traceback__) if chain[-1].__traceback__ else []
    lines = [f.lineno for f in frames if f.filename.endswith("processor.py")]
    where = f" (processor.py line {lines[-1]})" if lines else ""
    has_fix = isinstance(shown, ByocLabError) and bool(shown.fix)
    message = f"{what} raised {type(shown).__name__}: {shown}{where}"
    return ProbeFailure(check, message, has_fix=has_fix)


def probe(class_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run every check; returns the schema, the input kind and the modules loaded."""
    baseline = set(sys.modules)
    try:
        cls = load_processor_class(f"processor.py:{class_name}")
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        raise _fail("load", f"importing processor.py for {class_name}", exc) from None
    try:
        processor = instantiate(cls, **params)
        runner = ProcessorRunner(processor)
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        raise _fail("contract", f"{class_name}()", exc) from None
    schema = _schema(cls)
    asyncio.run(_run(runner))
    loaded = {name.split(".")[0] for name in set(sys.modules) - baseline}
    files = {name: getattr(sys.modules.get(name), "__file__", None) for name in sorted(loaded)}
    return {"input_kind": runner.input_kind.value, "schema": schema, "modules": files}


def _schema(cls: type) -> list[dict[str, Any]]:
    declared = getattr(cls, "declared_params", None)
    if not callable(declared):
        return []
    try:
        rows = [param.spec.to_json() for param in declared().values()]
        for name, param in declared().items():
            param.validate(param.default)
            if not name.isidentifier():
                raise ValueError(f"parameter name {name!r} is not an identifier")
        json.loads(json.dumps(rows, allow_nan=False))
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        raise _fail("schema", f"{cls.__name__}'s parameter schema", exc) from None
    return rows


async def _run(runner: ProcessorRunner) -> None:
    try:
        await runner.initialize()
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        raise _fail("initialize", f"{runner.name}.initialize()", exc) from None
    height, width = FRAME
    frame = np.full((height, width, 3), 128, dtype=np.uint8)
    failure: ProbeFailure | None = None
    try:
        if runner.input_kind is InputKind.BYTES:
            await runner.process_bytes(frame.tobytes())
        else:
            await runner.process(frame, index=0)
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        failure = _fail("process", f"{runner.name}.process() on a {width}x{height} frame", exc)
    try:
        await runner.shutdown()
    except Exception as exc:  # noqa: BLE001 - user code: every failure is reported
        failure = failure or _fail("shutdown", f"{runner.name}.shutdown()", exc)
    if failure is not None:
        raise failure


def main(argv: list[str]) -> int:
    """Write the probe's result to ``argv[0]``; exit 0 whenever a result was written."""
    result_path, class_name, params_json = argv
    try:
        result: dict[str, Any] = {"ok": True, **probe(class_name, json.loads(params_json))}
    except ProbeFailure as failure:
        result = {
            "ok": False,
            "check": failure.check,
            "message": str(failure),
            "has_fix": failure.has_fix,
        }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
