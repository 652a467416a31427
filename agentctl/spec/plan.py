"""Pure planning: a spec against a server record -> the changes and the update body.

Only fields the spec states are compared (like `kubectl apply`): defaults the service
fills in and read-only fields it adds are not differences. Write-only values
(`agentctl.record.WRITE_ONLY_PATHS`) cannot be read back, so they are never reported as
changes; they are sent whenever the part that holds them is sent. A header without a
value keeps the stored one (§7.5); `llm` is sent only when it changed, and then needs its
key (`Plan.missing_keys`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from agentctl.record import (
    HEADER_READ_ONLY,
    MASK,
    MISSING,
    READ_ONLY_FIELDS,
    headers_of,
    is_default,
    is_write_only,
    llm_missing_keys,
    mask_value,
)

__all__ = ["MISSING", "AgentPlan", "Change", "Plan", "mask_value", "plan_agent", "plan_update"]

Path = tuple[str | int, ...]




@dataclass(frozen=True)
class Change:
    path: Path
    old: Any  # MISSING when the server has no value
    new: Any  # MISSING when the spec removes it (a tool dropped from the list)

    @property
    def kind(self) -> str:
        if self.old is MISSING:
            return "add"
        if self.new is MISSING:
            return "remove"
        return "change"


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    body: dict[str, Any]  # the PUT body: only the top-level fields that changed

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def missing_keys(self) -> list[Path]:
        """`llm` entries the body would send without their key (the service needs it)."""
        return llm_missing_keys(self.body)


def plan_update(current: dict[str, Any], spec: dict[str, Any]) -> Plan:
    changes: list[Change] = []
    body: dict[str, Any] = {}
    for key, wanted in spec.items():
        if key in READ_ONLY_FIELDS:
            continue
        found = _diff((key,), wanted, current.get(key, MISSING))
        if found:
            changes.extend(found)
            have = current.get(key)
            body[key] = (
                deep_merge(have, wanted)
                if isinstance(wanted, dict) and isinstance(have, dict)
                else copy.deepcopy(wanted)
            )
    return Plan(changes=changes, body=body)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == [] or value == {} or value == ""


def _read_only_key(path: Path) -> bool:
    """A key the service sets, inside a list item: a tool's `id`, a header's
    `last_set_at`. Found in a spec made from a read; never a difference."""
    if len(path) == 3 and path[0] == "tools" and path[2] == "id":
        return True
    return path[-1] in HEADER_READ_ONLY and len(path) >= 3 and path[-3] == "headers"


def _diff(path: Path, wanted: Any, have: Any) -> list[Change]:
    if is_write_only(path):
        # Unreadable on the server: the header (or llm entry) that holds it exists, so
        # the value is taken as set. Rotating it means sending it: see plan_update.
        return []
    if _read_only_key(path):
        return []
    if _empty(wanted) and _empty(have):
        return []
    if have is MISSING and is_default(path, wanted):
        return []  # the spec states what the service assumes anyway
    if isinstance(wanted, dict) and isinstance(have, dict):
        changes: list[Change] = []
        for key, value in wanted.items():
            if key == "remove" and value is True and path[-2:-1] == ("headers",):
                changes.append(Change(path, have, MISSING))  # a header removed
                continue
            changes.extend(_diff((*path, key), value, have.get(key, MISSING)))
        return changes
    if isinstance(wanted, list) and isinstance(have, list):
        if _named_items(wanted) and _named_items(have):
            return _diff_named(path, wanted, have)
        if len(wanted) == len(have) and all(
            not _diff((*path, i), w, h) for i, (w, h) in enumerate(zip(wanted, have, strict=True))
        ):
            return []
        return [Change(path, have, wanted)]
    if _same_scalar(wanted, have):
        return []
    return [Change(path, have, wanted)]


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _named_items(items: list[Any]) -> bool:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return (
        len(names) == len(items)
        and all(isinstance(n, str) for n in names)
        and len(set(names)) == len(names)
    )


def _diff_named(path: Path, wanted: list[Any], have: list[Any]) -> list[Change]:
    """Lists of named things (tools, headers): matched by name, so a reorder reads well."""
    have_by_name = {item["name"]: item for item in have}
    # A header marked `remove: true` is meant to be gone: not there is no difference.
    wanted_names = [item["name"] for item in wanted if item.get("remove") is not True]
    changes: list[Change] = []
    for index, item in enumerate(wanted):
        old = have_by_name.get(item["name"])
        if old is None and item.get("remove") is True:
            continue
        if old is None:
            changes.append(Change((*path, index), MISSING, item))
        else:
            changes.extend(_diff((*path, index), item, old))
    for index, item in enumerate(have):
        if item["name"] not in wanted_names and item["name"] not in (
            w["name"] for w in wanted
        ):
            changes.append(Change((*path, index), item, MISSING))
    if not changes and [i["name"] for i in have] != wanted_names:
        changes.append(Change(path, [i["name"] for i in have], wanted_names))  # order only
    return changes


# -- many agents at once: diff, apply, promote ---------------------------------------------

ACTIONS = ("create", "update", "unchanged", "delete")


@dataclass(frozen=True)
class AgentPlan:
    """What `diff`/`apply` would do to one agent, matched by name."""

    name: str
    action: str  # one of ACTIONS
    current: dict[str, Any] | None = None  # the server record (None for a create)
    changes: tuple[Change, ...] = ()
    body: dict[str, Any] | None = None  # the POST (create) or PUT (update) body
    where: str = ""  # file:line of the spec, for messages
    spec: dict[str, Any] | None = None  # the whole spec (an update re-creates from it)

    @property
    def id(self) -> str | None:
        value = (self.current or {}).get("id")
        return str(value) if value is not None else None

    @property
    def writes(self) -> bool:
        return self.action != "unchanged"


def llm_keys_missing(plan: AgentPlan | None) -> list[Path]:
    """Where a create or update would send `llm` without its key."""
    if plan is None or plan.body is None or plan.action not in ("create", "update"):
        return []
    return llm_missing_keys(plan.body)


def group_by_name(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Server list items by name, in the server's order."""
    named: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        named.setdefault(str(item.get("name")), []).append(item)
    return named


def ambiguous_names(
    names: list[str], items: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Names that match several agents on the server -> their ids (an error before writing)."""
    named = group_by_name(items)
    return {
        name: [str(i.get("id")) for i in named[name]]
        for name in dict.fromkeys(names)
        if len(named.get(name, [])) > 1
    }


def plan_agent(spec: dict[str, Any], current: dict[str, Any] | None, where: str = "") -> AgentPlan:
    """One spec against its server record (None: not there, so a create)."""
    name = str(spec.get("name"))
    if current is None:
        body = {k: copy.deepcopy(v) for k, v in spec.items() if k not in READ_ONLY_FIELDS}
        return AgentPlan(name, "create", None, tuple(creation_changes(body)), body, where)
    plan = plan_update(current, spec)
    if plan.empty:
        return AgentPlan(name, "unchanged", current, (), None, where)
    body = {k: copy.deepcopy(v) for k, v in spec.items() if k not in READ_ONLY_FIELDS}
    return AgentPlan(name, "update", current, tuple(plan.changes), plan.body, where, body)


def creation_changes(spec: dict[str, Any]) -> list[Change]:
    """A new agent as changes: every field it states, added."""
    return [
        Change((key,), MISSING, value)
        for key, value in spec.items()
        if key not in READ_ONLY_FIELDS and not _empty(value)
    ]


def prune_plans(
    items: list[dict[str, Any]], keep: set[str], prefix: str
) -> list[AgentPlan]:
    """Agents named `prefix*` on the server that no spec names: to be deleted.

    The prefix is required (callers refuse an empty one): it is what keeps one team's
    apply from deleting another team's agents.
    """
    if not prefix:
        raise ValueError("prune needs a name prefix")
    return [
        AgentPlan(str(item.get("name")), "delete", item)
        for item in items
        if str(item.get("name", "")).startswith(prefix) and item.get("name") not in keep
    ]


def fill_secrets(
    spec: dict[str, Any],
    placeholders: dict[Path, str],
    target: dict[str, Any] | None,
    env: dict[str, str] | Any,
) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
    """Give each write-only placeholder of an exported spec a value for `promote`.

    A header `${VAR}`: when the target agent already has that header (tools matched by
    name, pre-connect requests by list position, the header name without case, as the
    service does) the value is left out, so the name alone keeps the stored one (§7.5);
    else the variable from `env`; else it is missing. An llm key: the variable from `env`,
    else left out (the key is needed only if `llm` is sent: `Plan.missing_keys`).
    Returns the filled spec and the missing (path, variable) pairs.
    """
    filled = copy.deepcopy(spec)
    missing: list[tuple[Path, str]] = []
    for path, variable in placeholders.items():
        if path[0] != "llm" and _target_has(target, filled, path):
            _drop(filled, path)
        elif env.get(variable) is not None:
            _set(filled, path, env[variable])
        elif path[0] == "llm":
            _drop(filled, path)
        else:
            missing.append((path, variable))
    return filled, missing


def _target_has(target: dict[str, Any] | None, spec: dict[str, Any], path: Path) -> bool:
    """Whether the target holds the header at `path` (tools[i]... or
    pre_connect_requests[i]...), so naming it alone keeps its value."""
    if not target or len(path) != 6:
        return False
    section, i, _, _, j, _ = path
    item = spec[section][i]
    header = item["http"]["headers"][j]
    have_items = target.get(section) or []
    if section == "tools":
        candidates = [t for t in have_items if isinstance(t, dict)
                      and t.get("name") == item.get("name")]
    else:  # pre-connect secrets are kept by list position
        candidates = [have_items[i]] if isinstance(i, int) and i < len(have_items) else []
    for have in candidates:
        http = have.get("http") if isinstance(have, dict) else None
        headers = http.get("headers") if isinstance(http, dict) else None
        if any(isinstance(h, dict) and isinstance(h.get("name"), str)
               and h["name"].lower() == str(header.get("name", "")).lower()
               for h in headers or []):
            return True
    return False


def _set(data: Any, path: Path, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _drop(data: Any, path: Path) -> None:
    for part in path[:-1]:
        data = data[part]
    data.pop(path[-1], None)


def secrets_a_create_lacks(spec: dict[str, Any]) -> list[Path]:
    """Header values a new agent cannot do without: a header named without a value keeps
    the stored one, and a new agent has none. (The read mask "***" as a value is refused
    earlier, by validate.)"""
    found: list[Path] = []
    for path, headers in headers_of(spec):
        for j, header in enumerate(headers):
            if isinstance(header, dict) and "value" not in header and (
                header.get("remove") is not True
            ):
                found.append((*path, j, "value"))
    for path, _value in _mask_values(spec):
        found.append(path)
    return found


def _mask_values(spec: dict[str, Any]) -> list[tuple[Path, Any]]:
    from agentctl.record import write_only_values

    return [(p, v) for p, v in write_only_values(spec) if v == MASK]
