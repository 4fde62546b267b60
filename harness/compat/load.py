"""Reading the per-release results: `DIR/<version>/capability-matrix.json` (or `failure.json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ValidationError

from ..matrix import Matrix
from .model import COMPAT_SCHEMA_VERSION, Compatibility, VersionFailure

MATRIX_FILE = "capability-matrix.json"
FAILURE_FILE = "failure.json"


class CompatError(Exception):
    """A usage problem: a missing folder, nothing to merge, a file of another schema. Exit status 2."""


@dataclass
class Loaded:
    """One release: its matrix, or why there is none."""

    version: str
    source: Path
    matrix: Matrix | None = None
    failure: VersionFailure | None = None

    @property
    def sdk(self) -> str:
        if self.matrix is not None:
            return self.matrix.sdk
        return self.failure.sdk if self.failure is not None else "cozepy"

    @property
    def sort_key(self) -> tuple[str, Version]:
        return self.sdk, Version(self.version)

    @property
    def shown_source(self) -> str:
        """The file as the report names it: relative to the folder it was found in (`0.6.0/capability-matrix.json`),
        so the same results merged from another checkout or temporary folder give the same report."""
        return f"{self.source.parent.name}/{self.source.name}"


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompatError(f"{path}: not readable JSON ({exc})") from exc


Model = TypeVar("Model", bound=BaseModel)


def _load_versioned(path: Path, model: type[Model], version: int, what: str, regenerate: str) -> Model:
    """A JSON file of one of our models, refused with a clear reason when its schema is another one."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise CompatError(f"{path}: not a {what} (a JSON object was expected)")
    found = data.get("schema_version")
    if found != version:
        raise CompatError(f"{path} has schema_version {found}; this coze-harness reads {version}: {regenerate}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CompatError(f"{path}: not a valid {what}: {exc}") from exc


def load_matrix(path: Path) -> Matrix:
    """A capability matrix of this schema, or of an older one still readable (`Matrix.read`)."""
    try:
        return Matrix.read(_read_json(path))
    except ValidationError as exc:
        raise CompatError(f"{path}: not a valid capability matrix: {exc}") from exc
    except ValueError as exc:
        raise CompatError(f"{path} {exc}") from exc


def _check_version(version: str, path: Path) -> str:
    try:
        Version(version)
    except InvalidVersion as exc:
        raise CompatError(f"{path}: {version!r} is not a version number") from exc
    return version


def _scan(folder: Path, found: dict[str, Loaded]) -> None:
    if not folder.exists():
        raise CompatError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise CompatError(f"not a folder: {folder} (give the folder that holds one sub-folder per release)")
    for sub in sorted(path for path in folder.iterdir() if path.is_dir()):
        matrix_path, failure_path = sub / MATRIX_FILE, sub / FAILURE_FILE
        if matrix_path.exists():
            matrix = load_matrix(matrix_path)
            loaded = Loaded(_check_version(matrix.sdk_version, matrix_path), matrix_path, matrix=matrix)
        elif failure_path.exists():
            try:
                failure = VersionFailure.model_validate(_read_json(failure_path))
            except ValidationError as exc:
                raise CompatError(f"{failure_path}: not a valid failure record: {exc}") from exc
            loaded = Loaded(_check_version(failure.version, failure_path), failure_path, failure=failure)
        else:
            continue
        key = f"{loaded.sdk} {loaded.version}"
        other = found.get(key)
        if other is not None:
            raise CompatError(f"two results for {key}: {other.source} and {loaded.source}")
        found[key] = loaded


def load_dirs(folders: Sequence[Path]) -> list[Loaded]:
    """Every release under the folders (e.g. the sweep shards' folders, or one folder per SDK), by SDK and then
    oldest first; a release of an SDK found twice, in one folder or across them, is a `CompatError`, as is
    finding none at all."""
    found: dict[str, Loaded] = {}
    for folder in folders:
        _scan(folder, found)
    if not found:
        where = " ".join(str(folder) for folder in folders)
        first = folders[0] if folders else Path("DIR")
        raise CompatError(
            f"no {MATRIX_FILE} under {where}/*/: run `tox` or `python -m harness.compat.sweep` first, "
            f"or `coze-harness report --out {first}/<version> --format json`"
        )
    return sorted(found.values(), key=lambda item: item.sort_key)


def load_dir(folder: Path) -> list[Loaded]:
    """Every release under `folder`, oldest first. Raises `CompatError` with a message for a person."""
    return load_dirs([folder])


def load_compatibility(path: Path) -> Compatibility:
    """A committed `compatibility.json` (the baseline)."""
    if not path.is_file():
        raise CompatError(f"no such baseline file: {path}")
    return _load_versioned(
        path,
        Compatibility,
        COMPAT_SCHEMA_VERSION,
        "compatibility report",
        "regenerate the baseline with `coze-harness compat`",
    )
