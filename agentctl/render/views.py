"""What tables and summaries show, derived from records (never the other way round)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentctl.render.redact import MASK
from agentctl.render.table import Column

# On a narrow terminal the id is never cut; names shrink (to 12), then UPDATED, CREATED...
# are dropped (render/table.py). 80 columns: NAME (up to 20), ID, CREATED.
LIST_COLUMNS = (
    Column("NAME", cut=True, min_width=12, grow=32), Column("ID"),
    Column("CREATED", drop=2), Column("UPDATED", drop=1),
)
WIDE_COLUMNS = (
    Column("NAME", cut=True, min_width=12, grow=32), Column("ID"),
    Column("VOICE", cut=True, min_width=5, drop=4), Column("TOOLS", drop=5),
    Column("GREETING", cut=True, min_width=10, drop=3),
    Column("CREATED", drop=2), Column("UPDATED", drop=1),
)


def short_time(value: Any) -> str:
    """2026-05-07T12:00:00.123456Z -> 2026-05-07 12:00:00Z (tables only; -o json is exact)."""
    text = str(value or "")
    if "T" in text:
        date, _, rest = text.partition("T")
        return f"{date} {rest[:8]}Z"
    return text


def list_rows(items: Iterable[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (str(a.get("name", "")), str(a.get("id", "")), short_time(a.get("created_at")),
         short_time(a.get("updated_at")))
        for a in items
    ]


def wide_rows(records: Iterable[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for r in records:
        greeting = str(r.get("greeting") or "")
        rows.append((
            str(r.get("name", "")), str(r.get("id", "")), voice_of(r),
            str(len(r.get("tools") or [])),
            greeting if len(greeting) <= 40 else greeting[:39] + "…",
            short_time(r.get("created_at")), short_time(r.get("updated_at")),
        ))
    return rows


def voice_of(record: dict[str, Any]) -> str:
    voice = record.get("voice")
    if isinstance(voice, dict) and voice.get("voice_id"):
        return str(voice["voice_id"])
    output = record.get("output")
    if isinstance(output, dict) and output.get("voice"):
        return str(output["voice"])
    return ""


def _format(fmt: Any) -> str:
    if not isinstance(fmt, dict):
        return "audio/pcm 24000 Hz"
    return f"{fmt.get('encoding', 'audio/pcm')} {fmt.get('sample_rate', 24000)} Hz"


def summary(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The `get` view: (label, value) rows; an empty label continues the row above."""
    rows: list[tuple[str, str]] = [
        ("Name", str(record.get("name", ""))),
        ("ID", str(record.get("id", ""))),
        ("Created", short_time(record.get("created_at"))),
        ("Updated", short_time(record.get("updated_at"))),
        ("Voice", voice_of(record) or "(none)"),
        ("Greeting", str(record.get("greeting") or "(none: the agent listens first)")),
    ]
    prompt = str(record.get("system_prompt") or "")
    prompt_lines = prompt.splitlines() or [""]
    rows.append(("Prompt", prompt_lines[0]))
    rows.extend(("", line) for line in prompt_lines[1:])

    inp = record.get("input") if isinstance(record.get("input"), dict) else {}
    td = inp.get("turn_detection") if isinstance(inp.get("turn_detection"), dict) else {}
    audio_in = _format(inp.get("format"))
    if td:
        parts = []
        if "vad_threshold" in td:
            parts.append(f"vad {td['vad_threshold']}")
        if "min_silence" in td or "max_silence" in td:
            parts.append(f"silence {td.get('min_silence', '?')}-{td.get('max_silence', '?')} ms")
        if "interrupt_response" in td:
            parts.append("barge-in " + ("on" if td["interrupt_response"] else "off"))
        audio_in += "; turn detection: " + ", ".join(parts)
    rows.append(("Audio in", audio_in))
    keyterms = inp.get("keyterms") or []
    if keyterms:
        rows.append(("Keyterms", ", ".join(str(k) for k in keyterms)))
    out = record.get("output") if isinstance(record.get("output"), dict) else {}
    audio_out = _format(out.get("format"))
    if "volume" in out:
        audio_out += f", volume {out['volume']}"
    rows.append(("Audio out", audio_out))

    for entry in record.get("llm") or []:
        if isinstance(entry, dict):
            text = str(entry.get("model", "?"))
            if entry.get("base_url"):
                text += f" via {entry['base_url']}"
            rows.append(("LLM", text))
    if not record.get("llm"):
        rows.append(("LLM", "(managed model)"))

    tools = record.get("tools") or []
    rows.append(("Tools", str(len(tools)) if tools else "(none)"))
    for tool in tools:
        if isinstance(tool, dict):
            rows.append(("", tool_line(tool)))
    return rows


def tool_line(tool: dict[str, Any]) -> str:
    name = str(tool.get("name", "?"))
    http = tool.get("http")
    if isinstance(http, dict):
        text = f"{name}: http {http.get('http_method', 'POST')} {http.get('url', '')}"
        headers = [h for h in http.get("headers") or [] if isinstance(h, dict)]
        if headers:
            text += " (headers: " + ", ".join(f"{h.get('name')}={MASK}" for h in headers) + ")"
    else:
        text = f"{name}: client-side (answered over the WebSocket)"
    extras = []
    if tool.get("execution_mode"):
        extras.append(str(tool["execution_mode"]))
    if tool.get("timeout_seconds") is not None:
        extras.append(f"timeout {tool['timeout_seconds']}s")
    if extras:
        text += " [" + ", ".join(extras) + "]"
    return text
