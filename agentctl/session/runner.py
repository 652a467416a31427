"""A live session from start to end: bind, stream audio, answer tools, resume, report.

Threads: the caller's thread receives and handles events (so Ctrl-C lands there and the
session can be ended cleanly); one thread streams the input audio at the pace of speech
(`speed` times faster for tests); one short-lived thread per client tool call. A dropped
socket is reopened and `session.resume`d inside the service's window; the audio thread
waits meanwhile and continues where it was.

Losing the connection, counted two ways (the report has both):
- before the first `session.ready` there is no session to resume: the socket is replaced
  and `session.update` sent again ("reconnected before ready"; the service may keep the
  half-made session until its window ends, and it is never resumed);
- after it, each new socket sends `session.resume` ("a resume attempt"); an attempt whose
  socket dies before its `session.ready` is retried, so one outage is one resume (one
  marker in the transcript) however many attempts it took. The service counts every
  `session.resume` it received, so its count is the attempts, not the resumes.

A `session.error` after which the service closes (`protocol.TERMINAL_CODES`, or a close
with 1008) ends the session with that error, mapped to an exit code
(`error_for_session_error`); nothing is resumed. A retryable `reply.error` is retried once
with `reply.create` (sent when that reply is done). Telephony sessions (`audio/pcmu`,
`audio/pcma`) are encoded and decoded here: the source and sink speak PCM16.

The runner prints nothing: everything goes to the `Listener` (events, warnings), so it
can be driven as a library (`agentctl test` does).

On a resume the service sends what it produced meanwhile (the rest of a reply, a tool
call), so the reply state is kept across the drop. Audio is never sent twice: a chunk
goes again on the new socket only if its send failed; a chunk the old socket accepted in
the instant it died is lost, as the protocol acknowledges nothing.
"""

from __future__ import annotations

import base64
import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentctl import g711
from agentctl import protocol as P
from agentctl.errors import (
    AgentctlError,
    AuthError,
    NotFoundError,
    RejectedError,
    UnavailableError,
    UsageError,
)
from agentctl.session import events as ev
from agentctl.session.audio import AudioSink, AudioSource
from agentctl.session.report import build_report
from agentctl.session.tools import ToolAnswer
from agentctl.session.ws import Closed, Socket

RESUME_WINDOW = P.RESUME_WINDOW
RESUME_MARGIN = 1.0  # give up this long before the window closes
END_WAIT = 3.0  # how long to wait for session.ended after session.end
GREETING_WAIT = 30.0  # a file's audio starts after the greeting, or after this long
RESUME_QUIET = 2.0  # after a resume, a greeting that sends nothing this long is over
# With a finite input, --until replies gives up this long after the input (and its
# trailing silence) went out without any speech heard: divided by --speed, at least 1 s.
NO_SPEECH_GRACE = 2.0
NO_SPEECH_GRACE_MIN = 1.0
# The same, once speech was heard: the input is over and nothing is pending (no reply in
# progress, no turn waiting for its reply, no tool call in its timeout), and the service
# has said nothing for this long: what --until waits for will not come.
QUIET_GRACE = 2.0
DEFAULT_TOOL_TIMEOUT = 120.0  # the service's default timeout_seconds
POLL = 0.5


@dataclass(frozen=True)
class Until:
    """When a session is over: `none` (Ctrl-C or the service), the greeting, N replies,
    or the session timeout."""

    kind: str = "none"
    count: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Until:
        if text is None or text == "none":
            return cls("none")
        value = text.strip().lower()
        if value == "reply":
            return cls("replies", 1)
        if value in ("greeting", "timeout"):
            return cls(value)
        match = re.fullmatch(r"(\d+)-repl(?:y|ies)", value)
        if match and int(match.group(1)) > 0:
            return cls("replies", int(match.group(1)))
        raise UsageError(f"--until {text!r}: expected reply, greeting, N-replies or timeout",
                         hint="e.g. --until reply, --until 2-replies")

    def describe(self) -> str:
        if self.kind == "replies":
            return "a reply" if self.count == 1 else f"{self.count} replies"
        return {"greeting": "the greeting", "timeout": "the timeout"}.get(self.kind, "the end")


@dataclass
class SessionPlan:
    url: str
    api_key: str
    session: dict[str, Any]  # the session.update's `session`
    has_greeting: bool = False
    input_rate: int = 24000
    output_rate: int = 24000
    input_encoding: str = P.PCM  # audio/pcmu and audio/pcma are converted here
    output_encoding: str = P.PCM
    source: AudioSource | None = None
    sink: AudioSink | None = None
    until: Until = field(default_factory=Until)
    timeout: float | None = None  # the whole session, seconds
    tools: dict[str, ToolAnswer] = field(default_factory=dict)
    tool_timeout: float = 10.0
    speed: float = 1.0
    chunk_ms: int = 100
    trailing_silence_ms: int = 2000
    resume_window: float = RESUME_WINDOW
    open_timeout: float = 10.0
    ca_cert: str | None = None  # certificates to trust for wss (--ca-cert)
    keep_audio: bool = False
    # Set from anywhere to end the session (politely, as after --until): `agentctl test`
    # ends a conversation when its turns are over.
    stop: threading.Event | None = None


class Listener(Protocol):
    def event(self, event: dict[str, Any]) -> None: ...

    def warn(self, text: str) -> None: ...


@dataclass
class SessionResult:
    session_id: str | None
    outcome: str  # done, timeout, interrupted, ended, no_speech, quiet
    reply_audio: bytes
    report: dict[str, Any]


# session.error codes -> the contract's exit codes (docs/live-sessions.md lists them);
# a code not named here (the catalogue may grow) is a refusal, exit 6.
SESSION_ERROR_CLASSES: dict[str, type[AgentctlError]] = {
    P.UNAUTHORIZED: AuthError,  # 4
    P.SESSION_FORBIDDEN: AuthError,
    P.AGENT_NOT_FOUND: NotFoundError,  # 5
    P.SESSION_NOT_FOUND: UnavailableError,  # 7: the session is gone, start a new one
    P.SESSION_EXPIRED: UnavailableError,
    P.AT_CAPACITY: UnavailableError,
    P.CONCURRENCY_EXCEEDED: UnavailableError,
    P.INTERNAL_ERROR: UnavailableError,
}
SESSION_ERROR_HINTS = {
    P.UNAUTHORIZED: "check the key: --api-key, $ASSEMBLYAI_API_KEY or the profile's key",
    P.AGENT_NOT_FOUND: "see: agentctl list",
    P.AUDIO_RATE_VIOLATION: "stream at the pace of speech (--speed 1)",
    P.CONCURRENCY_EXCEEDED: "end another session, or retry later",
    P.AT_CAPACITY: "retry later",
}


def error_for_session_error(event: dict[str, Any], what: str) -> AgentctlError:
    """A `session.error` -> the agentctl error (exit code) with the service's message."""
    code = str(event.get("code") or "error")
    message = str(event.get("message") or code)
    param = event.get("param")
    where = f" [{param}]" if isinstance(param, str) and param and param not in message else ""
    cls = SESSION_ERROR_CLASSES.get(code, RejectedError)
    return cls(f"{what}: {message}{where} ({code})", hint=SESSION_ERROR_HINTS.get(code))


def _refused(event: dict[str, Any]) -> AgentctlError:
    """A `session.error` before `session.ready`."""
    what = ("connect: refused by the service" if event.get("code") == P.UNAUTHORIZED
            else "connect: session.update rejected")
    return error_for_session_error(event, what)


class LiveSession:
    def __init__(
        self,
        plan: SessionPlan,
        listener: Listener,
        *,
        opener: Callable[..., Socket] = Socket.open,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plan = plan
        self.listener = listener
        self._opener = opener
        self._clock = clock
        self._t0 = clock()
        self._cond = threading.Condition()  # guards _sock/_generation; wakes the sender
        self._sock: Socket | None = None
        self._generation = 0
        self._stop = threading.Event()
        self._state = threading.Lock()  # reply_active and the results held back
        self._reply_active = False
        self._held_results: list[dict[str, Any]] = []
        self._emit = threading.Lock()  # one writer to the listener at a time
        self.session_id: str | None = None
        self.config: dict[str, Any] | None = None  # the service's echo (session.ready)
        self._fatal: dict[str, Any] | None = None  # a terminal session.error
        self.records: list[tuple[float, dict[str, Any]]] = []
        self.audio = bytearray()
        self.audio_sent = 0
        self.audio_received = 0
        self.resumes = 0  # outages survived: session.ready on a resumed socket
        self.resume_attempts = 0  # session.resume sent
        self.connections_lost = 0  # sockets lost after the first session.ready
        self.reconnects = 0  # sockets lost before it, replaced with a fresh session.update
        self.ended = False
        self.input_done = threading.Event()
        self._input_sent_at: float | None = None  # all the input and its trailing silence
        self._resumed_at: float | None = None
        self._last_event_at = self._t0
        self._greeting_over = threading.Event()
        self._speech_seen = False
        self._greeting_replies: set[str] = set()
        self._greeting_done = False
        self._current_reply: str | None = None
        self._current_spoken = False  # the reply in progress said something
        self._current_aside = False  # ... or it only called a tool, or it failed
        self._replies_done = 0  # spoken replies, the greeting aside
        self._turns_waiting = 0  # user turns heard whose reply has not started
        self._retry_after: str | None = None  # a failed reply to retry once it is done
        self._retry_reply = False  # the next reply.started is that retry
        self._retried: set[str] = set()
        self._tools_running = 0
        self._unanswered_until: list[float] = []  # when each unanswered call's wait ends
        self.tool_results: list[dict[str, Any]] = []
        self.unanswered: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []
        self._sender: threading.Thread | None = None

    # -- the whole session ------------------------------------------------------------
    def _open(self, timeout: float) -> Socket:
        return self._opener(self.plan.url, self.plan.api_key, timeout=timeout,
                            ca_cert=self.plan.ca_cert)

    def run(self) -> SessionResult:
        self._t0 = self._clock()
        self._install(self._open(self.plan.open_timeout))
        outcome = "interrupted"
        try:
            try:
                self._bind()
                self._start_sender()
                outcome = self._loop()
                if outcome != "ended":
                    self._end_session()
            except KeyboardInterrupt:
                outcome = "interrupted"
                self._end_session()
            except Exception:  # e.g. stdout closed under -o jsonl: still end politely
                with contextlib.suppress(Exception):
                    self._end_session()
                raise
        except KeyboardInterrupt:  # a second Ctrl-C while ending: just close
            outcome = "interrupted"
        finally:
            self._shutdown()
        return SessionResult(self.session_id, outcome, bytes(self.audio), self.report(outcome))

    def report(self, outcome: str) -> dict[str, Any]:
        out_rate, in_rate = self.plan.output_rate, self.plan.input_rate
        return build_report(
            self.records,
            session_id=self.session_id,
            duration=self._clock() - self._t0,
            greeting_replies=self._greeting_replies,
            replies=self._replies_done,
            resumes=self.resumes,
            resume_attempts=self.resume_attempts,
            connections_lost=self.connections_lost,
            reconnects=self.reconnects,
            audio_sent_s=self.audio_sent / 2 / in_rate,
            audio_received_s=self.audio_received / 2 / out_rate,
            tool_results=self.tool_results,
            unanswered=self.unanswered,
            outcome=outcome,
        )

    def _shutdown(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(2.0)
        sock = self._sock
        if sock is not None:
            sock.close()

    # -- sockets ----------------------------------------------------------------------
    def _install(self, sock: Socket) -> None:
        with self._cond:
            self._sock = sock
            self._generation += 1
            self._cond.notify_all()

    def _send(self, event: dict[str, Any]) -> None:
        sock = self._sock
        if sock is None:
            raise Closed(None, "not connected")
        sock.send(event)

    def _recv(self, timeout: float | None) -> dict[str, Any] | None:
        sock = self._sock
        if sock is None:
            raise Closed(None, "not connected")
        return sock.recv(timeout)

    def _bind(self) -> None:
        """`session.update` until `session.ready`. A socket lost before that is replaced
        and the update sent again: nothing was established yet, so nothing is lost."""
        lost_at: float | None = None
        delay = 0.05
        while True:
            try:
                self._send({"type": ev.SESSION_UPDATE, "session": self.plan.session})
                self._await_ready()
                return
            except Closed as exc:
                self._raise_refusal(exc)
                now = self._clock()
                lost_at = now if lost_at is None else lost_at
                if now - lost_at > self.plan.resume_window - RESUME_MARGIN:
                    raise UnavailableError(
                        f"connect: the service keeps closing the connection before "
                        f"session.ready ({exc})", hint="retry later") from None
                # No session id yet: nothing to resume, so this is a fresh start.
                self.reconnects += 1
                self._warn(f"the connection dropped before session.ready ({exc}); "
                           "connecting again")
            while True:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                try:
                    sock = self._open(self.plan.open_timeout)
                except UnavailableError:
                    if self._clock() - lost_at > self.plan.resume_window - RESUME_MARGIN:
                        raise
                    continue
                old = self._sock
                if old is not None:
                    old.close()
                self._install(sock)
                break

    def _raise_refusal(self, exc: Closed) -> None:
        """A socket closed before session.ready because the service refused it (in-band:
        a `session.error` then close 1008): raise that refusal instead of reconnecting."""
        refusal = None
        with contextlib.suppress(Closed):  # what arrived before the close, then Closed
            while (event := self._recv(POLL)) is not None:
                self._handle(event)
                if event.get("type") == ev.SESSION_ERROR:
                    refusal = event
                    break
        if refusal is not None:
            raise _refused(refusal)
        if exc.code == P.CLOSE_POLICY and exc.reason in P.ERROR_CODES:
            # The error event itself can be lost when the service closes at once (the
            # close frame survives it); its close reason names the code.
            raise _refused({"code": exc.reason, "message": "the service closed the "
                            f"connection ({exc.code})"})
        if exc.code == P.CLOSE_POLICY:
            raise RejectedError(f"connect: the service closed the connection ({exc.code}"
                                f"{': ' + exc.reason if exc.reason else ''})")

    def _await_ready(self) -> None:
        deadline = self._clock() + max(self.plan.open_timeout, 1.0)
        while self.session_id is None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise UnavailableError("connect: no session.ready from the service in time",
                                       hint="raise --timeout, or retry later")
            event = self._recv(min(remaining, POLL))  # Closed: _bind tries again
            if event is None:
                continue
            self._handle(event)
            if event.get("type") == ev.SESSION_ERROR:
                raise _refused(event)

    def _loop(self) -> str:
        deadline = None if self.plan.timeout is None else self._t0 + self.plan.timeout
        while True:
            if self._satisfied():
                return "done"
            if self.ended:
                return "ended"
            if self._no_speech_heard():
                return "no_speech"
            if self._gone_quiet():
                return "quiet"
            now = self._clock()
            if deadline is not None and now >= deadline:
                return "timeout"
            wait = POLL if deadline is None else max(0.0, min(POLL, deadline - now))
            try:
                event = self._recv(wait)
            except Closed as exc:
                if self.ended:  # the service ended the session and closed: no loss
                    return "ended"
                if self._fatal is not None:
                    raise error_for_session_error(self._fatal, "connect: the service ended "
                                                  "the session") from None
                if exc.code == P.CLOSE_POLICY and exc.reason in P.ERROR_CODES:
                    # The error event was lost to the close; its reason names the code.
                    raise error_for_session_error(
                        {"code": exc.reason, "message": "the service closed the session "
                         f"({exc.code})"}, "connect: the service ended the session") from None
                if exc.code == P.CLOSE_POLICY:
                    raise RejectedError("connect: the service closed the session "
                                        f"({exc.code}{': ' + exc.reason if exc.reason else ''})"
                                        ) from None
                self.connections_lost += 1
                self._resume()
                continue
            if event is not None:
                self._handle(event)

    def _no_speech_heard(self) -> bool:
        """A finite input is all sent, and a short grace later no speech was heard, so
        --until replies cannot happen (the agent answers speech only)."""
        if self.plan.until.kind != "replies" or self._speech_seen:
            return False
        if self._input_sent_at is None:
            return False
        grace = max(NO_SPEECH_GRACE_MIN, NO_SPEECH_GRACE / self.plan.speed)
        since = max(self._input_sent_at, self._resumed_at or 0.0)  # a resume restarts it
        return self._clock() - since >= grace

    def _gone_quiet(self) -> bool:
        """Speech was heard, the input is all sent, nothing is pending and the service has
        been silent for QUIET_GRACE (divided by --speed, at least 1 s): --until cannot
        happen any more (issue: waiting out the whole timeout for a reply that will not
        come)."""
        if self.plan.until.kind != "replies" or not self._speech_seen:
            return False
        if self._input_sent_at is None:
            return False
        now = self._clock()
        with self._state:
            busy = self._reply_active or bool(self._held_results)
        if busy or self._turns_waiting or self._tools_running or self._retry_after:
            return False
        if any(now < end for end in self._unanswered_until):
            return False
        grace = max(NO_SPEECH_GRACE_MIN, QUIET_GRACE / self.plan.speed)
        since = max(self._input_sent_at, self._last_event_at, self._resumed_at or 0.0)
        return now - since >= grace

    def _satisfied(self) -> bool:
        if self.plan.stop is not None and self.plan.stop.is_set():
            return True
        until = self.plan.until
        if until.kind == "greeting":
            return self._greeting_done
        if until.kind == "replies":
            return self._replies_done >= until.count
        return False

    def _end_session(self) -> None:
        """`session.end`, then wait a little for `session.ended`; the socket closes after.

        The input audio stops first: nothing follows `session.end`, and audio still
        arriving after the service closed its end would make it reset the connection,
        which can wipe `session.ended` before it is read.
        """
        self._stop_sender()
        if self.session_id is None or self.ended:
            return
        try:
            self._send({"type": ev.SESSION_END})
        except Closed:
            return
        deadline = self._clock() + END_WAIT
        while not self.ended:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            try:
                event = self._recv(min(remaining, POLL))
            except Closed:
                self.connections_lost += 1
                return
            if event is not None:
                self._handle(event)

    def _resume(self) -> None:
        """Reopen and `session.resume` before the service forgets the session."""
        lost_at = self._clock()
        old = self._sock
        with self._cond:
            self._sock = None
        if old is not None:
            old.close()
        if self.session_id is None:
            raise UnavailableError("connect: the connection dropped before session.ready")
        window = self.plan.resume_window
        deadline = lost_at + max(window - RESUME_MARGIN, window / 2)
        delay = 0.05
        problem = "no answer"
        attempts = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise UnavailableError(
                    f"the connection dropped and session {self.session_id} could not be "
                    f"resumed within {window:g} s ({problem})",
                    hint="check the network; the session is gone, start a new one",
                )
            try:
                sock = self._open(min(self.plan.open_timeout, remaining))
            except (UnavailableError, RejectedError) as exc:
                problem = exc.message
                time.sleep(min(delay, max(remaining, 0)))
                delay = min(delay * 2, 2.0)
                continue
            attempts += 1
            self.resume_attempts += 1
            ready = self._resume_on(sock, deadline)
            if ready is None:
                sock.close()
                self.connections_lost += 1  # this attempt's socket died before ready
                problem = "the new connection closed too"
                time.sleep(min(delay, max(deadline - self._clock(), 0)))
                delay = min(delay * 2, 2.0)
                continue
            if ready.get("type") == ev.SESSION_ERROR:
                sock.close()
                raise error_for_session_error(
                    ready, f"the connection dropped and session {self.session_id} could not "
                    "be resumed")
            break
        # The reply in progress stays in progress: the service sends the rest of it (and
        # whatever else it said meanwhile) after session.ready.
        held: list[dict[str, Any]] = []
        with self._state:
            if not self._reply_active:
                held, self._held_results = self._held_results, []
        self._install(sock)
        self.resumes += 1
        self._resumed_at = self._clock()
        self._dispatch({"type": ev.CLIENT_RESUMED, "session_id": self.session_id,
                        "after_ms": round((self._clock() - lost_at) * 1000),
                        "attempts": attempts})
        for result in held:
            self._submit_result(result)

    def _resume_on(self, sock: Socket, deadline: float) -> dict[str, Any] | None:
        """session.resume on a fresh socket -> session.ready / session.error, None if gone."""
        try:
            sock.send({"type": ev.SESSION_RESUME, "session_id": self.session_id})
            while self._clock() < deadline:
                event = sock.recv(min(POLL, max(deadline - self._clock(), 0.01)))
                if event is None:
                    continue
                kind = event.get("type")
                if kind == ev.SESSION_READY:
                    self._record(event)
                    self._dispatch(event)
                    return event
                if kind == ev.SESSION_ERROR:
                    self._record(event)
                    self._dispatch(event)
                    return event
                self._handle(event)
        except Closed:
            return None
        return None

    # -- events -----------------------------------------------------------------------
    def _record(self, event: dict[str, Any]) -> None:
        self.records.append((self._clock() - self._t0, ev.summarize(event)))

    def _dispatch(self, event: dict[str, Any]) -> None:
        with self._emit:
            self.listener.event(event)

    def _warn(self, text: str) -> None:
        with self._emit:
            self.listener.warn(text)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self._last_event_at = self._clock()
        self._record(event)
        self._dispatch(event)
        if kind == ev.REPLY_AUDIO:
            pcm = g711.decode(ev.decode_audio(event), self.plan.output_encoding)
            self._current_spoken = True
            self.audio_received += len(pcm)
            if self.plan.keep_audio:
                self.audio.extend(pcm)
            if self.plan.sink is not None:
                self.plan.sink.play(pcm)
        elif kind == ev.SESSION_READY:
            if self.session_id is None:
                self.session_id = str(event.get("session_id") or "")
            if isinstance(event.get("config"), dict):
                self.config = event["config"]
        elif kind == ev.SPEECH_STARTED:
            self._speech_seen = True
            self._greeting_over.set()
            if self.plan.sink is not None:
                self.plan.sink.clear()  # the user barged in: stop talking over them
        elif kind == ev.SPEECH_STOPPED:
            self._speech_seen = True  # a service that skips speech.started heard it too
            self._turns_waiting += 1
        elif kind in (ev.USER_DELTA, ev.USER_FINAL):
            self._speech_seen = True
        elif kind == ev.REPLY_STARTED:
            self._reply_started(str(event.get("reply_id")))
        elif kind == ev.AGENT_FINAL:
            if event.get("text"):
                self._current_spoken = True
        elif kind == ev.REPLY_ERROR:
            self._reply_error(event)
        elif kind == ev.REPLY_DONE:
            if event.get("status") == P.REPLY_FAILED:
                self._current_aside = True
            self._reply_done()
        elif kind == ev.TOOL_CALL:
            self._tool_call(event)
        elif kind == ev.SESSION_ERROR and self.session_id is not None:
            if event.get("code") in P.TERMINAL_CODES:
                self._fatal = event  # the service closes next: nothing to resume
            else:
                self._warn(f"the service reported an error: {event.get('message')} "
                           f"({event.get('code')})")
        elif kind == ev.SESSION_ENDED:
            self.ended = True

    def _reply_started(self, reply_id: str) -> None:
        self._current_reply = reply_id
        self._current_spoken = False
        self._current_aside = False
        if self.plan.has_greeting and not self._speech_seen and not self._greeting_replies:
            self._greeting_replies.add(reply_id)
        elif self._turns_waiting:
            self._turns_waiting -= 1
        if self._retry_reply:  # this is the retry: it is not retried again
            self._retry_reply = False
            self._retried.add(reply_id)
        with self._state:
            self._reply_active = True

    def _reply_error(self, event: dict[str, Any]) -> None:
        reply_id = str(event.get("reply_id"))
        self._current_aside = True
        retry = bool(event.get("retryable")) and reply_id not in self._retried
        self._warn(f"the agent's reply failed: {event.get('message')} ({event.get('code')})"
                   + ("; retrying once" if retry else ""))
        if retry:
            self._retried.add(reply_id)
            self._retry_after = reply_id  # reply.create once this reply is done

    def _reply_done(self) -> None:
        """A reply is over. It counts for --until unless it only called a tool or failed
        (it said nothing then); the greeting never does."""
        reply = self._current_reply
        if reply in self._greeting_replies:
            self._greeting_done = True
            self._greeting_over.set()
        elif reply is not None and (self._current_spoken or not self._current_aside):
            self._replies_done += 1  # (None: the tail of a reply cut by a drop)
        self._current_reply = None
        with self._state:
            self._reply_active = False
            held, self._held_results = self._held_results, []
        for result in held:
            self._submit_result(result)
        if self._retry_after is not None and self._retry_after == reply:
            self._retry_after = None
            self._retry_reply = True
            with contextlib.suppress(Closed):  # lost with the socket: not retried
                self._send({"type": ev.REPLY_CREATE})

    def _server_tool(self, name: str) -> bool:
        """An HTTP tool: the service calls it itself; its tool.call is a notice."""
        tools = (self.config or {}).get("tools")
        return isinstance(tools, list) and any(
            isinstance(t, dict) and t.get("name") == name and t.get("http") for t in tools)

    def _tool_timeout(self, name: str) -> float:
        for tool in (self.config or {}).get("tools") or []:
            if isinstance(tool, dict) and tool.get("name") == name and isinstance(
                    tool.get("timeout_seconds"), int | float):
                return float(tool["timeout_seconds"])
        return DEFAULT_TOOL_TIMEOUT

    # -- tools ------------------------------------------------------------------------
    def _tool_call(self, event: dict[str, Any]) -> None:
        name = str(event.get("name"))
        call_id = str(event.get("call_id"))
        if self._current_reply is not None and not self._current_spoken:
            self._current_aside = True  # a reply that calls a tool is not an answer
        if self._server_tool(name):
            return
        answer = self.plan.tools.get(name)
        if answer is None:
            self._unanswered_until.append(self._clock() + self._tool_timeout(name))
            self.unanswered.append({"call_id": call_id, "name": name,
                                    "arguments": event.get("arguments")})
            self._warn(f"tool.call {name} ({call_id}) not answered: no --tool {name}=COMMAND "
                       f"or --tool {name}=@FILE")
            return
        arguments = event.get("arguments", event.get("args", {}))  # one docs example: args
        with self._state:
            self._tools_running += 1
        thread = threading.Thread(
            target=self._run_tool, args=(answer, call_id, arguments),
            name=f"agentctl-tool-{call_id}", daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def _run_tool(self, answer: ToolAnswer, call_id: str, arguments: Any) -> None:
        started = self._clock()
        try:
            result, problem = answer.run(arguments, self.plan.tool_timeout)
            self.tool_results.append({
                "call_id": call_id, "name": answer.name, "error": problem,
                "ms": round((self._clock() - started) * 1000),
            })
            if problem:
                self._warn(problem)
            self._submit_result({"type": ev.TOOL_RESULT, "call_id": call_id, "result": result,
                                 "is_error": problem is not None})
        finally:
            with self._state:
                self._tools_running -= 1

    def _submit_result(self, event: dict[str, Any]) -> None:
        """Send now, or once the reply in progress is done (as the service expects)."""
        with self._state:
            if self._reply_active or self._sock is None:
                self._held_results.append(event)
                return
        try:
            self._send(event)
        except Closed:
            with self._state:
                self._held_results.append(event)  # sent again after the resume

    # -- the input audio --------------------------------------------------------------
    def _start_sender(self) -> None:
        if self.plan.source is None:
            self.input_done.set()
            return
        thread = threading.Thread(target=self._stream, name="agentctl-audio-in", daemon=True)
        self._threads.append(thread)
        self._sender = thread
        thread.start()

    def _stop_sender(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._sender is not None and self._sender is not threading.current_thread():
            self._sender.join(1.0)

    def _stream(self) -> None:
        source = self.plan.source
        assert source is not None
        rate = self.plan.input_rate
        chunk = max(2, rate * self.plan.chunk_ms // 1000 * 2)
        paced = not source.realtime
        speed = self.plan.speed
        trailing = bytes(2 * (rate * self.plan.trailing_silence_ms // 1000)) if paced else b""
        start = self._clock()
        sent_s = 0.0
        at_end = False
        try:
            # A recording answers the greeting: let the agent finish it first.
            if source.answers_greeting and self.plan.has_greeting and not self._wait_greeting():
                return
            start = self._clock()
            while not self._stop.is_set():
                if not at_end:
                    data = source.read(chunk)
                    if not data:
                        at_end = True
                        continue
                else:
                    data, trailing = trailing[:chunk], trailing[chunk:]
                    if not data:  # all of it, trailing silence included, went out
                        self._input_sent_at = self._clock() if paced else None
                        break
                if paced:
                    delay = start + sent_s / speed - self._clock()
                    if delay > 0 and self._stop.wait(delay):
                        return
                resumed = self._send_audio(data)
                if resumed is None:
                    return
                if resumed:  # carry on at the pace of speech, not in a burst
                    start = self._clock() - sent_s / speed
                sent_s += len(data) / 2 / rate
                self.audio_sent += len(data)
        except Exception as exc:  # a broken source (stdin closed, device gone)
            self._warn(f"the input audio stopped: {exc}")
        finally:
            self.input_done.set()

    def _wait_greeting(self) -> bool:
        """False if the session is stopping; True once the greeting is over (or late).

        After a resume the service sends the rest of the greeting; one that does not
        (nothing at all for RESUME_QUIET seconds) is taken as over.
        """
        deadline = self._clock() + GREETING_WAIT
        while not self._greeting_over.wait(0.1):
            if self._stop.is_set():
                return False
            now = self._clock()
            if now >= deadline:
                break
            resumed_at = self._resumed_at
            if resumed_at is not None and now - max(resumed_at, self._last_event_at) >= (
                    RESUME_QUIET):
                break
        return not self._stop.is_set()

    def _send_audio(self, pcm: bytes) -> bool | None:
        """True if it went out after a resume, False if at once, None if stopping."""
        data = g711.encode(pcm, self.plan.input_encoding)
        event = {"type": P.INPUT_AUDIO, "audio": base64.b64encode(data).decode("ascii")}
        resumed = False
        while not self._stop.is_set():
            with self._cond:
                sock, generation = self._sock, self._generation
            if sock is not None:
                try:
                    sock.send(event)
                    return resumed
                except Closed:
                    pass
            resumed = True
            with self._cond:
                self._cond.wait_for(
                    lambda g=generation: self._stop.is_set() or (
                        self._generation != g and self._sock is not None),
                    timeout=1.0,
                )
        return None
