"""Ids, log ids and timestamps from one seeded source.

Coze ids are ~19-digit decimal strings and timestamps are Unix seconds. Drawing them from a seeded
generator and a logical clock makes every run of a scenario produce the same bytes, which is what
lets tests pin streams and lets recorded cassettes be compared with fresh runs.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque

_ID_LOW = 7_300_000_000_000_000_000
_ID_HIGH = 7_499_999_999_999_999_999
RECENT_IDS = 200_000
"""Ids checked for repeats: the latest this many. Older ones are forgotten so that memory stays flat on a
long run; a repeat of a forgotten id has odds of about one in 10^12 per draw (2 x 10^17 possible ids)."""


class IdSource:
    """Hands out 19-digit ids, none repeating the latest RECENT_IDS, and opaque log ids; thread-safe."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._issued: set[str] = set()
        self._order: deque[str] = deque()

    def new_id(self) -> str:
        with self._lock:
            while True:
                candidate = str(self._rng.randint(_ID_LOW, _ID_HIGH))
                if candidate not in self._issued:
                    self._issued.add(candidate)
                    self._order.append(candidate)
                    if len(self._order) > RECENT_IDS:
                        self._issued.discard(self._order.popleft())
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
