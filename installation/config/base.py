"""The strict base of every config schema: unknown keys are errors that name the key, its
line and the nearest valid spelling.

Section schemas (display, osc, midi, hotswap, ...) live with the subsystem that owns them
and import only this module, so no subsystem depends on the whole show's schema.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict


class ShowError(Exception):
    """A show (or a file it names) that cannot be played; the message names the key and what to do."""


class Section(BaseModel):
    """A config section: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


KeyLines = Mapping[tuple, int]


class DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping: YAML loaders keep the last silently; we refuse."""


def key_lines(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path in a YAML node tree to its 1-based line number. Raises
    DuplicateKey, naming both lines, for a key given twice in one mapping."""
    if node is None:
        return {}
    lines: dict[tuple, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key, value in node.value:
            sub = (*path, key.value)
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.value in seen and key.value != "<<":
                name = ".".join(str(p) for p in sub)
                raise DuplicateKey(
                    f"line {line}: {name}: given twice (first on line {seen[key.value]}); keep one"
                )
            seen.setdefault(key.value, line)
            lines[sub] = key.start_mark.line + 1
            lines.update({k: v for k, v in key_lines(value, sub).items() if k != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(key_lines(item, (*path, i)))
    return lines


def read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """(data, key lines) of a YAML file. Raises OSError, UnicodeDecodeError or yaml.YAMLError."""
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text), key_lines(yaml.compose(text))


def format_error(
    err: Mapping[str, Any],
    source: str,
    lines: KeyLines,
    fields_at: Callable[[tuple], list[str]],
    show_input: bool = True,
) -> str:
    """One pydantic error as `file:line: key: message`, with a did-you-mean for unknown keys.

    `fields_at(loc)` gives the valid keys at the place of an unknown key.
    """
    loc = tuple(
        p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tuple[")))
    )
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), None)
    where = f"{source}:{line}" if line else source
    if err["type"] == "extra_forbidden":
        return f"{where}: {key}: unknown key{did_you_mean(str(loc[-1]), fields_at(loc))}"
    msg = err["msg"].removeprefix("Value error, ")
    if show_input and "input" in err and not isinstance(err.get("input"), dict):
        return f"{where}: {key}: {msg} (got {err.get('input')!r})"
    return f"{where}: {key}: {msg}"


def fields_along(model: Any, loc: tuple) -> list[str]:
    """The fields of the model found by following `loc` (less its last part) from `model`."""
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
    return [f for f in getattr(model, "model_fields", {}) if f != "base_dir"]
