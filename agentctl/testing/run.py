"""Running conversation tests: the agent, the caller, the tools, the verdict.

Prints nothing: `run_tests` returns a `TestResult` per test (and hands each to a callback
as it finishes). Each test is one live session with the agent under test, through the
session runner (`agentctl.session.runner`); a simulated caller is a second live session
on the same API, the two joined by `line.Line`/`line.Bridge`.

How a conversation goes:
- recorded turns: the greeting (if the agent has one) is heard out, then each WAV plays
  once the agent's answer to the previous one is done (an answer that called a client
  tool goes on after the tool's result); the session ends after the last answer.
- a simulated caller: the caller's session starts with its opening line as its greeting
  (held until the agent's greeting is over) or, without one, hears the agent's greeting
  and answers it. Each side's audio plays into the other's line. The caller speaks at
  most `max_turns` times, or stops after a line matching `done_when`; the sessions end
  after the agent's answer to the caller's last line.
- no caller: the greeting is heard out and the session ends.

A session the service refuses for capacity (`at_capacity`, `concurrency_exceeded`) is
retried after a wait that grows, for up to `capacity_wait` seconds; other failures to run
a test are errors with the exit code of their kind (7 unavailable, 4 auth, ...).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentctl.errors import AgentctlError, SpecError, UnavailableError, UsageError
from agentctl.session import events as ev
from agentctl.session.inline import (
    audio_encoding,
    audio_rate,
    client_tools,
    inline_session,
    trailing_silence_ms,
)
from agentctl.spec.testfile import AgentRef, TestCase, ToolStub, matches, search
from agentctl.testing.expect import Check, Line, Observed, ToolCall, evaluate
from agentctl.testing.line import Bridge
from agentctl.testing.line import Line as AudioLine

if TYPE_CHECKING:
    from agentctl.session.runner import SessionResult

CAPACITY_CODES = ("at_capacity", "concurrency_exceeded")
REPLY_TIMEOUT = 30.0  # seconds for an answer to start and end, at --speed 1
MIN_REPLY_TIMEOUT = 3.0
TIMEOUT_SLACK = 10.0
CAPACITY_WAIT = 300.0
WATCH_EVERY = 0.05


@dataclass
class Target:
    """The agent under test, ready to connect: its configuration and `session`."""

    label: str
    config: dict[str, Any]
    session: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunOptions:
    url: str  # the WebSocket URL
    api_key: str
    speed: float = 1.0
    open_timeout: float = 10.0
    ca_cert: str | None = None  # certificates to trust for wss (--ca-cert)
    tool_timeout: float = 10.0
    keep_audio: bool = False  # for --save-dir
    capacity_wait: float = CAPACITY_WAIT
    capacity_delay: float = 1.0  # the first wait after a capacity refusal (then doubled)
    reply_timeout: float = REPLY_TIMEOUT
    opener: Callable[..., Any] | None = None  # the session runner's socket opener


@dataclass
class Side:
    """One session of a test as it happened: its events (audio summarised), its audio."""

    events: list[dict[str, Any]] = field(default_factory=list)
    heard: bytes = b""  # what it was sent (PCM16 at in_rate)
    said: bytes = b""  # its reply audio (PCM16 at out_rate)
    in_rate: int = 24000
    out_rate: int = 24000
    session_id: str | None = None
    report: dict[str, Any] | None = None


@dataclass
class TestResult:
    test: TestCase
    status: str  # passed, failed, error
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None
    exit_code: int = 0  # for an error: the exit code of its kind
    duration: float = 0.0
    transcript: list[Line] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    agent: Side = field(default_factory=Side)
    caller: Side | None = None  # a simulated caller's session
    warnings: list[str] = field(default_factory=list)
    attempts: int = 1

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


# -- the agent -------------------------------------------------------------------------------


class Agents:
    """Finds each test's agent once per run: a stored agent through the API (built on
    first use), a spec file loaded and validated offline."""

    def __init__(self, api: Callable[[], Any], env: Any, *, allow_loopback: bool = False,
                 override: AgentRef | None = None) -> None:
        self._api_factory = api
        self._api: Any = None
        self.env = env
        self.allow_loopback = allow_loopback
        self.override = override
        self._cache: dict[tuple[str | None, str | None], Target] = {}
        self._lock = threading.Lock()

    def target(self, test: TestCase) -> Target:
        ref = self.override or test.agent
        if ref.stored is None and ref.spec is None:
            raise UsageError(f"{test.source}:{test.line}: test {test.name!r} names no agent",
                             hint="add agent: NAME or spec: FILE to the test (or the file), "
                             "or pass --agent")
        key = (ref.stored, ref.spec)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._spec(ref) if ref.spec else self._stored(ref)
            return self._cache[key]

    def first_warnings(self, target: Target) -> list[str]:
        """A spec file's warnings, for the first test that uses it only."""
        with self._lock:
            warnings, target.warnings = target.warnings, []
        return warnings

    def _stored(self, ref: AgentRef) -> Target:
        if self._api is None:
            self._api = self._api_factory()
        api = self._api
        record = api.get_agent(str(api.resolve(str(ref.stored))["id"]))
        return Target(f"agent {record.get('name')!r}", record, {"agent_id": record["id"]})

    def _spec(self, ref: AgentRef) -> Target:
        from agentctl.spec.diagnostics import validate_documents
        from agentctl.spec.load import load_specs

        assert ref.spec is not None
        docs = load_specs([ref.spec], env=self.env)
        warnings = [str(w) for w in validate_documents(
            docs, partial=True, allow_loopback_urls=self.allow_loopback)]
        if ref.stored is not None:
            docs = [d for d in docs if d.data.get("name") == ref.stored]
            if len(docs) != 1:
                raise SpecError(f"{ref.spec}: {'no' if not docs else 'more than one'} agent "
                                f"named {ref.stored!r}")
        elif len(docs) != 1:
            raise SpecError(f"{ref.spec}: {len(docs)} agents in the file; name one with "
                            "agent: NAME next to spec:")
        session, more = inline_session(docs[0])
        name = docs[0].data.get("name")
        label = f"{ref.spec}" + (f" ({name})" if name else "")
        return Target(label, docs[0].data, session, warnings + more)


# -- tools -------------------------------------------------------------------------------------


class Answer:
    """A client tool answered by the test (the runner's ToolAnswer interface)."""

    def __init__(self, name: str, stub: ToolStub | None, problems: list[str]) -> None:
        self.name = name
        self.stub = stub
        self.problems = problems

    def run(self, arguments: Any, timeout: float) -> tuple[str, str | None]:
        import json

        stub = self.stub
        problem: str | None = None
        if stub is None:
            problem = f"tool.call {self.name}: the test does not answer it (add it to tools:)"
        elif stub.command is not None:
            from agentctl.session.tools import ToolAnswer

            result, problem = ToolAnswer(self.name, argv=stub.command).run(arguments, timeout)
            if problem is None:
                return result, None
        elif stub.result is not None:
            return stub.result, None
        else:
            for rule in stub.match:
                if rule.arguments is None or matches(rule.arguments, arguments):
                    return rule.result, None
            problem = (f"tool.call {self.name} with {json.dumps(arguments, sort_keys=True)}: "
                       "no match: entry answers these arguments")
        assert problem is not None
        self.problems.append(problem)
        return json.dumps({"error": problem}), problem


def http_tools(config: dict[str, Any]) -> set[str]:
    """Tools the service calls itself: a `tool.call` for one is a notice, never answered."""
    return {str(t.get("name")) for t in config.get("tools") or []
            if isinstance(t, dict) and t.get("http")}


def tool_answers(test: TestCase, config: dict[str, Any],
                 problems: list[str]) -> dict[str, Answer]:
    """An answer for each client tool of the agent and each tool the test answers (a
    model may call a tool it was not given); unanswered ones record why."""
    http = http_tools(config)
    names = [n for n in dict.fromkeys([*client_tools(config), *test.tools]) if n not in http]
    return {name: Answer(name, test.tools.get(name), problems) for name in names}


# -- one session's events ----------------------------------------------------------------------


class Recorder:
    """The runner's listener for one session: keeps its events (audio summarised) and
    hands each to the conversation driver."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.codes: list[str] = []  # session.error codes
        self.on_event = on_event
        self._t0 = time.monotonic()

    def event(self, event: dict[str, Any]) -> None:
        shown = ev.summarize(event)
        self.events.append({"t": round(time.monotonic() - self._t0, 3), **shown})
        if event.get("type") == ev.SESSION_ERROR:
            self.codes.append(str(event.get("code")))
        if self.on_event is not None:
            self.on_event(event)

    def warn(self, text: str) -> None:
        self.warnings.append(text)


class Turns:
    """Follows one session's replies: the greeting, answers, and tool calls between."""

    def __init__(self, client: Sequence[str]) -> None:
        self.client = set(client)
        self.user_turns = 0
        self.calls_in_reply = 0
        self.replies_done = 0

    def answered(self, event: dict[str, Any]) -> bool:
        """Feed an event; True when it ends an answer (a reply.done, no tool call pending)."""
        kind = event.get("type")
        if kind == ev.USER_FINAL:
            self.user_turns += 1
        elif kind == ev.REPLY_STARTED:
            self.calls_in_reply = 0
        elif kind == ev.TOOL_CALL and str(event.get("name")) in self.client:
            self.calls_in_reply += 1
        elif kind == ev.REPLY_DONE:
            if self.calls_in_reply:
                return False  # the answer goes on after the tool's result
            if event.get("status") in ("failed", "cancelled"):
                return False  # the session runner asks for the reply again
            self.replies_done += 1
            return True
        return False


PROGRESS = (ev.SPEECH_STARTED, ev.SPEECH_STOPPED, ev.USER_FINAL, ev.REPLY_STARTED,
            ev.AGENT_FINAL, ev.TOOL_CALL)


class Watch:
    """The conversation's clock: an answer that does not come in time stops the test."""

    def __init__(self, stops: list[threading.Event], limit: float, timeout: float) -> None:
        self.stops = stops
        self.limit = limit
        self.timeout = timeout  # the whole test
        self.timed_out = False
        self.lock = threading.Lock()
        self.waiting_since: float | None = None
        self.waiting_for = ""
        self.problem: str | None = None
        self.finished = False
        self._thread = threading.Thread(target=self._run, name="agentctl-test-watch",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def expect(self, what: str, extra: float = 0.0) -> None:
        with self.lock:
            self.waiting_since = time.monotonic() + extra
            self.waiting_for = what

    def satisfied(self) -> None:
        with self.lock:
            self.waiting_since = None

    def progress(self) -> None:
        """Something happened (speech, a reply): the wait starts over."""
        with self.lock:
            if self.waiting_since is not None:
                self.waiting_since = max(self.waiting_since, time.monotonic())

    def finish(self, problem: str | None = None) -> None:
        with self.lock:
            if problem is not None and self.problem is None:
                self.problem = problem
            self.finished = True
        for stop in self.stops:
            stop.set()

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.finished and not all(s.is_set() for s in self.stops):
            time.sleep(WATCH_EVERY)
            if time.monotonic() >= deadline:
                self.timed_out = True
                self.finish(f"the test timed out after {self.timeout:g} s")
                return
            with self.lock:
                since, what = self.waiting_since, self.waiting_for
            if since is not None and time.monotonic() - since > self.limit:
                self.finish(f"no {what}: nothing happened for {self.limit:g} s")


# -- one test ----------------------------------------------------------------------------------


class Cancelled(Exception):
    pass


class Runner:
    """Runs tests; `cancel()` (Ctrl-C) ends every session in progress politely."""

    def __init__(self, options: RunOptions, agents: Agents) -> None:
        self.options = options
        self.agents = agents
        self._active: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            for stop in self._active:
                stop.set()

    def _stop_event(self) -> threading.Event:
        stop = threading.Event()
        with self._lock:
            self._active.add(stop)
            if self.cancelled.is_set():
                stop.set()
        return stop

    def _release(self, *stops: threading.Event) -> None:
        with self._lock:
            for stop in stops:
                self._active.discard(stop)

    # -- the whole run -------------------------------------------------------------------
    def run_all(self, tests: Sequence[TestCase], concurrency: int = 1,
                on_result: Callable[[TestResult], None] | None = None) -> list[TestResult]:
        results: list[TestResult | None] = [None] * len(tests)

        def one(index: int) -> None:
            result = self.run(tests[index])
            results[index] = result
            if on_result is not None:
                on_result(result)

        if concurrency <= 1 or len(tests) <= 1:
            for i in range(len(tests)):
                if self.cancelled.is_set():
                    break
                one(i)
        else:
            with ThreadPoolExecutor(max_workers=concurrency,
                                    thread_name_prefix="agentctl-test") as pool:
                futures = [pool.submit(one, i) for i in range(len(tests))]
                try:
                    for future in futures:
                        while not future.done():  # a short wait, so Ctrl-C lands here
                            try:
                                future.result(timeout=0.2)
                            except TimeoutError:
                                continue
                except KeyboardInterrupt:  # end the sessions in progress politely
                    self.cancel()
                    for future in futures:
                        future.cancel()
        return [r for r in results if r is not None]

    def run(self, test: TestCase) -> TestResult:
        started = time.monotonic()
        result = TestResult(test, "error")
        try:
            target = self.agents.target(test)
            result.warnings.extend(self.agents.first_warnings(target))
            delay = self.options.capacity_delay
            while True:
                try:
                    self._attempt(test, target, result)
                    break
                except _AtCapacity as exc:
                    waited = time.monotonic() - started
                    if waited + delay > self.options.capacity_wait:
                        raise UnavailableError(
                            f"the service stayed at capacity ({exc.code}) for "
                            f"{waited:.0f} s", hint="lower --concurrency, or retry later"
                            ) from None
                    result.warnings.append(f"the service is at capacity ({exc.code}); "
                                           f"trying again in {delay:g} s")
                    if self.cancelled.wait(delay):
                        raise Cancelled() from None
                    delay = min(delay * 2, 30.0)
                    result.attempts += 1
            result.status = "passed" if all(c.passed for c in result.checks) else "failed"
            if self.cancelled.is_set():
                raise Cancelled()
        except Cancelled:
            result.status, result.error, result.exit_code = "error", "interrupted", 130
        except AgentctlError as exc:
            result.status, result.error = "error", exc.message
            result.hint, result.exit_code = exc.hint, int(exc.exit_code)
        result.duration = time.monotonic() - started
        return result

    def _attempt(self, test: TestCase, target: Target, result: TestResult) -> None:
        if test.caller.persona is not None:
            conversation: _Conversation = _Simulated(self, test, target)
        else:
            conversation = _Recorded(self, test, target)
        conversation.run(result)


class _AtCapacity(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Conversation:
    """What recorded and simulated conversations share: the agent's session, its tools,
    and turning what happened into checks."""

    def __init__(self, runner: Runner, test: TestCase, target: Target) -> None:
        self.runner = runner
        self.options = runner.options
        self.test = test
        self.target = target
        config = target.config
        self.has_greeting = bool(str(config.get("greeting") or "").strip())
        self.in_rate = audio_rate(config, "input")
        self.out_rate = audio_rate(config, "output")
        self.problems: list[str] = []
        self.tools = tool_answers(test, config, self.problems)
        self.turns = Turns(list(self.tools))
        self.agent_stop = runner._stop_event()
        self.line = AudioLine(self.in_rate, speed=self.options.speed,
                              tail_ms=trailing_silence_ms(config),
                              keep=self.options.keep_audio, stop=self.agent_stop)
        self.stops = [self.agent_stop]
        self.agent = Recorder(self.on_agent_event)
        limit = max(MIN_REPLY_TIMEOUT, self.options.reply_timeout / self.options.speed)
        self.watch = Watch(self.stops, limit, test.timeout)

    def plan(self, session: dict[str, Any], *, has_greeting: bool, in_rate: int,
             out_rate: int, source: Any, sink: Any, stop: threading.Event,
             tools: dict[str, Any], config: dict[str, Any] | None = None) -> Any:
        """A session's plan; `config` gives its audio encodings (PCM when None). Sources
        and sinks work in PCM16 at the session's rates: the runner converts G.711."""
        from agentctl.session.runner import SessionPlan

        encodings = {} if config is None else {
            "input_encoding": audio_encoding(config, "input"),
            "output_encoding": audio_encoding(config, "output")}
        return SessionPlan(
            url=self.options.url, api_key=self.options.api_key, session=session,
            has_greeting=has_greeting, input_rate=in_rate, output_rate=out_rate, **encodings,
            # The watch ends a test at its timeout; the session's own is a backstop.
            source=source, sink=sink, timeout=self.test.timeout + TIMEOUT_SLACK, tools=tools,
            tool_timeout=self.options.tool_timeout, speed=self.options.speed,
            open_timeout=self.options.open_timeout, ca_cert=self.options.ca_cert,
            keep_audio=self.options.keep_audio,
            stop=stop)

    def on_agent_event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def session(self, plan: Any, recorder: Recorder) -> SessionResult:
        """One live session to its end; a capacity refusal becomes _AtCapacity."""
        from agentctl.session.runner import LiveSession

        kwargs = {} if self.options.opener is None else {"opener": self.options.opener}
        try:
            return LiveSession(plan, recorder, **kwargs).run()
        except AgentctlError:
            code = next((c for c in recorder.codes if c in CAPACITY_CODES), None)
            if code is not None:
                raise _AtCapacity(code) from None
            raise

    def finish(self, result: TestResult, agent: SessionResult) -> None:
        """The agent session's events -> transcript, tool calls, checks."""
        if agent.outcome == "interrupted":  # Ctrl-C in this thread: stop the whole run
            self.runner.cancel()
        seen = Observed(outcome="timeout" if self.watch.timed_out else agent.outcome)
        turn = 0
        tool_names = {t.name for t in self.tools.values()} | http_tools(self.target.config)
        unanswered = {str(u.get("call_id")) for u in agent.report.get("unanswered_tool_calls",
                                                                         [])}
        for event in self.agent.events:
            kind = event.get("type")
            if kind == ev.USER_FINAL:
                turn += 1
                seen.lines.append(Line("user", turn, str(event.get("text") or "")))
            elif kind == ev.AGENT_FINAL:
                seen.lines.append(Line("agent", turn, str(event.get("text") or ""),
                                       bool(event.get("interrupted"))))
            elif kind == ev.TOOL_CALL:
                arguments = event.get("arguments", event.get("args"))
                call_id = str(event.get("call_id"))
                seen.tool_calls.append(ToolCall(str(event.get("name")), arguments, turn,
                                                call_id not in unanswered))
            elif kind == ev.SESSION_ERROR:
                seen.session_errors.append(event)
            elif kind == ev.SESSION_ENDED:
                seen.ended = True
        seen.user_turns = turn
        report = agent.report
        seen.first_audio_ms = [t["first_audio_ms"] for t in report.get("turns", [])
                               if isinstance(t.get("turn"), int)
                               and t.get("first_audio_ms") is not None]
        seen.unanswered = list(self.problems) + [
            f"tool.call {u.get('name')}: not a client tool of this agent, and the test does "
            "not answer it" for u in report.get("unanswered_tool_calls", [])
            if str(u.get("name")) not in tool_names]
        seen.incomplete = self.incomplete(agent)
        result.checks = evaluate(self.test.expect, seen)
        result.transcript = seen.lines
        result.tool_calls = seen.tool_calls
        result.agent = Side(self.agent.events, bytes(self.line.recorded), agent.reply_audio,
                            self.in_rate, self.out_rate, agent.session_id, report)
        # Unanswered calls are a failed check already; the runner's warning (which speaks
        # of connect's --tool) would only repeat it.
        result.warnings.extend(w for w in self.agent.warnings if w not in self.problems
                               and not (w.startswith("tool.call ") and "not answered" in w))

    def incomplete(self, agent: SessionResult) -> str | None:
        if self.watch.problem is not None:
            return self.watch.problem
        if agent.outcome == "timeout":
            return f"the test timed out after {self.test.timeout:g} s"
        if agent.outcome == "ended":
            return "the service ended the session before the conversation was over"
        if agent.outcome == "interrupted":
            return "interrupted"
        return None


class _Recorded(_Conversation):
    """Recorded turns (or none): each WAV after the agent's answer to the one before."""

    def __init__(self, runner: Runner, test: TestCase, target: Target) -> None:
        super().__init__(runner, test, target)
        self.pcm: list[bytes] = []
        self.next = 0
        self.ready = False

    def run(self, result: TestResult) -> None:
        from agentctl.session.wav import WavError, read_wav

        for path in self.test.caller.turns:
            try:
                self.pcm.append(read_wav(path, self.in_rate))
            except (OSError, WavError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise SpecError(f"{path}: cannot read the recording: {reason}") from None
        plan = self.plan(self.target.session, has_greeting=self.has_greeting,
                         in_rate=self.in_rate, out_rate=self.out_rate, source=self.line,
                         sink=None, stop=self.agent_stop, tools=self.tools,
                         config=self.target.config)
        self.watch.start()
        try:
            agent = self.session(plan, self.agent)
        finally:
            self.watch.finish()
            self.line.close()
            self.runner._release(*self.stops)
        self.finish(result, agent)

    def on_agent_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in PROGRESS:
            self.watch.progress()
        elif kind == ev.SESSION_ENDED:
            self.line.close()
        if kind == ev.SESSION_READY and not self.ready:
            self.ready = True
            if self.has_greeting:
                self.watch.expect("greeting")
            else:
                self._advance()
            return
        if self.turns.answered(event):
            self.watch.satisfied()
            self._advance()

    def _advance(self) -> None:
        if self.next >= len(self.pcm):
            self.watch.finish()
            return
        pcm = self.pcm[self.next]
        self.next += 1
        self.line.push(pcm)
        seconds = len(pcm) / 2 / self.in_rate / self.options.speed
        self.watch.expect(f"answer to turn {self.next}", extra=seconds)


class _Simulated(_Conversation):
    """A simulated caller: a second live session, each side speaking into the other."""

    def __init__(self, runner: Runner, test: TestCase, target: Target) -> None:
        super().__init__(runner, test, target)
        persona = test.caller.persona
        assert persona is not None
        self.persona = persona
        session: dict[str, Any] = {"system_prompt": persona.system_prompt}
        if persona.opening_line:
            session["greeting"] = persona.opening_line
        if persona.voice:
            session["output"] = {"voice": persona.voice}
        self.caller_session = session
        self.caller_rate = 24000  # the caller's own session: the default PCM both ways
        self.caller_stop = runner._stop_event()
        self.caller_line = AudioLine(self.caller_rate, speed=self.options.speed,
                                     stop=self.caller_stop)
        self.stops.append(self.caller_stop)
        self.caller = Recorder(self.on_caller_event)
        self.caller_turns = Turns([])
        # Agent -> caller; with an opening line, the agent's greeting is not for the caller
        # (its opening line answers it).
        self.to_caller = Bridge(self.caller_line, self.out_rate)
        self.to_caller.enabled = not (persona.opening_line and self.has_greeting)
        # Caller -> agent: held back while the agent greets.
        self.to_agent = _HeldBridge(self.line, self.caller_rate, held=self.has_greeting)
        self.spoken = 0  # caller lines said
        self.last_line_said = False
        self.agent_heard_last = False
        self.lock = threading.Lock()

    def run(self, result: TestResult) -> None:
        agent_plan = self.plan(self.target.session, has_greeting=self.has_greeting,
                               in_rate=self.in_rate, out_rate=self.out_rate,
                               source=self.line, sink=self.to_caller, stop=self.agent_stop,
                               tools=self.tools, config=self.target.config)
        caller_plan = self.plan(self.caller_session, has_greeting=bool(
            self.persona.opening_line), in_rate=self.caller_rate, out_rate=self.caller_rate,
            source=self.caller_line, sink=self.to_agent, stop=self.caller_stop, tools={})
        caller_result: dict[str, Any] = {}

        def caller_side() -> None:
            try:
                caller_result["result"] = self.session(caller_plan, self.caller)
            except BaseException as exc:  # handed to the test's thread
                caller_result["error"] = exc
                self.watch.finish()

        self.watch.expect("greeting" if self.has_greeting else "caller's first line")
        self.watch.start()
        thread = threading.Thread(target=caller_side, name="agentctl-test-caller",
                                  daemon=True)
        try:
            thread.start()
            agent = self.session(agent_plan, self.agent)
        except BaseException:
            self.watch.finish()
            raise
        finally:
            self.watch.finish()
            thread.join()
            self.line.close()
            self.caller_line.close()
            self.runner._release(*self.stops)
        error = caller_result.get("error")
        if isinstance(error, AgentctlError):
            error.message = f"the simulated caller's session: {error.message}"
        if error is not None:
            raise error
        self.finish(result, agent)
        said: SessionResult = caller_result["result"]
        result.caller = Side(self.caller.events, b"", said.reply_audio, self.caller_rate,
                             self.caller_rate, said.session_id, said.report)
        if self.caller.codes:
            result.warnings.append("the simulated caller's session reported errors: "
                                   + ", ".join(self.caller.codes))

    # -- the agent's side ---------------------------------------------------------------
    def on_agent_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in PROGRESS:
            self.watch.progress()
        if kind == ev.REPLY_STARTED:
            self.to_caller.begin()
        elif kind == ev.REPLY_DONE:
            self.to_caller.end()
        elif kind == ev.SESSION_ENDED:
            self.line.close()
        if kind == ev.SESSION_READY and not self.has_greeting:
            self.to_agent.release()
        if kind == ev.SPEECH_STOPPED and self.last_line_said and not self.line.speaking:
            self.agent_heard_last = True
        if not self.turns.answered(event):
            return
        if self.turns.replies_done == 1 and self.has_greeting and self.turns.user_turns == 0:
            # The greeting is over: the caller may speak, and from now on hears the agent.
            self.to_agent.release()
            self.to_caller.enabled = not self.last_line_said
            self.watch.expect("caller's first line")
            return
        self.watch.satisfied()
        if self.agent_heard_last:
            self.watch.finish()  # the agent answered the caller's last line
        else:
            self.watch.expect(f"caller's line {self.spoken + 1}")

    # -- the caller's side --------------------------------------------------------------
    def on_caller_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in PROGRESS:
            self.watch.progress()
        if kind == ev.REPLY_STARTED:
            self.to_agent.begin()
        elif kind == ev.REPLY_DONE:
            self.to_agent.end()
        elif kind == ev.SESSION_ENDED:
            self.caller_line.close()
        if kind == ev.AGENT_FINAL:  # the caller said a line
            text = str(event.get("text") or "")
            done = self.persona.done_when is not None and search(self.persona.done_when, text)
            if done:
                self.last_line_said = True
        if not self.caller_turns.answered(event):
            return
        self.spoken += 1
        if self.spoken >= self.persona.max_turns:
            self.last_line_said = True
        if self.last_line_said:
            self.to_caller.enabled = False  # it says nothing more
            self.caller_line.muted = True
        self.watch.expect(f"answer to the caller's line {self.spoken}")


class _HeldBridge(Bridge):
    """A bridge that keeps what it hears until released (the caller waits out the
    agent's greeting before its opening line reaches the agent)."""

    def __init__(self, line: AudioLine, rate: int, *, held: bool) -> None:
        super().__init__(line, rate)
        self._held: list[bytes] | None = [] if held else None
        self._saying = False
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._saying = True
            if self._held is not None:
                return
        super().begin()

    def end(self) -> None:
        with self._lock:
            self._saying = False
            if self._held is not None:
                return
        super().end()

    def play(self, pcm: bytes) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(pcm)
                return
        super().play(pcm)

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, None
            saying = self._saying
        if held:
            super().begin()
        for pcm in held or []:
            super().play(pcm)
        if held and not saying:
            super().end()
        elif saying:
            super().begin()
