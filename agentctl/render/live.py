"""A live session on screen: the transcript as it happens, the events as JSON lines, and
the turn report at the end.

- Text mode: `user: ...` / `agent: ...` lines on stdout (the product); on a terminal also
  a status line, rewritten in place: partial transcripts of the user, and live captions of
  the agent (its words as it speaks them, from `transcript.agent.delta`), which the final
  `agent: ...` line then replaces.
- jsonl mode: every event as one JSON line on stdout (audio as `{"bytes": N}`) and the
  report as a last `{"type": "report", ...}` line; the transcript goes to stderr only
  when stderr is a terminal.
- Warnings and the report table go to stderr: the transcript on stdout stays exactly the
  conversation (its timings vary from run to run, the transcript need not).
"""

from __future__ import annotations

import json
import shutil
from typing import IO, TYPE_CHECKING, Any

from agentctl import protocol as ev
from agentctl.render.output import plain_table
from agentctl.render.redact import escape_json_text, safe_data, safe_text

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.secretset import SecretSet

CLEAR_LINE = "\r\x1b[2K"
MAX_CELL = 48


def json_line(event: dict[str, Any], secrets: SecretSet | None = None) -> str:
    """One event for `-o jsonl`: every field, the audio summarised as `{"bytes": N}`."""
    # JSON's own escaping, plus the controls it leaves raw; secrets scrubbed (render.redact)
    data = safe_data(ev.summarize(event), secrets)
    return escape_json_text(json.dumps(data, ensure_ascii=False, separators=(", ", ": ")))


class TranscriptView:
    def __init__(self, out: Output, *, jsonl: bool, verbose: bool = False) -> None:
        self.out = out
        self.jsonl = jsonl
        self.verbose = verbose
        self.stream: IO[str] = out.stderr if jsonl else out.stdout
        self.show = not jsonl or out.is_tty(out.stderr)
        self.live = self.show and out.is_tty(self.stream)
        self.color = self.live and not out.no_color
        self._status = False
        self._caption: dict[str, str] = {}  # reply_id -> the words said so far
        self._session: str | None = None

    # -- the listener -----------------------------------------------------------------
    def event(self, event: dict[str, Any]) -> None:
        if self.jsonl:
            self.out.stdout.write(json_line(event, self.out.secrets) + "\n")
            self.out.stdout.flush()
        kind = event.get("type")
        if kind == ev.SESSION_READY and event.get("session_id") != self._session:
            self._session = str(event.get("session_id"))
            if self.verbose:
                self.info(f"session {self._session}")
        if not self.show:
            return
        if kind == ev.SPEECH_STARTED:
            self._show_status("(you are speaking)")
        elif kind == ev.USER_DELTA:
            self._show_status(f"user: {event.get('text', '')} …")
        elif kind == ev.USER_FINAL:
            self._line(f"user: {event.get('text', '')}", "cyan")
        elif kind == ev.REPLY_STARTED:
            self._show_status("(agent is speaking)")
        elif kind == ev.AGENT_DELTA:
            reply = str(event.get("reply_id"))
            said = self._caption.get(reply, "") + str(event.get("delta") or "")
            self._caption[reply] = said
            self._show_status(f"agent: {said.strip()} …")
        elif kind == ev.AGENT_FINAL:
            self._caption.pop(str(event.get("reply_id")), None)
            words = [str(event.get("text") or "")]
            if event.get("interrupted"):
                words.append("[interrupted]")
            self._line("agent: " + " ".join(w for w in words if w), "green")
        elif kind == ev.REPLY_ERROR:
            self._line(f"-- the agent's reply failed: {event.get('message')} "
                       f"({event.get('code')}) --", "yellow")
        elif kind == ev.REPLY_DONE:
            self._clear()
        elif kind == ev.TOOL_CALL and self.live:
            self._show_status(f"(tool call: {event.get('name')})")
        elif kind == ev.CLIENT_RESUMED:
            attempts = event.get("attempts")
            tries = f" after {attempts} attempts" if isinstance(attempts, int) and (
                attempts > 1) else ""
            self._line(f"-- connection lost; resumed session {event.get('session_id')}"
                       f"{tries} --", "yellow")

    def warn(self, text: str) -> None:
        self._clear()
        self.out.warn(text)

    def info(self, text: str) -> None:
        self._clear()
        self.out.info(text)

    # -- drawing ----------------------------------------------------------------------
    def _line(self, text: str, style: str | None) -> None:
        self._clear()
        self.out.styled(self.stream, text, style if self.color else None)

    def _show_status(self, text: str) -> None:
        if not self.live:
            return
        text = safe_text(text, self.out.secrets, keep_newlines=False)
        # One line: a longer caption shows its end (the words being spoken).
        width = max(shutil.get_terminal_size((80, 24)).columns - 1, 20)
        if len(text) > width:
            head, _, rest = text.partition(": ")
            text = f"{head}: …{rest[-(width - len(head) - 3):]}"
        shown = text if not self.color else f"\x1b[2m{text}\x1b[0m"
        self.stream.write(CLEAR_LINE + shown)
        self.stream.flush()
        self._status = True

    def _clear(self) -> None:
        if self._status:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self._status = False

    def close(self) -> None:
        self._clear()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value} ms"


def show_report(out: Output, report: dict[str, Any], *, jsonl: bool) -> None:
    """jsonl: the last line on stdout. Otherwise: a table and totals on stderr."""
    if jsonl:
        out.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        out.stdout.flush()
        return
    stream = out.stderr
    rows = [
        [_cell(t["turn"]), _ms(t["reply_started_ms"]), _ms(t["first_audio_ms"]),
         _ms(t.get("first_audio_ms_service")), _cell(t["status"]), _cell(t["user"]),
         _cell(t["agent"])]
        for t in report["turns"]
    ]
    totals = report["totals"]
    stream.write("\n")
    if rows:
        stream.write(plain_table(
            ["TURN", "TO REPLY", "TO AUDIO", "(SERVICE)", "STATUS", "USER", "AGENT"], rows,
            out.secrets))
    replies = totals["replies"]
    parts = [
        f"session {report.get('session_id') or '-'}: {totals['duration_s']:.1f} s",
        f"{totals['user_turns']} user turn(s)",
        f"{replies} repl{'y' if replies == 1 else 'ies'}"
        + (" and the greeting" if totals.get("greeting") else "")
        + f" ({totals['interrupted']} interrupted)",
    ]
    failed = totals.get("reply_errors") or 0
    if failed:
        parts.append(f"{failed} failed repl{'y' if failed == 1 else 'ies'}")
    if totals["first_audio_ms_median"] is not None:
        service = totals.get("first_audio_ms_service_median")
        parts.append(f"first audio median {totals['first_audio_ms_median']} ms,"
                     f" max {totals['first_audio_ms_max']} ms"
                     + (f" ({service} ms by the service's clock)" if service is not None
                        else ""))
    parts.append(f"audio {totals['audio_sent_s']:.1f} s sent,"
                 f" {totals['audio_received_s']:.1f} s received")
    if totals["tool_calls"]:
        parts.append(f"{totals['tool_calls']} tool call(s),"
                     f" {totals['tool_calls_unanswered']} unanswered,"
                     f" {totals['tool_calls_failed']} failed")
    parts.extend(_connection_trouble(totals))
    stream.write(safe_text("; ".join(parts), out.secrets) + "\n")
    for call in report.get("unanswered_tool_calls") or []:
        stream.write(safe_text(
            f"unanswered tool call: {call.get('name')} ({call.get('call_id')})",
            out.secrets) + "\n")
    stream.flush()


def _connection_trouble(totals: dict[str, Any]) -> list[str]:
    """`2 resume(s) (3 attempted)`, `3 connection(s) lost`, `1 reconnect(s) before
    session.ready`: the parts that apply.

    Resumes are the transcript's markers; the service counts attempts (each
    `session.resume` it received); a reconnect before ready started afresh.
    """
    parts = []
    resumes, attempts = totals.get("resumes", 0), totals.get("resume_attempts", 0)
    lost, fresh = totals.get("connections_lost", 0), totals.get("reconnects_before_ready", 0)
    if resumes or attempts:
        extra = f" ({attempts} attempted)" if attempts != resumes else ""
        parts.append(f"{resumes} resume(s){extra}")
    if lost:
        parts.append(f"{lost} connection(s) lost")
    if fresh:
        parts.append(f"{fresh} reconnect(s) before session.ready")
    return parts
