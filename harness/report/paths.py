"""Which files a command reads and which it writes: no command writes over a file it reads.

A baseline or an expectation is read, then the command writes its own files; when one of those is
the file it read (the same path spelt another way, a symlink, a hard link), the next run would gate
against what this run wrote. Commands check before they run anything, and refuse with exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file: `samefile` when both exist, else the resolved paths."""
    try:
        return os.path.samefile(one, other)
    except OSError:  # one does not exist (yet): compare where they would be
        return one.resolve() == other.resolve()


def clashes(reads: Iterable[tuple[str, Path]], writes: Iterable[tuple[str, Path]]) -> list[str]:
    """One line per (read, write) pair that is one file, and per two writes that are one file.

    Each item is (what it is for the message, e.g. "--baseline", path)."""
    reads, writes = list(reads), list(writes)
    found = [
        f"{read_what} {read_path} is also where {write_what} would write ({write_path})"
        for read_what, read_path in reads
        for write_what, write_path in writes
        if same_file(read_path, write_path)
    ]
    for index, (what, path) in enumerate(writes):
        for other_what, other in writes[index + 1 :]:
            if same_file(path, other):
                found.append(f"{what} ({path}) and {other_what} ({other}) are the same file")
    return found
