"""Reading spec files for a command that acts on them: fail-first.

The files are loaded (`${VAR}` filled in), the secrets they hold are handed to
`on_secrets` before anything can quote them, and the documents are checked: the first
error raises (SpecError, with file:line and field), warnings go to `warn`. `validate`
reads the same files collect-all instead (`check_files`, which reports every problem).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from agentctl.spec.load import SpecDocument


def read_specs(
    paths: Sequence[str], env: Mapping[str, str], *, stdin: TextIO | None,
    on_secrets: Callable[[Iterable[str]], None], warn: Callable[[str], None],
    partial: bool = False, compare_only: bool = False, allow_loopback_urls: bool = False,
) -> list[SpecDocument]:
    """`partial`: an update or an inline session (the service keeps or fills in the rest).
    `compare_only` (diff): secrets are never compared, so their variables may be unset or
    empty. `allow_loopback_urls`: an emulator on loopback may call loopback tools."""
    from agentctl.errors import UsageError
    from agentctl.spec.interpolate import check_empty_secrets, misplaced_secrets, secret_values
    from agentctl.spec.load import load_specs
    from agentctl.spec.rules import format_path
    from agentctl.spec.validate import validate_documents

    if not paths:
        raise UsageError("no spec files given", hint="pass -f PATH (a file, a directory, or -)")
    if compare_only:
        from agentctl.spec.check import load_for_comparison

        docs = load_for_comparison(list(paths), env, stdin=stdin)
    else:
        docs = load_specs(list(paths), env=env, stdin=stdin)
    for doc in docs:  # from here on, output never shows them
        on_secrets(secret_values(doc, env))
    if not compare_only:
        check_empty_secrets(docs, env)
    for doc in docs:
        for path, name in misplaced_secrets(doc):
            warn(f"{doc.where(path)}: {format_path(path)}: the secret variable {name} fills a "
                 "field that is not write-only: anyone who can read the agent can read it")
    for warning in validate_documents(docs, partial=partial,
                                      allow_loopback_urls=allow_loopback_urls):
        warn(warning)
    return docs
