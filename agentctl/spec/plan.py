"""Pure planning: a spec against a server record -> the changes and the update body.

Only fields the spec states are compared (like `kubectl apply`): defaults the service
fills in and read-only fields it adds are not differences. Write-only values (tool
header values, LLM keys) cannot be read back, so they are never reported as changes;
they are sent whenever the part that holds them is sent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from agentctl.spec.rules import MASK, READ_ONLY_FIELDS

Path = tuple[str | int, ...]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


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


def is_write_only(path: Path) -> bool:
    """tools[i].http.headers[j].value and llm[i].api_key."""
    names = tuple(p for p in path if isinstance(p, str))
    return names in (("tools", "http", "headers", "value"), ("llm", "api_key"))


def mask_value(path: Path, value: Any) -> Any:
    """The value as it may be shown: write-only leaves replaced by ***."""
    if value is MISSING:
        return value
    if is_write_only(path):
        return MASK
    if isinstance(value, dict):
        return {k: mask_value((*path, k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value((*path, i), v) for i, v in enumerate(value)]
    return value


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == [] or value == {} or value == ""


def _diff(path: Path, wanted: Any, have: Any) -> list[Change]:
    if is_write_only(path):
        # Unreadable on the server: a header that exists is taken as set.
        return [] if have is not MISSING or _empty(wanted) else [Change(path, have, wanted)]
    if _empty(wanted) and _empty(have):
        return []
    if isinstance(wanted, dict) and isinstance(have, dict):
        changes: list[Change] = []
        for key, value in wanted.items():
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
    wanted_names = [item["name"] for item in wanted]
    changes: list[Change] = []
    for index, item in enumerate(wanted):
        old = have_by_name.get(item["name"])
        if old is None:
            changes.append(Change((*path, index), MISSING, item))
        else:
            changes.extend(_diff((*path, index), item, old))
    for index, item in enumerate(have):
        if item["name"] not in wanted_names:
            changes.append(Change((*path, index), item, MISSING))
    if not changes and [i["name"] for i in have] != wanted_names:
        changes.append(Change(path, [i["name"] for i in have], wanted_names))  # order only
    return changes
