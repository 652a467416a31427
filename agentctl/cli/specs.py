"""Reading spec files for a command: environment, loading, validation, warnings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.load import SpecDocument


def spec_environment(env_file: Path | None) -> dict[str, str]:
    """--env-file values, overridden by the real environment (as docker compose does)."""
    from agentctl.spec.interpolate import build_env

    return build_env([str(env_file)] if env_file is not None else [])


def read_specs(
    files: Sequence[str], env_file: Path | None, out: Output, *, partial: bool = False,
    compare_only: bool = False,
) -> list[SpecDocument]:
    """`compare_only` (diff): secrets are never compared, so their variables may be unset
    or empty (`spec.check.load_for_comparison`)."""
    from agentctl.errors import UsageError
    from agentctl.render.redact import register_secrets
    from agentctl.spec.interpolate import check_empty_secrets, misplaced_secrets, secret_values
    from agentctl.spec.load import load_specs
    from agentctl.spec.rules import format_path
    from agentctl.spec.validate import validate_documents

    if not files:
        raise UsageError("no spec files given", hint="pass -f PATH (a file, a directory, or -)")
    env = spec_environment(env_file)
    if compare_only:
        from agentctl.spec.check import load_for_comparison

        docs = load_for_comparison(list(files), env, stdin=out.stdin)
    else:
        docs = load_specs(list(files), env=env, stdin=out.stdin)
    for doc in docs:  # from here on, output never shows them (render.redact)
        register_secrets(secret_values(doc, env))
    if not compare_only:
        check_empty_secrets(docs, env)
    for doc in docs:
        for path, name in misplaced_secrets(doc):
            out.warn(f"{doc.where(path)}: {format_path(path)}: the secret variable {name} "
                     "fills a field that is not write-only: anyone who can read the agent "
                     "can read it")
    for warning in validate_documents(docs, partial=partial):
        out.warn(warning)
    return docs
