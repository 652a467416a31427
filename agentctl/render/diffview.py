"""The change list of update/diff as readable text: field paths, old -> new, line diffs."""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from agentctl.record import MISSING, format_path, mask_value

if TYPE_CHECKING:
    from agentctl.spec.plan import Change

# (style, text): style is "add", "remove", "change" or "" for context.
Line = tuple[str, str]


def _show(value: Any) -> str:
    if isinstance(value, str) and "\n" not in value:
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _yaml_lines(value: Any) -> list[str]:
    from agentctl.render.output import to_yaml

    return to_yaml(value).rstrip("\n").splitlines()


def diff_lines(changes: list[Change]) -> list[Line]:
    lines: list[Line] = []
    for change in changes:
        where = format_path(change.path)
        old = mask_value(change.path, change.old)
        new = mask_value(change.path, change.new)
        if change.kind == "add" and isinstance(new, dict | list):
            lines.append(("add", f"+ {where}:"))
            lines.extend(("add", f"    + {line}") for line in _yaml_lines(new))
        elif change.kind == "add":
            lines.append(("add", f"+ {where}: {_show(new)}"))
        elif change.kind == "remove":
            label = f" ({old.get('name')})" if isinstance(old, dict) and old.get("name") else ""
            lines.append(("remove", f"- {where}{label}: removed"))
        elif _multiline(old) or _multiline(new) or isinstance(new, dict | list):
            lines.append(("change", f"~ {where}:"))
            before = old.splitlines() if isinstance(old, str) else _yaml_lines(old)
            after = new.splitlines() if isinstance(new, str) else _yaml_lines(new)
            for line in difflib.unified_diff(before, after, lineterm="", n=2):
                if line.startswith(("---", "+++")):
                    continue
                if line.startswith("@@"):
                    lines.append(("", f"    {line}"))
                elif line.startswith("+"):
                    lines.append(("add", f"    {line}"))
                elif line.startswith("-"):
                    lines.append(("remove", f"    {line}"))
                else:
                    lines.append(("", f"    {line}"))
        else:
            lines.append(("change", f"~ {where}: {_show(old)} -> {_show(new)}"))
    return lines


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > 80) and value is not MISSING


STYLES = {"add": "green", "remove": "red", "change": "yellow", "": "dim"}
