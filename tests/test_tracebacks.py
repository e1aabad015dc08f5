"""Where in the user's own text an exception happened, named in one line."""

from __future__ import annotations

import linecache
import traceback

import pytest

from byoc_lab.tracebacks import describe_exception, register_source, user_filename, user_line

SOURCE = "import math\n\ndef ratio(a, b):\n    scale = math.sqrt(a)\n    return scale / b\n"


def _raise_from_user_text() -> tuple[BaseException, str]:
    filename = user_filename("editor")
    register_source(filename, SOURCE)
    namespace: dict[str, object] = {}
    exec(compile(SOURCE, filename, "exec"), namespace)
    ratio = namespace["ratio"]
    assert callable(ratio)
    with pytest.raises(ZeroDivisionError) as info:
        ratio(4, 0)
    return info.value, filename


def test_user_text_gets_a_fresh_filename_each_time() -> None:
    first, second = user_filename("editor"), user_filename("editor")
    assert first != second
    assert first.startswith("<byoc_lab:editor#")


def test_the_line_in_the_users_text_is_named() -> None:
    exc, filename = _raise_from_user_text()
    assert user_line(exc) == (filename, 5)
    assert (
        describe_exception(exc)
        == "ZeroDivisionError: float division by zero (line 5 of the editor)"
    )


def test_tracebacks_show_the_users_lines() -> None:
    exc, filename = _raise_from_user_text()
    rendered = "".join(traceback.format_exception(exc))
    assert "return scale / b" in rendered
    assert linecache.getline(filename, 4).strip() == "scale = math.sqrt(a)"


def test_other_exceptions_name_their_file_and_line() -> None:
    table: dict[str, int] = {}
    with pytest.raises(KeyError) as info:
        table["missing"]
    text = describe_exception(info.value)
    assert text.startswith("KeyError: 'missing' (line ")
    assert text.endswith(" of test_tracebacks.py)")
    assert user_line(info.value) is None
