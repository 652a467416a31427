"""Sessions, numbers, calls, webhooks and built-in tools on screen, per -o mode."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agentctl.render.output import View
from agentctl.render.views import short_time

if TYPE_CHECKING:
    from agentctl.render.output import Output

Record = dict[str, Any]
Row = Callable[[Record], Sequence[str]]


def _text(value: Any) -> str:
    """A cell: '-' for nothing. (Output.lines/table escape control characters.)"""
    if value is None or value == "":
        return "-"
    return str(value)


def duration(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def show_items(out: Output, items: list[Record], columns: Sequence[str], row: Row, *,
               empty: str, name_key: str = "id") -> None:
    """A list: a table for people (`empty` said on stderr when there is nothing, as
    `agentctl list` does), the records for -o json|yaml, ids or names per line."""
    out.records([items], view=View(columns, lambda page: [tuple(row(i)) for i in page]),
                empty=empty, name_key=name_key)


def show_one(out: Output, record: Record, rows: list[tuple[str, str]], *,
             name_key: str = "id") -> None:
    """One record: a summary for people, the record for -o json|yaml."""
    out.record(record, summary=lambda _: rows, name_key=name_key)


# -- sessions ----------------------------------------------------------------------------------

SESSION_COLUMNS = ("ID", "AGENT", "STATUS", "DURATION", "CLOSE REASON", "STARTED")


def session_row(names: dict[str, str]) -> Row:
    def row(s: Record) -> Sequence[str]:
        agent = s.get("agent_id")
        shown = names.get(str(agent), agent) if agent else "(inline)"
        return (_text(s.get("id")), _text(shown), _text(s.get("status")),
                duration(s.get("duration_seconds")), _text(s.get("public_close_reason")),
                short_time(s.get("created_at")))
    return row


def session_summary(s: Record, agent_name: str | None) -> list[tuple[str, str]]:
    agent = s.get("agent_id")
    agent_text = f"{agent_name} ({agent})" if agent_name else _text(agent or "(inline)")
    config = s.get("config") if isinstance(s.get("config"), dict) else {}
    tools = config.get("tools") or []
    kinds = [str(a.get("type")) for a in s.get("artifacts") or [] if isinstance(a, dict)]
    return [
        ("Session", _text(s.get("id"))),
        ("Agent", agent_text),
        ("Status", _text(s.get("status"))),
        ("Started", short_time(s.get("created_at")) or "-"),
        ("Ended", short_time(s.get("ended_at")) or "-"),
        ("Duration", duration(s.get("duration_seconds"))),
        ("Close reason", _text(s.get("public_close_reason"))),
        ("Voice", _text((config.get("output") or {}).get("voice"))),
        ("Tools", ", ".join(_text(t.get("name")) for t in tools if isinstance(t, dict)) or "-"),
        ("Artifacts", ", ".join(kinds) or "none yet (they come when the session completes)"),
    ]


def _clock(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "--:--.-"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def transcript_lines(timeline: Record) -> list[str]:
    """The conversation as text: `MM:SS.s  user: ...`, `agent: ...` (as `connect` prints
    them), tool calls with their results, and how the session ended."""
    lines = []
    for turn in timeline.get("turns") or []:
        if not isinstance(turn, dict):
            continue
        at = _clock(turn.get("started_at_seconds"))
        if turn.get("user_transcript") is not None:
            lines.append(f"{at}  user: {_text(turn['user_transcript'])}")
        for call in turn.get("tool_calls") or []:
            arguments = json.dumps(call.get("arguments"), ensure_ascii=False)
            result = call.get("result")
            tail = f" -> {_text(result)}" if result is not None else " (no result)"
            lines.append(f"{at}  tool: {_text(call.get('name'))}({_text(arguments)}){tail}")
        if turn.get("agent_transcript") is not None:
            words = _text(turn["agent_transcript"])
            if turn.get("interrupted"):
                words += " [interrupted]"
            lines.append(f"{at}  agent: {words}")
    ended = timeline.get("ended")
    if isinstance(ended, dict):
        lines.append(f"{_clock(ended.get('at_seconds'))}  -- ended: {_text(ended.get('reason'))}"
                     f" ({_text(ended.get('public_reason'))}) --")
    return lines


# -- numbers, calls, webhooks, deliveries, built-in tools ----------------------------------------

NUMBER_COLUMNS = ("NUMBER", "TYPE", "AGENT", "COUNTRY", "LABEL", "CREATED")


def number_row(names: dict[str, str]) -> Row:
    def row(n: Record) -> Sequence[str]:
        agent = n.get("agent_id")
        return (_text(n.get("phone_number")), _text(n.get("type")),
                _text(names.get(str(agent), agent) if agent else None),
                _text(n.get("country_code")), _text(n.get("label")),
                short_time(n.get("created_at")))
    return row


def number_summary(n: Record, agent_name: str | None) -> list[tuple[str, str]]:
    agent = n.get("agent_id")
    return [
        ("Number", _text(n.get("phone_number"))),
        ("Id", _text(n.get("id"))),
        ("Type", f"{_text(n.get('type'))} ({_text(n.get('number_type'))})"),
        ("Agent", f"{agent_name} ({agent})" if agent_name else _text(agent or "(none)")),
        ("Country", _text(n.get("country_code"))),
        ("Termination URI", _text(n.get("termination_uri"))),
        ("Label", _text(n.get("label"))),
        ("Created", short_time(n.get("created_at")) or "-"),
    ]


CALL_COLUMNS = ("ID", "STATUS", "DIRECTION", "FROM", "TO", "DURATION", "SESSION", "CREATED")


def call_row(c: Record) -> Sequence[str]:
    return (_text(c.get("id")), _text(c.get("status")), _text(c.get("direction")),
            _text(c.get("from_number")), _text(c.get("to_number")),
            duration(c.get("duration_seconds")), _text(c.get("session_id")),
            short_time(c.get("created_at")))


def call_summary(c: Record) -> list[tuple[str, str]]:
    return [("Call", _text(c.get("id"))), ("Status", _text(c.get("status"))),
            ("Direction", _text(c.get("direction"))), ("From", _text(c.get("from_number"))),
            ("To", _text(c.get("to_number"))), ("Agent", _text(c.get("agent_id"))),
            ("Session", _text(c.get("session_id"))),
            ("Duration", duration(c.get("duration_seconds"))),
            ("Created", short_time(c.get("created_at")) or "-"),
            ("Ended", short_time(c.get("ended_at")) or "-")]


WEBHOOK_COLUMNS = ("ID", "URL", "EVENTS", "AGENT", "ENABLED", "SECRET", "CREATED")


def webhook_row(w: Record) -> Sequence[str]:
    return (_text(w.get("id")), _text(w.get("url")), ",".join(map(str, w.get("events") or [])),
            _text(w.get("agent_id") or "(all)"), "yes" if w.get("enabled") else "no",
            f"v{w.get('secret_version')}", short_time(w.get("created_at")))


DELIVERY_COLUMNS = ("ID", "SUBSCRIPTION", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "CREATED")


def delivery_row(d: Record) -> Sequence[str]:
    return (_text(d.get("id")), _text(d.get("subscription_id")), _text(d.get("status")),
            _text(d.get("attempt_count")), _text(d.get("http_status_code")),
            _text(d.get("error")), short_time(d.get("created_at")))


BUILTIN_COLUMNS = ("NAME", "MODE", "DESCRIPTION")


def builtin_row(t: Record) -> Sequence[str]:
    return (_text(t.get("name")), _text(t.get("execution_mode")), _text(t.get("description")))
