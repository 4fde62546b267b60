"""`{{ namespace.key.path }}` placeholders in scenario text.

Scenario answers quote what the client sent (the user's message, submitted tool outputs, workflow
parameters, resume answers), which is how an end-to-end run proves data made the round trip. The
syntax is deliberately tiny: no expressions, no attribute access, nothing a scenario file could use
to run code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..envelope import dumps

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")


class TemplateError(ValueError):
    """A placeholder names something the context does not have."""


def references(template: str) -> Iterator[list[str]]:
    """The dotted paths a template uses, split into parts: `{{ output.weather }}` -> ['output', 'weather']."""
    for match in _PLACEHOLDER.finditer(template):
        yield match.group(1).split(".")


def references_in(value: Any) -> Iterator[list[str]]:
    """Every path used by the strings anywhere inside a JSON-like value."""
    if isinstance(value, str):
        yield from references(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)


def _lookup(context: Mapping[str, Any], parts: list[str]) -> Any:
    current: Any = context
    for depth, part in enumerate(parts):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise TemplateError(f"'{{{{ {'.'.join(parts)} }}}}': no value at '{'.'.join(parts[: depth + 1])}'")
    return current


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill every placeholder; strings go in as they are, anything else as compact JSON."""
    return _PLACEHOLDER.sub(lambda m: _as_text(_lookup(context, m.group(1).split("."))), template)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render the strings inside a JSON-like value, keeping its structure.

    A string that is exactly one placeholder takes the referenced value itself, so `"{{ node.x }}"`
    can place an object where text would lose its type.
    """
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return _lookup(context, whole.group(1).split("."))
        return render(value, context)
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value
