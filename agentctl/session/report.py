"""The turn report: latencies per turn and totals, from the events as they arrived.

For each user turn: from the end of the user's speech (`input.speech.stopped`) to
`reply.started` and to the first `reply.audio`. The greeting is measured from
`session.ready`. Two measures of each, side by side:
- `*_ms`: the client's own clock at receipt (what a caller experiences, network included);
- `*_ms_service`: the events' own `timestamp`s (the service's clock, no network), where
  the service sent them.

Replies are counted one way everywhere (the report, `--until`): a reply that said
something, the greeting aside; a reply that only called a tool is part of the turn's
answer, not a reply of its own.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from agentctl.session import events as ev


@dataclass
class _Row:
    turn: int | str
    user: str | None = None
    agent: str | None = None
    origin: float | None = None  # speech stopped (or session.ready for the greeting)
    started: float | None = None
    first_audio: float | None = None
    # The same moments by the service's timestamps (None where an event had none).
    origin_ts: float | None = None
    started_ts: float | None = None
    first_audio_ts: float | None = None
    status: str | None = None
    tool_calls: list[str] = field(default_factory=list)

    def ms(self, moment: float | None) -> int | None:
        if moment is None or self.origin is None:
            return None
        return round((moment - self.origin) * 1000)

    def service_ms(self, moment: float | None) -> int | None:
        if moment is None or self.origin_ts is None:
            return None
        return round((moment - self.origin_ts) * 1000)

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "user": self.user,
            "agent": self.agent,
            "reply_started_ms": self.ms(self.started),
            "first_audio_ms": self.ms(self.first_audio),
            "reply_started_ms_service": self.service_ms(self.started_ts),
            "first_audio_ms_service": self.service_ms(self.first_audio_ts),
            "status": self.status,
            "tool_calls": self.tool_calls,
        }


def build_report(
    records: list[tuple[float, dict[str, Any]]],
    *,
    session_id: str | None,
    duration: float,
    greeting_replies: set[str],
    replies: int | None = None,
    resumes: int,
    resume_attempts: int = 0,
    connections_lost: int = 0,
    reconnects: int = 0,
    audio_sent_s: float,
    audio_received_s: float,
    tool_results: list[dict[str, Any]],
    unanswered: list[dict[str, Any]],
    outcome: str,
) -> dict[str, Any]:
    """`records`: (seconds since start, event with audio summarised), in arrival order.

    Connection trouble: `resumes` outages survived with `session.resume` (one transcript
    marker each), `resume_attempts` the `session.resume`s sent (more than `resumes` when
    an attempt's socket died before its `session.ready`), `connections_lost` the sockets
    lost after the first `session.ready`, `reconnects` those lost before it (replaced
    with a fresh `session.update`: nothing to resume yet). `replies`: the spoken replies
    the session counted (for `--until`); by default counted here the same way.
    """
    rows: list[_Row] = []
    waiting: list[_Row] = []  # user turns whose reply has not started
    current: _Row | None = None  # the reply in progress
    ready_at: float | None = None
    ready_ts: float | None = None
    errors = 0
    reply_errors = 0
    greeting = False
    for t, event in records:
        kind = event.get("type")
        ts = event.get("timestamp")
        ts = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None
        if kind == ev.SESSION_READY and ready_at is None:
            ready_at, ready_ts = t, ts
        elif kind == ev.SESSION_ERROR:
            errors += 1
        elif kind == ev.REPLY_ERROR:
            reply_errors += 1
        elif kind == ev.SPEECH_STOPPED:
            row = _Row(turn=sum(1 for r in rows if isinstance(r.turn, int)) + 1, origin=t,
                       origin_ts=ts)
            rows.append(row)
            waiting.append(row)
        elif kind == ev.USER_FINAL:
            target = next((r for r in reversed(rows) if isinstance(r.turn, int)), None)
            if target is not None and target.user is None:
                target.user = str(event.get("text", ""))
        elif kind == ev.REPLY_STARTED:
            if str(event.get("reply_id")) in greeting_replies:
                greeting = True
                current = _Row(turn="greeting", origin=ready_at, started=t,
                               origin_ts=ready_ts, started_ts=ts)
                rows.insert(0, current)
            elif waiting:
                current = waiting.pop(0)
                if current.started is None:  # not the second reply of a tool call's turn
                    current.started, current.started_ts = t, ts
            else:  # asked for with reply.create, or after a resume lost the turn
                current = _Row(turn="-", started=t, started_ts=ts)
                rows.append(current)
        elif kind == ev.REPLY_AUDIO and current is not None and current.first_audio is None:
            current.first_audio, current.first_audio_ts = t, ts
        elif kind == ev.AGENT_FINAL and current is not None:
            current.agent = str(event.get("text", ""))
            if event.get("interrupted"):
                current.status = "interrupted"
        elif kind == ev.REPLY_DONE and current is not None:
            if current.tool_calls and current.agent is None and current.first_audio is None:
                waiting.insert(0, current)  # it called a tool: the answer comes next
            else:
                current.status = str(event.get("status") or current.status or "completed")
            current = None
        elif kind == ev.TOOL_CALL:
            target = current or (waiting[0] if waiting else (rows[-1] if rows else None))
            if target is not None:
                target.tool_calls.append(str(event.get("name")))
    turns = [r.as_dict() for r in rows]
    user_turns = [t for t in turns if isinstance(t["turn"], int)]
    to_audio = [t["first_audio_ms"] for t in user_turns if t["first_audio_ms"] is not None]
    to_start = [t["reply_started_ms"] for t in user_turns if t["reply_started_ms"] is not None]
    to_audio_service = [t["first_audio_ms_service"] for t in user_turns
                        if t["first_audio_ms_service"] is not None]
    answered = [t for t in turns if t["status"] is not None and t["turn"] != "greeting"
                and (t["agent"] or t["first_audio_ms"] is not None)]
    totals = {
        "duration_s": round(duration, 3),
        "user_turns": len(user_turns),
        "greeting": greeting,
        "replies": len(answered) if replies is None else replies,  # the greeting aside
        "interrupted": sum(1 for t in turns if t["status"] == "interrupted"),
        "reply_errors": reply_errors,
        "reply_started_ms_median": _median(to_start),
        "first_audio_ms_median": _median(to_audio),
        "first_audio_ms_max": max(to_audio) if to_audio else None,
        "first_audio_ms_service_median": _median(to_audio_service),
        "audio_sent_s": round(audio_sent_s, 3),
        "audio_received_s": round(audio_received_s, 3),
        "tool_calls": len(tool_results) + len(unanswered),
        "tool_calls_failed": sum(1 for r in tool_results if r.get("error")),
        "tool_calls_unanswered": len(unanswered),
        "resumes": resumes,  # outages survived (one transcript marker each)
        "resume_attempts": resume_attempts,  # session.resume sent (the service counts these)
        "connections_lost": connections_lost,  # after session.ready, attempts' sockets too
        "reconnects_before_ready": reconnects,  # fresh session.update, nothing to resume
        "errors": errors,
    }
    return {
        "type": ev.REPORT,
        "session_id": session_id,
        "outcome": outcome,
        "turns": turns,
        "totals": totals,
        "unanswered_tool_calls": unanswered,
    }


def _median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None
