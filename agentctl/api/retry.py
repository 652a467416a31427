"""When and how long to wait before trying a request again."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agentctl.errors import UsageError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that say the server did not act on the request, so even a POST may be sent again.
NOT_PROCESSED_STATUSES = frozenset({429, 503})


@dataclass
class RetryPolicy:
    attempts: int = 5  # total tries, first one included
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """The defaults, tuned by AGENTCTL_RETRY_ATTEMPTS / _BASE_DELAY / _MAX_DELAY."""
        env = os.environ if env is None else env
        policy = cls()
        for name, attr, kind, low, high in _ENV_KNOBS:
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                value = kind(raw)
                if not low <= value <= high:  # also refuses nan
                    raise ValueError
            except ValueError:
                raise UsageError(
                    f"invalid ${name} {raw!r}: expected {kind.__name__} from {low} to {high}"
                ) from None
            setattr(policy, attr, value)
        return policy

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Full-jitter exponential backoff; a server's Retry-After wins when present."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return self.rng.uniform(ceiling / 2, ceiling)


# (variable, attribute, type, min, max): documented in settings.OTHER_ENV.
_ENV_KNOBS: tuple[tuple[str, str, type, float, float], ...] = (
    ("AGENTCTL_RETRY_ATTEMPTS", "attempts", int, 1, 100),
    ("AGENTCTL_RETRY_BASE_DELAY", "base_delay", float, 0.0, 60.0),
    ("AGENTCTL_RETRY_MAX_DELAY", "max_delay", float, 0.0, 600.0),
)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # an HTTP date: rare, and ~10 ms to import

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
