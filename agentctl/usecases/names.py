"""Agents are matched by name: the checks create, diff and apply make on the names the
spec files give, before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentctl.spec.load import SpecDocument


def check_names(
    docs: Sequence[SpecDocument],
    selector: str | None,
    *,
    hint: str = "agents are matched by name, so each name may appear once",
) -> None:
    """Agents are matched by name: each name once, and inside `selector` when one is given.
    Raises the first problem (RejectedError for a duplicate, SpecError for the selector)."""
    from agentctl.errors import RejectedError

    seen: dict[str, str] = {}
    for doc in docs:
        name = str(doc.data.get("name"))
        if name in seen:
            raise RejectedError(
                f"{doc.where(('name',))}: name: {name!r} is also defined at {seen[name]}",
                hint=hint,
            )
        seen[name] = doc.where(("name",))
        if selector and not name.startswith(selector):
            raise doc.error(("name",), f"{name!r} does not start with the selector "
                            f"{selector!r}", hint="every agent these files manage must "
                            "be named PREFIX...; fix the name or the --selector")
