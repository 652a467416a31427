"""What the emulated agent hears and says: a deterministic script, per user turn.

With no script, every turn is described: the user transcript is `[1.2 seconds of
speech]` and the reply `I heard 1.2 seconds of speech.`. A script (YAML or JSON, given to
`emulator serve --script FILE`) defines the turns in order; turns past the end use the
defaults:

    speed: 1.0                 # optional: replies and tool timeouts run this much faster
    default_reply: "Sorry, could you say that again?"   # optional
    turns:
      - user: What's the weather in Paris?            # the transcript of this turn
        tool_calls:                                    # optional, run in order
          - name: get_weather                          # an HTTP tool is called by the
            arguments: {latitude: 48.86, longitude: 2.35}  # emulator, any other name is
        reply: "It is {result} in Paris."              # sent to the client (tool.call)
      - user: Thanks
        reply: You're welcome.
        reply_error:                                   # optional: the first try of this
          code: llm_provider_error                     # reply fails with `reply.error`
          message: The model provider timed out.       # (status_code, provider_code and
          retryable: true                              # provider_param may be given too);
                                                       # a reply.create retries it

In `user` and `reply`, `{seconds}` is the length of the user's speech, `{turn}` the turn
number (from 1), `{user}` the user transcript and `{result}` the last tool result.

One emulator may serve several agents, or an agent and a simulated caller (`agentctl
test`): `sessions` gives a session its own turns, by a pattern searched (ignoring case)
in its system prompt; the first entry that matches wins, and a session no entry matches
follows the top-level turns. (Inferred: the service has no scripts; this is the
emulator's own way to make each side of a test conversation deterministic.)

    sessions:
      - match: "you are a customer"        # the simulated caller's persona
        turns: [{reply: "My order number is 123456."}, {reply: "Thanks, goodbye."}]
      - match: "front desk"
        default_reply: "Could you repeat that?"
        turns: [...]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_USER = "[{seconds} seconds of speech]"
DEFAULT_REPLY = "I heard {seconds} seconds of speech."
_PLACEHOLDER = re.compile(r"\{(seconds|turn|user|result)\}")
_TOP_KEYS = ("speed", "default_reply", "default_user", "turns")
_TURN_KEYS = ("user", "reply", "tool_calls", "reply_error")
_ERROR_KEYS = ("code", "message", "retryable", "status_code", "provider_code",
               "provider_param")
_CALL_KEYS = ("name", "arguments")


class ScriptError(ValueError):
    """A script that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ToolCallStep:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    user: str = DEFAULT_USER
    reply: str = DEFAULT_REPLY
    tool_calls: tuple[ToolCallStep, ...] = ()
    reply_error: dict[str, Any] | None = None  # a `reply.error`'s fields, first try only


@dataclass(frozen=True)
class Script:
    turns: tuple[Turn, ...] = ()
    default_user: str = DEFAULT_USER
    default_reply: str = DEFAULT_REPLY
    speed: float = 1.0
    sessions: tuple[tuple[str, Script], ...] = ()  # (pattern, script) by system prompt

    def for_session(self, system_prompt: str) -> Script:
        """The script of a session with this system prompt (see `sessions`)."""
        for pattern, script in self.sessions:
            if re.search(pattern, system_prompt, re.IGNORECASE):
                return replace(script, speed=self.speed)
        return self

    def turn(self, index: int) -> Turn:
        """The turn at `index` (from 0); past the script's end, the defaults."""
        if 0 <= index < len(self.turns):
            return self.turns[index]
        return Turn(user=self.default_user, reply=self.default_reply)


def render(template: str, **values: Any) -> str:
    """Fill `{seconds}`, `{turn}`, `{user}`, `{result}`; other braces stay as they are."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def load_script(path: str | Path) -> Script:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScriptError(f"{source}: cannot read the script: {reason}") from None
    try:
        import yaml

        data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError, and anything odd in the file
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScriptError(f"{where}: not valid YAML or JSON ({getattr(exc, 'problem', exc)})"
                          ) from None
    return parse_script(data, source)


def parse_script(data: Any, source: str = "script") -> Script:
    if data is None:
        return Script()
    if isinstance(data, Script):
        return data
    if isinstance(data, dict) and "sessions" in data:
        return _with_sessions(data, source)

    def bad(where: str, message: str) -> ScriptError:
        return ScriptError(f"{source}: {where}: {message}" if where else f"{source}: {message}")

    if not isinstance(data, dict):
        raise bad("", "expected a mapping with `turns:`")
    for key in data:
        if key not in _TOP_KEYS:
            raise bad(str(key), f"unknown field (expected one of {', '.join(_TOP_KEYS)})")
    speed = data.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= 1000:
        raise bad("speed", "must be a number above 0 (at most 1000)")
    texts = {}
    for key, default in (("default_user", DEFAULT_USER), ("default_reply", DEFAULT_REPLY)):
        value = data.get(key, default)
        if not isinstance(value, str):
            raise bad(key, "must be a string")
        texts[key] = value
    raw_turns = data.get("turns", [])
    if not isinstance(raw_turns, list):
        raise bad("turns", "must be a list")
    turns = []
    for i, raw in enumerate(raw_turns):
        where = f"turns[{i}]"
        if not isinstance(raw, dict):
            raise bad(where, "must be a mapping (user, reply, tool_calls)")
        for key in raw:
            if key not in _TURN_KEYS:
                raise bad(f"{where}.{key}", f"unknown field (expected {', '.join(_TURN_KEYS)})")
        user = raw.get("user", texts["default_user"])
        reply = raw.get("reply", texts["default_reply"])
        for key, value in (("user", user), ("reply", reply)):
            if not isinstance(value, str):
                raise bad(f"{where}.{key}", "must be a string")
        calls = raw.get("tool_calls", [])
        if not isinstance(calls, list):
            raise bad(f"{where}.tool_calls", "must be a list")
        steps = []
        for j, call in enumerate(calls):
            cwhere = f"{where}.tool_calls[{j}]"
            if not isinstance(call, dict):
                raise bad(cwhere, "must be a mapping (name, arguments)")
            for key in call:
                if key not in _CALL_KEYS:
                    raise bad(f"{cwhere}.{key}", "unknown field (expected name, arguments)")
            name = call.get("name")
            if not isinstance(name, str) or not name:
                raise bad(f"{cwhere}.name", "must be a tool name")
            arguments = call.get("arguments", {})
            if not isinstance(arguments, dict):
                raise bad(f"{cwhere}.arguments", "must be a mapping")
            try:
                json.dumps(arguments)
            except (TypeError, ValueError):
                raise bad(f"{cwhere}.arguments", "must be JSON data") from None
            steps.append(ToolCallStep(name, arguments))
        turns.append(Turn(user=user, reply=reply, tool_calls=tuple(steps),
                          reply_error=_reply_error(raw.get("reply_error"), f"{where}.reply_error",
                                                   bad)))
    return Script(
        turns=tuple(turns),
        default_user=texts["default_user"],
        default_reply=texts["default_reply"],
        speed=float(speed),
    )


def _reply_error(raw: Any, where: str, bad: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad(where, "must be a mapping (code, message, retryable)")
    for key in raw:
        if key not in _ERROR_KEYS:
            raise bad(f"{where}.{key}", f"unknown field (expected {', '.join(_ERROR_KEYS)})")
    code, message = raw.get("code", "llm_provider_error"), raw.get("message", "")
    if not isinstance(code, str) or not code or not isinstance(message, str):
        raise bad(where, "code and message must be strings")
    retryable = raw.get("retryable", False)
    if not isinstance(retryable, bool):
        raise bad(f"{where}.retryable", "must be true or false")
    return {"code": code, "message": message or "The reply failed.", "retryable": retryable,
            **{k: raw[k] for k in ("status_code", "provider_code", "provider_param")
               if k in raw}}


def _with_sessions(data: dict[str, Any], source: str) -> Script:
    """A script with `sessions`: the top level as usual, then each entry's own script."""
    top = parse_script({k: v for k, v in data.items() if k != "sessions"}, source)
    raw = data["sessions"]
    if not isinstance(raw, list):
        raise ScriptError(f"{source}: sessions: must be a list of {{match, turns}}")
    found = []
    for i, entry in enumerate(raw):
        where = f"{source}: sessions[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("match"), str) or (
                not entry["match"]):
            raise ScriptError(f"{where}: needs match (a pattern for the system prompt)")
        try:
            re.compile(entry["match"])
        except re.error as exc:
            raise ScriptError(f"{where}.match: not a valid regular expression: {exc}"
                              ) from None
        if "speed" in entry or "sessions" in entry:
            raise ScriptError(f"{where}: speed and sessions belong at the top level")
        script = parse_script({k: v for k, v in entry.items() if k != "match"}, where)
        found.append((entry["match"], script))
    return replace(top, sessions=tuple(found))
