"""Turning `--file` JSON or command-line options into validated messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cli.errors import INVALID_INPUT, CliError, describe

M = TypeVar("M", bound=BaseModel)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}", INVALID_INPUT) from err
    except json.JSONDecodeError as err:
        raise CliError(f"{path} is not JSON: {err}", INVALID_INPUT) from err


def given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The options actually given: None means "not given", and so does a group left empty."""
    kept = {}
    for name, value in fields.items():
        if isinstance(value, Mapping):
            value = given(value) or None
        if value is not None:
            kept[name] = value
    return kept


def build(model: type[M], file: Path | None, fields: Mapping[str, Any]) -> M:
    """The message from `--file` (JSON of `model`) or from the options, never a mix of both."""
    options = given(fields)
    if file is not None and options:
        raise CliError("give either --file or the options, not both", INVALID_INPUT)
    data = read_json(file) if file is not None else options
    try:
        return model.model_validate(data)
    except ValidationError as err:
        source = str(file) if file is not None else "the options"
        title = f"invalid {model.__name__} from {source}"
        raise CliError(describe(err, title), INVALID_INPUT) from err
