"""The contract's exit-code table, in code."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DIFFERENT = 1  # `diff` found differences
    USAGE = 2  # unknown option, missing argument, refused prompt
    SPEC = 3  # unreadable file, bad YAML/JSON, schema violation, missing ${VAR}
    AUTH = 4  # no key, key rejected (401/403)
    NOT_FOUND = 5  # no agent with that id or name (404)
    REJECTED = 6  # the API refused (400/409/422), duplicate or ambiguous name
    UNAVAILABLE = 7  # network error, timeout, 429/5xx after retries
    INTERRUPTED = 130  # Ctrl-C
