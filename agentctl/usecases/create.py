"""`create`: the checks a create makes before it writes, then one create per document."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
    from agentctl.spec.load import SpecDocument

Record = dict[str, Any]


def create_agents(
    api: AgentsAPI, docs: Sequence[SpecDocument], *, allow_duplicate_name: bool = False,
    on_created: Callable[[Record], None] = lambda record: None,
) -> list[Record]:
    """Create one agent per document; `on_created` hears of each as it lands.

    Unless `allow_duplicate_name`: a name given twice in the files, or already taken on
    the server, is refused before anything is written; and a name another run created at
    the same moment is settled after the write (the older agent stays).
    """
    from agentctl.errors import RejectedError
    from agentctl.usecases.names import check_names

    known: dict[str, list[str]] = {}
    for agent in api.list_agents():
        known.setdefault(str(agent.get("name")), []).append(str(agent.get("id")))
    if not allow_duplicate_name:
        check_names(docs, selector=None,  # the same name twice in the files
                    hint="agent names should be unique; or pass --allow-duplicate-name")
        for doc in docs:
            name = str(doc.data.get("name"))
            if name in known:
                raise RejectedError(
                    f"{doc.where(('name',))}: an agent named {name!r} already exists "
                    f"({', '.join(known[name])})",
                    hint=f"change it with: agentctl update {name!r} -f FILE (or agentctl "
                    "apply), or pass --allow-duplicate-name",
                )
    created = []
    for doc in docs:
        record = api.create_agent(doc.data, known_ids=known.get(str(doc.data.get("name")), []))
        if not allow_duplicate_name:
            _settle_race(api, doc, record)
        created.append(record)
        on_created(record)
    return created


def _settle_race(api: AgentsAPI, doc: SpecDocument, record: Record) -> None:
    """Another run created the same name at the same time: the older agent stays
    (api.converge); if that is the other run's, ours is deleted and the name is taken."""
    from agentctl.api.converge import settle_create
    from agentctl.errors import RejectedError

    settled = settle_create(api, record)
    if not settled.kept:
        name = record.get("name")
        raise RejectedError(
            f"{doc.where(('name',))}: an agent named {name!r} was created by another run at "
            f"the same time ({settled.record.get('id')}); this run's copy ({record.get('id')}) "
            "was deleted",
            hint=f"change it with: agentctl update {name!r} -f FILE (or agentctl apply)",
        )
