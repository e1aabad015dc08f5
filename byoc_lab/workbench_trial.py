"""Trying a new processor on one frame before it replaces the running one.

:func:`trial_run` initializes the processor, runs ``process()`` once on a synthetic
frame of the preview's size, and shuts it down, each bounded in time. A failure is
a typed error naming the line of the editor's text where it happened (when the code
came from byoc_lab-compiled text), so the caller can refuse the swap and say why.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from .errors import ByocLabError, ContractError, ProcessorError, ProcessorSourceError
from .loader import instantiate
from .preview.hang import describe_site, hang_site
from .runner import ProcessorRunner
from .synthetic import SyntheticSource
from .tracebacks import USER_PREFIX, describe_exception, user_line

__all__ = ["INITIALIZE_TIMEOUT_S", "create_instance", "trial_run", "user_code_error"]

logger = logging.getLogger(__name__)

INITIALIZE_TIMEOUT_S: Final = 120.0
"""How long a trial waits for ``initialize()`` (loading a model may take a while)."""
_KEEPS = "the previous processor keeps running"


async def trial_run(processor: Any, size: tuple[int, int], frame_timeout: float) -> None:
    """Initialize ``processor``, process one ``size`` frame, shut it down.

    Raises:
        ContractError: no usable ``process`` method; ``initialize()`` or
            ``process()`` did not finish in time, or raised in code from a file.
        FrameContractError: ``process()`` returned something that is not a frame.
        ProcessorSourceError: ``initialize()`` or ``process()`` raised inside
            byoc_lab-compiled text (``line`` says where).
    """
    runner = ProcessorRunner(processor)
    width, height = size
    image = SyntheticSource(width=width, height=height).render(0)
    await _step(runner, "initialize()", runner.initialize(), INITIALIZE_TIMEOUT_S)
    try:
        await _step(
            runner,
            f"process() on a {width}x{height} test frame",
            runner.process(image, index=0),
            frame_timeout,
        )
    finally:
        try:
            async with asyncio.timeout(frame_timeout):
                await runner.shutdown()
        except Exception as exc:  # noqa: BLE001 - the trial's verdict stands; noted only
            logger.warning(
                "%s.shutdown() after its trial: %s", runner.name, describe_exception(exc)
            )


async def _step(runner: ProcessorRunner, what: str, call: Any, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds) as deadline:
            await call
    except TimeoutError as exc:
        if not deadline.expired():  # the processor itself raised TimeoutError
            raise user_code_error(exc, f"{runner.name}.{what}") from exc
        site = hang_site(runner.processor, exc)
        message = f"{runner.name}.{what} did not finish within {seconds:g} s{describe_site(site)}"
        fix = "make it faster, or give the workbench a larger frame_timeout; " + _KEEPS
        if site is not None and site[0].startswith(USER_PREFIX):
            raise ProcessorSourceError(message, line=site[1], filename=site[0], fix=fix) from None
        raise ContractError(message, fix=fix) from None
    except ByocLabError:
        raise
    except Exception as exc:  # user code: turned into a typed error with its line
        raise user_code_error(exc, f"{runner.name}.{what}") from exc


def create_instance(cls: type) -> Any:
    """``cls()`` (see :func:`~byoc_lab.loader.instantiate`), its own errors made typed.

    Raises:
        ContractError: it needs arguments, or its ``__init__`` raised (outside
            compiled text).
        ProcessorSourceError: its ``__init__`` raised in compiled text (with the line).
    """
    try:
        return instantiate(cls)
    except ByocLabError:
        raise
    except Exception as exc:  # __init__ is user code: typed, with its line
        raise user_code_error(exc, f"{cls.__name__}()") from exc


def user_code_error(exc: BaseException, what: str) -> ProcessorError:
    """A typed error for ``exc`` raised by a processor's ``what`` (e.g. ``X.initialize()``).

    :class:`ProcessorSourceError` with the line when it was raised in text byoc_lab
    compiled (the editor, a cell); else :class:`ContractError`. A byoc_lab error is
    returned as it is.
    """
    if isinstance(exc, ProcessorError):
        return exc
    message = f"{what} raised {describe_exception(exc)}"
    where = user_line(exc)
    if where is None:
        return ContractError(message, fix=f"correct it and apply again; {_KEEPS}")
    fix = f"correct line {where[1]} and apply again; {_KEEPS}"
    return ProcessorSourceError(message, line=where[1], filename=where[0], fix=fix)
