"""Ids, log ids and timestamps from one seeded source.

Coze ids are ~19-digit decimal strings and timestamps are Unix seconds. Drawing them from a seeded
generator and a logical clock makes every run of a scenario produce the same bytes, which is what
lets tests pin streams and lets recorded cassettes be compared with fresh runs.
"""

from __future__ import annotations

import random
import threading
import time

_ID_LOW = 7_300_000_000_000_000_000
_ID_HIGH = 7_499_999_999_999_999_999


class IdSource:
    """Hands out unique 19-digit ids and opaque log ids; safe to share between threads."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._issued: set[str] = set()

    def new_id(self) -> str:
        with self._lock:
            while True:
                candidate = str(self._rng.randint(_ID_LOW, _ID_HIGH))
                if candidate not in self._issued:
                    self._issued.add(candidate)
                    return candidate

    def logid(self, now: int) -> str:
        """A log id shaped like the platform's: a UTC timestamp followed by 20 upper-case hex digits."""
        with self._lock:
            suffix = f"{self._rng.getrandbits(80):020X}"
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + suffix


class Clock:
    """Unix seconds for `created_at` and friends.

    The logical clock advances one second per reading, so timestamps are ordered, distinct and
    reproducible; the wall clock is there for people who watch a live simulator.
    """

    def __init__(self, start: int, wall: bool = False) -> None:
        self._next = start
        self._wall = wall
        self._lock = threading.Lock()

    def now(self) -> int:
        if self._wall:
            return int(time.time())
        with self._lock:
            value = self._next
            self._next += 1
            return value
