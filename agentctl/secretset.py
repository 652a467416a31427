"""The values one run must never print: the API key and the secret variables it read.

One `SecretSet` per run, on the `Environment` (`settings.Environment.secrets`); the output
sink and the error line scrub them (`render.redact.safe_text`). A set passed down, not a
module global: runs in one process (tests) share nothing, and a test builds its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

# Shorter values are not scrubbed from free text: "abc" would blank out ordinary words.
# Such a value at a write-only path is still masked there, by path.
MIN_SECRET = 4


class SecretSet:
    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.ordered: tuple[str, ...] = ()  # longest first: a secret holding another wins
        self.add_all(values)

    def add(self, value: str | None) -> None:
        """Never print `value` (nor, for a multi-line value, any of its lines)."""
        if not value:
            return
        parts = {value, *(line.strip() for line in value.splitlines())}
        new = {p for p in parts if len(p) >= MIN_SECRET} - self._values
        if not new:
            return
        with self._lock:
            self._values.update(new)
            self.ordered = tuple(sorted(self._values, key=len, reverse=True))

    def add_all(self, values: Iterable[str | None]) -> None:
        for value in values:
            self.add(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ordered)

    def __bool__(self) -> bool:
        return bool(self.ordered)
