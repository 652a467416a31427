"""`connect -f`: a spec document as an inline live session (no stored agent)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentctl.spec.load import SpecDocument

Record = dict[str, Any]


def inline_config(
    docs: Sequence[SpecDocument], *, warn: Callable[[str], None]
) -> tuple[Record, Record]:
    """The one document read (`spec.read`, partial: the service fills in the rest) ->
    (its configuration, the inline `session` to send). What it says that a session cannot
    use is a warning."""
    from agentctl.errors import UsageError
    from agentctl.session.inline import inline_session

    if len(docs) != 1:
        raise UsageError(f"connect -f takes one agent spec; {len(docs)} documents given")
    session, ignored = inline_session(docs[0])
    for warning in ignored:
        warn(warning)
    return docs[0].data, session
