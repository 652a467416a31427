"""One agent per name, although the service enforces no unique names.

Two `apply`s (or `create`s) of the same specs started together both see a name missing and
both create it. Convergence is the client's job, by a rule every racer applies alike:

- **The survivor** of a name is its oldest agent: smallest `created_at`, then smallest `id`.
  Every run that looks at the same agents picks the same one.
- **After its creates**, the creator lists the agents of each name it created (`apply`
  reads the list once, after all of its creates). If an older one exists,
  it deletes *its own* agent (never another run's) and takes the survivor as the result,
  updating it to its spec if that differs (`apply`), or reporting the name as taken
  (`create`, exit 6). If its own agent is the oldest, it keeps it: the younger ones are
  their creators' to delete.

Two racers A and B: whichever created second sees the other's (older) agent and deletes its
own; the first either sees only its own or sees both and keeps its own. In no order does a
run delete the survivor, since it only ever deletes its own, younger, agent. This relies
on the service's list showing an agent once its create has answered and on `created_at`
following creation order (both hold for the emulator and the reference's service).

Duplicates left over by an older race, or made with `create --allow-duplicate-name`, are
not touched without being asked: `apply --dedupe` shows them and deletes all but each
name's survivor after a confirmation (`--yes` off a terminal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI

Record = dict[str, Any]


def age_key(agent: Record) -> tuple[str, str]:
    """Oldest first: `created_at` (ISO 8601 UTC sorts as text), then `id`."""
    return (str(agent.get("created_at") or ""), str(agent.get("id") or ""))


def survivor(agents: Iterable[Record]) -> Record:
    """The agent that stands for a name shared by `agents` (not empty)."""
    return min(agents, key=age_key)


@dataclass(frozen=True)
class Settled:
    """The outcome of settling a fresh create: `record` stands for the name; `kept` is
    False when ours was younger than another run's and has been deleted."""

    record: Record
    kept: bool


def settle_create(api: AgentsAPI, record: Record) -> Settled:
    """After creating `record`: keep it if it is the oldest of its name, else delete it
    (it is ours) and return the survivor's full record."""
    from agentctl.errors import NotFoundError

    name, ours = record.get("name"), str(record.get("id"))
    twins = api.find_by_name(name) if isinstance(name, str) else []
    if all(str(a.get("id")) != ours for a in twins):
        twins.append(record)  # a list that lags behind its create still counts ours
    keep = survivor(twins)
    if str(keep.get("id")) == ours:
        return Settled(record, kept=True)
    try:
        kept = api.get_agent(str(keep["id"]))  # before deleting ours: it must still exist
    except NotFoundError:
        return settle_create(api, record)  # deleted meanwhile: look again
    with contextlib.suppress(NotFoundError):  # already gone: nothing of ours is left
        api.delete_agent(ours)
    return Settled(kept, kept=False)


def settle_creates(api: AgentsAPI, records: Sequence[Record]) -> list[Settled]:
    """`settle_create` for many fresh creates (an apply's), reading the list once."""
    from agentctl.errors import NotFoundError

    if not records:
        return []
    by_name: dict[str, list[Record]] = {}
    for item in api.list_agents():
        by_name.setdefault(str(item.get("name")), []).append(item)
    settled = []
    for record in records:
        ours = str(record.get("id"))
        twins = list(by_name.get(str(record.get("name")), []))
        if all(str(a.get("id")) != ours for a in twins):
            twins.append(record)
        keep = survivor(twins)
        if str(keep.get("id")) == ours:
            settled.append(Settled(record, kept=True))
            continue
        try:
            kept = api.get_agent(str(keep["id"]))
        except NotFoundError:
            settled.append(settle_create(api, record))  # deleted meanwhile: look again
            continue
        with contextlib.suppress(NotFoundError):
            api.delete_agent(ours)
        settled.append(Settled(kept, kept=False))
    return settled


@dataclass(frozen=True)
class Duplicates:
    """A name with several agents: the one `apply --dedupe` keeps and the ones it deletes."""

    name: str
    keep: Record
    extras: list[Record]


def find_duplicates(items: Sequence[Record], names: Iterable[str]) -> list[Duplicates]:
    """For each of `names` held by more than one of `items`: its survivor and the rest."""
    wanted = set(names)
    by_name: dict[str, list[Record]] = {}
    for item in items:
        name = item.get("name")
        if isinstance(name, str) and name in wanted:
            by_name.setdefault(name, []).append(item)
    found = []
    for name in sorted(by_name):
        agents = sorted(by_name[name], key=age_key)
        if len(agents) > 1:
            found.append(Duplicates(name, agents[0], agents[1:]))
    return found


def delete_extras(api: AgentsAPI, duplicates: Sequence[Duplicates]) -> list[str]:
    """Delete every extra agent (one already gone is fine); the ids deleted."""
    from agentctl.errors import NotFoundError

    deleted = []
    for dup in duplicates:
        for extra in dup.extras:
            try:
                api.delete_agent(str(extra["id"]))
            except NotFoundError:
                continue
            deleted.append(str(extra["id"]))
    return deleted
