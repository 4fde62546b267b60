"""Sweep shards: a deterministic, disjoint share of the releases per shard, and the check that shards add up.

The unit of a shard is a release, not a (release, platform) pair: one `coze-harness report` run probes
both platforms in one process and writes one `capability-matrix.json` per release with both platforms'
cells (and the framing probe, which is about the SDK, once), so a release cannot be split between
shards without splitting that file.

Shard I of N (1-based) takes the I-th of N contiguous runs of the releases sorted oldest first (sizes
differ by at most one): contiguous, so a shard needs the venvs of as few httpx lines as possible. Each
shard writes a manifest, `sweep-shard-I-of-N.json`, beside its releases' folders: the whole release list
it was cut from and its own share. `coze-harness compat DIR...` reads the manifests of every folder it
is given and refuses (exit 2) a set of shards that does not add up: shards cut from different lists or
different N, a shard missing or given twice, a release of the list without a result, a result no shard
swept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .load import CompatError, Loaded

MANIFEST_GLOB = "sweep-shard-*-of-*.json"
_NAME = re.compile(r"^sweep-shard-(\d+)-of-(\d+)\.json$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` with 1 <= I <= N; ValueError with a message for a person otherwise."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ValueError(f"--shard {text!r}: expected I/N, e.g. 1/4")
        index, count = int(match.group(1)), int(match.group(2))
        if not 1 <= index <= count:
            raise ValueError(f"--shard {text!r}: I must be between 1 and N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def manifest_name(self) -> str:
        return f"sweep-shard-{self.index}-of-{self.count}.json"

    def take(self, versions: Sequence[str]) -> list[str]:
        """This shard's share of `versions` (already sorted oldest first): the I-th of N contiguous runs."""
        total = len(versions)
        return list(versions[(self.index - 1) * total // self.count : self.index * total // self.count])


def write_manifest(folder: Path, shard: Shard, versions: Sequence[str], mine: Sequence[str]) -> Path:
    """Record which list the shard was cut from and its share; a manifest of another N here is stale."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(MANIFEST_GLOB):
        match = _NAME.match(old.name)
        if match and int(match.group(2)) != shard.count:
            old.unlink()
    path = folder / shard.manifest_name
    data = {"shard": shard.index, "of": shard.count, "versions": list(versions), "swept": list(mine)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def remove_manifests(folder: Path) -> None:
    """A sweep of the whole list makes any shard manifest left in its folder stale."""
    for old in folder.glob(MANIFEST_GLOB) if folder.is_dir() else []:
        old.unlink()


def _read(path: Path) -> tuple[Shard, list[str], list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        shard = Shard(int(data["shard"]), int(data["of"]))
        versions, swept = [str(v) for v in data["versions"]], [str(v) for v in data["swept"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompatError(f"{path}: not a readable shard manifest ({exc})") from exc
    if path.name != shard.manifest_name or swept != shard.take(versions):
        raise CompatError(f"{path}: its name, shard number and releases do not agree")
    return shard, versions, swept


def check_shards(folders: Sequence[Path], loaded: Sequence[Loaded]) -> str | None:
    """When the folders hold shard manifests: a description of the shards merged ("4 shards of 4"), or
    CompatError saying what does not add up. None when no folder holds one (not a sharded sweep)."""
    manifests = [path for folder in folders for path in sorted(folder.glob(MANIFEST_GLOB))]
    if not manifests:
        return None
    seen: dict[int, Path] = {}
    lists: dict[tuple[int, tuple[str, ...]], Path] = {}
    for path in manifests:
        shard, listed, _ = _read(path)
        lists.setdefault((shard.count, tuple(listed)), path)
        if shard.index in seen:
            raise CompatError(f"shard {shard} is given twice: {seen[shard.index]} and {path}")
        seen[shard.index] = path
    if len(lists) > 1:
        described = "; ".join(f"{path} ({count} shards of {len(vs)} releases)" for (count, vs), path in lists.items())
        raise CompatError(
            f"the shards were cut from different release lists or shard counts: {described}. "
            "Sweep every shard with the same --versions (or on the same day) and the same N"
        )
    [(count, versions)] = list(lists)
    missing = [Shard(index, count) for index in range(1, count + 1) if index not in seen]
    if missing:
        described = "; ".join(f"{shard} (cozepy {', '.join(shard.take(versions)) or 'nothing'})" for shard in missing)
        raise CompatError(f"shard(s) missing: {described}; give every shard's folder")
    swept_folders = {path.parent for path in manifests}  # another SDK's folder, merged beside them, is not theirs
    have = {item.version for item in loaded if item.source.parent.parent in swept_folders}
    absent = [version for version in versions if version not in have]
    if absent:
        raise CompatError(
            "no result for cozepy "
            + ", ".join(f"{version} (shard {_owner(version, versions, count)})" for version in absent)
            + ": its shard's folder lacks it"
        )
    extra = sorted(have - set(versions))
    if extra:
        raise CompatError(
            f"result(s) for cozepy {', '.join(extra)}, which no shard swept (left from another run?): "
            "merge the shards' folders only"
        )
    return f"{count} shard(s) of {count}, {len(versions)} releases"


def _owner(version: str, versions: Sequence[str], count: int) -> Shard:
    return next(shard for shard in (Shard(i, count) for i in range(1, count + 1)) if version in shard.take(versions))
