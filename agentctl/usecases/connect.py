"""`connect -f`: a spec file as an inline live session (no stored agent)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

Record = dict[str, Any]


def inline_config(
    files: Sequence[str], env: Mapping[str, str], *, stdin: TextIO | None,
    allow_loopback_urls: bool, warn: Callable[[str], None],
) -> tuple[Record, Record]:
    """One spec document -> (its configuration, the inline `session` to send).

    Checked as `create` would check it (a partial spec is fine: the service fills in the
    rest); what the document says that a session cannot use is a warning. An emulator on
    loopback may call loopback tools (`allow_loopback_urls`).
    """
    from agentctl.errors import UsageError
    from agentctl.session.inline import inline_session
    from agentctl.spec.load import load_specs
    from agentctl.spec.validate import validate_documents

    docs = load_specs(list(files), env=env, stdin=stdin)
    for warning in validate_documents(docs, partial=True, allow_loopback_urls=allow_loopback_urls):
        warn(warning)
    if len(docs) != 1:
        raise UsageError(f"connect -f takes one agent spec; {len(docs)} documents given")
    session, ignored = inline_session(docs[0])
    for warning in ignored:
        warn(warning)
    return docs[0].data, session
