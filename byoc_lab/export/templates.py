"""The text templates an export renders, and the one way to fill them in.

The canonical templates live in the repository's ``docker/templates/``; a copy ships in
the wheel as package data under ``byoc_lab/export/templates/`` so that an installed
byoc_lab exports exactly what a source checkout does. The exporter always reads the
packaged copy (one code path); ``make golden`` copies ``docker/templates/`` over it and a
test fails while the two differ.

A template holds ``{{name}}`` placeholders and nothing else that is special, so
Dockerfile ``${VAR}`` syntax and Python braces pass through untouched. Filling is
strict both ways: a placeholder without a value, or a value without a placeholder, is a
bug in byoc_lab and raises ``KeyError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

__all__ = ["TEMPLATE_NAMES", "fill", "render_template", "template_text"]

TEMPLATE_NAMES = (
    "Dockerfile.byoc_lab.tmpl",
    "Dockerfile.pytrickle.tmpl",
    "README.md.tmpl",
    "compose.yml.tmpl",
    "dockerignore.tmpl",
    "python-cuda.tmpl",
    "register.env.example.tmpl",
    "server_pytrickle.py.tmpl",
)

_PLACEHOLDER = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


def template_text(name: str) -> str:
    """The packaged template ``name`` (one of :data:`TEMPLATE_NAMES`)."""
    if name not in TEMPLATE_NAMES:
        raise KeyError(f"no export template {name!r}")
    return resources.files("byoc_lab.export").joinpath("templates", name).read_text("utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every ``{{name}}`` in ``text`` with ``values[name]``.

    Raises:
        KeyError: a placeholder has no value, or a value has no placeholder.
    """
    used = set(_PLACEHOLDER.findall(text))
    missing = used - set(values)
    unused = set(values) - used
    if missing or unused:
        raise KeyError(f"template placeholders missing {sorted(missing)}, unused {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def render_template(name: str, values: Mapping[str, str]) -> str:
    """Fill the packaged template ``name`` with ``values`` (see :func:`fill`)."""
    return fill(template_text(name), values)
