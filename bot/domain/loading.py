"""Loading YAML data files into pydantic models, with errors that name the file and the path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
# libyaml's loader when PyYAML was built with it: ~8x faster on the survey and playbook (start-up).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DataFileError(Exception):
    """A data file (playbook, survey, answers) that cannot be used; the message says why."""


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        # "Value error, " is pydantic's wrapping of our own messages, which say what is wrong.
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {_location(tuple(item['loc']))}: {message}")
    return "\n".join(lines)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: not valid YAML: {exc}") from exc


def load_yaml_model(path: Path, model: type[ModelT], **context: Any) -> ModelT:
    data = read_yaml(path)
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as exc:
        raise DataFileError(describe_validation_error(str(path), exc)) from exc
