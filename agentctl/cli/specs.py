"""Spec files for a command: spec.read's one reading, wired to the run's output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.load import SpecDocument


def read_specs(
    files: Sequence[str], env: Mapping[str, str], out: Output, *, partial: bool = False,
    compare_only: bool = False, allow_loopback_urls: bool = False,
) -> list[SpecDocument]:
    """`env` is what ${VAR} sees (`State.spec_environment`). The secrets the files hold
    join the run's secrets (never printed); warnings go to stderr."""
    from agentctl.spec.read import read_specs as read

    return read(files, env, stdin=out.stdin, on_secrets=out.secrets.add_all, warn=out.warn,
                partial=partial, compare_only=compare_only,
                allow_loopback_urls=allow_loopback_urls)
