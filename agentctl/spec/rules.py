"""The agent record's rules, shared by the emulator (422 details) and spec validation.

Pure and stdlib-only: the emulator validates like the service, and `agentctl validate`
gives the same verdict offline. Where the reference gives no limit, the rule is the
obvious one (non-empty strings, numbers in range, known enums) and its message says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agentctl import record as _record
from agentctl.hosts import is_loopback_host, is_private_host
from agentctl.record import (
    MASK,
    READ_ONLY_FIELDS,
    WRITE_ONLY_PATHS,
    format_path,
)
from agentctl.spec.builtins import RESERVED_TOOL_NAMES as PLATFORM_TOOLS

__all__ = ["MASK", "READ_ONLY_FIELDS", "WRITE_ONLY_PATHS", "Problem", "check_agent",
           "format_path", "is_loopback_host"]

Path = tuple[str | int, ...]

# Voices (§8): the docs' catalogue and every id seen in an example. The service refuses
# an unknown voice (422), so the emulator does too; the client only warns (lint), since
# the catalogue grows.
KNOWN_VOICES = (
    "ivy", "james", "tyler", "winter", "bella", "david", "kyle", "helen", "martha", "river",
    "emma", "victor", "eleanor", "pierre", "giulia", "luca", "lucia", "mateo", "diego",
    "arjun", "dmitri", "anna", "mary", "paul", "jane", "eve", "michael", "george", "claire",
    "mia", "alba",
)
EXECUTION_MODES = ("interactive", "hold")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# §7.9: each encoding and the only sample rate it takes.
ENCODINGS = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
TRANSCRIPTION_MODES = ("balanced", "min_latency", "max_accuracy")
VOICE_FOCUS = ("near-field", "far-field")
TURN_TYPES = ("server_vad", "semantic_vad")
CALL_FACTS = ("caller_number", "dialed_number", "direction", "agent_id", "session_id")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_NAME = 256
MAX_PROMPT = 100_000
MAX_URL = 2048

TOP_LEVEL = _record.WRITABLE_FIELDS
REQUIRED = _record.REQUIRED_ON_CREATE


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    kind: str  # missing, type, enum, range, url, extra, value


def check_agent(
    body: Any, *, partial: bool, allow_loopback_urls: bool = False,
    known_voices_only: bool = False,
) -> list[Problem]:
    """Every problem with an agent body; `partial` for an update (nothing required).

    An unknown field close to a known one is kind "extra" (with "did you mean"); any
    other unknown field is kind "unknown" (the client warns and sends it; the emulator
    refuses both). `known_voices_only`: an unknown voice is a problem (the service's
    422, §8); the client only warns.
    """
    return list(_Checker(allow_loopback_urls, known_voices_only).agent(body, partial))


class _Checker:
    def __init__(self, allow_loopback_urls: bool, known_voices_only: bool = False) -> None:
        self.allow_loopback_urls = allow_loopback_urls
        self.known_voices_only = known_voices_only
        self.partial = False

    def agent(self, body: Any, partial: bool) -> Iterator[Problem]:
        self.partial = partial
        if not isinstance(body, dict):
            yield Problem((), f"expected an object, got {_type_name(body)}", "type")
            return
        if not partial:
            for field in REQUIRED:
                if field not in body and not (field == "voice" and _output_voice(body)):
                    yield Problem((field,), "field required", "missing")
        yield from self.unknown((), body, TOP_LEVEL + READ_ONLY_FIELDS)
        for field in ("name", "system_prompt"):
            if field in body:
                limit = MAX_NAME if field == "name" else MAX_PROMPT
                yield from self.text((field,), body[field], max_len=limit)
        if body.get("greeting") is not None:
            yield from self.text(("greeting",), body["greeting"], max_len=MAX_PROMPT)
        if "voice" in body:
            yield from self.voice(body["voice"])
        if body.get("input") is not None:
            yield from self.input(body["input"])
        if body.get("output") is not None:
            yield from self.output(body["output"])
        if body.get("tools") is not None:
            yield from self.tools(body["tools"])
        if body.get("pre_connect_requests") is not None:
            yield from self.pre_connect(body["pre_connect_requests"])
        if body.get("transfer_targets") is not None:
            yield from self.transfer_targets(body["transfer_targets"], body)
        for field in ("outbound_trunk_id",):
            if body.get(field) is not None:
                yield from self.text((field,), body[field])
        if body.get("caller_id") is not None:
            yield from self.e164(("caller_id",), body["caller_id"])
        if body.get("llm") is not None:
            yield from self.llm(body["llm"])
        targets = body.get("transfer_targets")
        human = isinstance(targets, list) and any(
            isinstance(t, dict) and t.get("kind") == "human" for t in targets)
        if human and not body.get("outbound_trunk_id") and (
            not partial or "outbound_trunk_id" in body
        ):
            yield Problem(("outbound_trunk_id",), "required when a human transfer target "
                          "exists", "missing")

    # -- leaves -----------------------------------------------------------------------
    def unknown(self, path: Path, value: dict[str, Any], allowed: tuple[str, ...]
                ) -> Iterator[Problem]:
        for key in value:
            if key not in allowed:
                hint = _suggest(key, allowed)
                if hint:
                    yield Problem((*path, key), f"unknown field{hint}", "extra")
                else:
                    yield Problem((*path, key), "unknown field (sent as is)", "unknown")

    def text(self, path: Path, value: Any, *, max_len: int = MAX_NAME) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield Problem(path, f"must be a string, got {_type_name(value)}", "type")
        elif not value.strip():
            yield Problem(path, "must not be empty", "value")
        elif len(value) > max_len:
            yield Problem(path, f"must be at most {max_len} characters", "range")

    def obj(self, path: Path, value: Any, allowed: tuple[str, ...]) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield Problem(path, f"must be an object, got {_type_name(value)}", "type")
            return
        yield from self.unknown(path, value, allowed)

    def number(
        self, path: Path, value: Any, lo: float, hi: float | None, *, integer: bool = False
    ) -> Iterator[Problem]:
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield Problem(path, f"must be {kind}, got {_type_name(value)}", "type")
        elif integer and not isinstance(value, int):
            yield Problem(path, f"must be {kind}, got {value!r}", "type")
        elif value < lo or (hi is not None and value > hi):
            bounds = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
            yield Problem(path, f"must be {bounds}, got {value!r}", "range")

    def enum(self, path: Path, value: Any, choices: tuple[Any, ...]) -> Iterator[Problem]:
        if value not in choices or isinstance(value, bool):
            listed = ", ".join(str(c) for c in choices)
            yield Problem(path, f"must be one of {listed}; got {value!r}", "enum")

    def boolean(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, bool):
            yield Problem(path, f"must be true or false, got {_type_name(value)}", "type")

    def string_list(
        self, path: Path, value: Any, *, max_items: int | None = None
    ) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        if max_items is not None and len(value) > max_items:
            yield Problem(path, f"must have at most {max_items} entries", "range")
        for i, item in enumerate(value):
            yield from self.text((*path, i), item)

    def e164(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, str) or not E164.match(value):
            yield Problem(path, "must be an E.164 phone number like +14155550123", "value")

    def fields(self, path: Path, value: dict[str, Any], checks: dict[str, Any]
               ) -> Iterator[Problem]:
        """Each present, non-null field through its check."""
        for key, check in checks.items():
            if value.get(key) is not None:
                yield from check((*path, key), value[key])

    # -- sections ---------------------------------------------------------------------
    def voice(self, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(("voice",), value, ("voice_id",)))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "voice_id" not in value:
            yield Problem(("voice", "voice_id"), "field required", "missing")
        else:
            yield from self.text(("voice", "voice_id"), value["voice_id"])
            voice_id = value["voice_id"]
            if self.known_voices_only and isinstance(voice_id, str) and (
                voice_id not in KNOWN_VOICES
            ):
                yield Problem(("voice", "voice_id"), f"unknown voice {voice_id!r}", "value")

    def audio_format(self, path: Path, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(path, value, ("encoding", "sample_rate")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        encoding = value.get("encoding", "audio/pcm")
        if "encoding" in value:
            yield from self.enum((*path, "encoding"), encoding, tuple(ENCODINGS))
        rate = ENCODINGS.get(encoding) if isinstance(encoding, str) else None
        if value.get("sample_rate") is not None and rate is not None:
            yield from self.enum((*path, "sample_rate"), value["sample_rate"], (rate,))

    def input(self, value: Any) -> Iterator[Problem]:
        path: Path = ("input",)
        allowed = ("type", "format", "keyterms", "transcription_prompt", "transcription_mode",
                   "language_codes", "voice_focus", "voice_focus_threshold",
                   "continuous_partials", "turn_detection")
        problems = list(self.obj(path, value, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        yield from self.fields(path, value, {
            "type": lambda p, v: self.enum(p, v, ("audio", "text")),
            "format": self.audio_format,
            "keyterms": lambda p, v: self.string_list(p, v, max_items=100),
            "transcription_prompt": lambda p, v: self.text(p, v, max_len=1750),
            "transcription_mode": lambda p, v: self.enum(p, v, TRANSCRIPTION_MODES),
            "language_codes": self.string_list,
            "voice_focus": lambda p, v: self.enum(p, v, VOICE_FOCUS),
            "voice_focus_threshold": lambda p, v: self.number(p, v, 0, 1),
            "continuous_partials": self.boolean,
            "turn_detection": self.turn_detection,
        })

    def turn_detection(self, path: Path, value: Any) -> Iterator[Problem]:
        allowed = ("vad_threshold", "min_silence", "max_silence", "interrupt_response",
                   "interruption_delay", "type", "uninterruptible_turns")
        problems = list(self.obj(path, value, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        yield from self.fields(path, value, {
            "vad_threshold": lambda p, v: self.number(p, v, 0, 1),
            "min_silence": lambda p, v: self.number(p, v, 0, 60_000, integer=True),
            "max_silence": lambda p, v: self.number(p, v, 0, 60_000, integer=True),
            "interrupt_response": self.boolean,
            "interruption_delay": lambda p, v: self.number(p, v, 0, 60_000, integer=True),
            "type": lambda p, v: self.enum(p, v, TURN_TYPES),
            "uninterruptible_turns": self.string_list,
        })
        lo, hi = value.get("min_silence"), value.get("max_silence")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            yield Problem((*path, "min_silence"), "must not exceed max_silence", "range")

    def output(self, value: Any) -> Iterator[Problem]:
        path: Path = ("output",)
        problems = list(self.obj(path, value, ("type", "format", "volume", "voice")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        yield from self.fields(path, value, {
            "type": lambda p, v: self.enum(p, v, ("audio", "text")),
            "format": self.audio_format,
            "volume": lambda p, v: self.number(p, v, 0, 100),
            "voice": self.text,
        })

    def tools(self, value: Any) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield Problem(("tools",), f"must be a list, got {_type_name(value)}", "type")
            return
        seen: dict[str, int] = {}
        for i, tool in enumerate(value):
            yield from self.tool(("tools", i), tool)
            name = tool.get("name") if isinstance(tool, dict) else None
            if isinstance(name, str):
                if name in seen:
                    yield Problem(
                        ("tools", i, "name"), f"duplicate tool name (also tools[{seen[name]}])",
                        "value",
                    )
                seen.setdefault(name, i)

    def tool(self, path: Path, tool: Any) -> Iterator[Problem]:
        allowed = (
            "id", "name", "description", "parameters", "execution_mode", "timeout_seconds",
            "http", "response_instructions", "dtmf_collected_arguments", "session_update",
        )
        problems = list(self.obj(path, tool, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        name = tool.get("name")
        if "name" not in tool:
            yield Problem((*path, "name"), "field required", "missing")
        elif not isinstance(name, str) or not TOOL_NAME.match(name):
            yield Problem(
                (*path, "name"),
                "must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'",
                "value",
            )
        if tool.get("description") is not None:
            yield from self.text((*path, "description"), tool["description"], max_len=10_000)
        elif not (isinstance(name, str) and name in PLATFORM_TOOLS) and "name" in tool \
                and not self.partial:  # (a name of another type may be a list: unhashable)
            # a whole agent only: an update's own check runs on the merged record
            yield Problem((*path, "description"),
                          "field required (only platform tools, aai_*, may leave it out)",
                          "missing")
        yield from self.fields(path, tool, {
            "parameters": self.parameters,
            "execution_mode": lambda p, v: self.enum(p, v, EXECUTION_MODES),
            "timeout_seconds": lambda p, v: self.number(p, v, 1, 300, integer=True),
            "http": self.http,
            "response_instructions": self.response_instructions,
            "session_update": self.session_update,
        })
        if tool.get("dtmf_collected_arguments") is not None:
            yield from self.dtmf((*path, "dtmf_collected_arguments"), tool)

    def response_instructions(self, path: Path, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(path, value, ("success", "error")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        for key in ("success", "error"):
            if value.get(key) is not None:
                yield from self.text((*path, key), value[key], max_len=500)

    def session_update(self, path: Path, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(path, value, ("enabled",)))
        yield from problems
        if not problems and "enabled" in value:
            yield from self.boolean((*path, "enabled"), value["enabled"])

    def parameters(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield Problem(path, f"must be a JSON Schema object, got {_type_name(value)}", "type")
            return
        if value.get("type", "object") != "object":
            yield Problem((*path, "type"), "must be \"object\"", "value")
        props = value.get("properties", {})
        if not isinstance(props, dict):
            yield Problem((*path, "properties"), "must be an object", "type")
            props = {}
        required = value.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            yield Problem((*path, "required"), "must be a list of property names", "type")
        else:
            for i, name in enumerate(required):
                if name not in props:
                    yield Problem(
                        (*path, "required", i), f"names {name!r}, which is not in properties",
                        "value",
                    )

    def http(self, path: Path, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(path, value, ("url", "http_method", "headers")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "url" not in value:
            yield Problem((*path, "url"), "field required", "missing")
        else:
            yield from self.url((*path, "url"), value["url"])
        if value.get("http_method") is not None:
            yield from self.enum((*path, "http_method"), value["http_method"], HTTP_METHODS)
        if value.get("headers") is not None:
            yield from self.headers((*path, "headers"), value["headers"])

    def url(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield Problem(path, f"must be a string, got {_type_name(value)}", "type")
            return
        if "${" in value:
            return  # an unresolved variable: checked after interpolation
        if len(value) > MAX_URL:
            yield Problem(path, f"must be at most {MAX_URL} characters", "range")
            return
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
        except ValueError:
            yield Problem(path, "is not a valid URL", "url")
            return
        loopback = is_loopback_host(host)
        if parts.scheme != "https" and not (
            self.allow_loopback_urls and loopback and parts.scheme == "http"
        ):
            yield Problem(path, "must be an https URL", "url")
            return
        if not host:
            yield Problem(path, "must name a host", "url")
        elif loopback and self.allow_loopback_urls:
            return
        elif is_private_host(host):
            yield Problem(
                path, f"must be a public host; {host} is private, loopback or link-local", "url"
            )

    def headers(self, path: Path, value: Any) -> Iterator[Problem]:
        """Write form `[{name, value?, remove?}]` (§7.5): `value` sets, the name alone keeps
        the stored value, `remove: true` deletes. `last_set_at` (the read form) is ignored.
        The docs' map `{"Name": "value"}` is accepted too."""
        if isinstance(value, dict):
            for name, text in value.items():
                if not HEADER_NAME.fullmatch(str(name)):
                    yield Problem((*path, name), "must be a valid HTTP header name", "value")
                elif not isinstance(text, str):
                    yield Problem((*path, name), f"must be a string, got {_type_name(text)}",
                                  "type")
            return
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        seen: set[str] = set()
        for i, header in enumerate(value):
            hpath = (*path, i)
            problems = list(self.obj(hpath, header, ("name", "value", "remove", "last_set_at")))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            name = header.get("name")
            if "name" not in header:
                yield Problem((*hpath, "name"), "field required", "missing")
            elif not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
                yield Problem((*hpath, "name"), "must be a valid HTTP header name", "value")
            elif name.lower() in seen:
                yield Problem((*hpath, "name"), f"duplicate header {name!r}", "value")
            else:
                seen.add(name.lower())
            if "value" in header and not isinstance(header["value"], str):
                yield Problem(
                    (*hpath, "value"), f"must be a string, got {_type_name(header['value'])}",
                    "type",
                )
            if "remove" in header:
                yield from self.boolean((*hpath, "remove"), header["remove"])
                if header["remove"] is True and "value" in header:
                    yield Problem((*hpath, "remove"), "give value or remove: true, not both",
                                  "value")

    def dtmf(self, path: Path, tool: dict[str, Any]) -> Iterator[Problem]:
        value = tool["dtmf_collected_arguments"]
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        allowed = (
            "parameter_name", "min_digits", "max_digits", "sensitive", "terminator",
            "confirm", "timeout_seconds", "escalate_hotkey_disabled", "prompt",
        )
        params = tool.get("parameters")
        props = params.get("properties") if isinstance(params, dict) else None
        for i, arg in enumerate(value):
            apath = (*path, i)
            problems = list(self.obj(apath, arg, allowed))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            for field in ("parameter_name", "min_digits", "max_digits", "sensitive", "prompt"):
                if field not in arg:
                    message = "must be stated" if field == "sensitive" else "field required"
                    yield Problem((*apath, field), message, "missing")
            if "parameter_name" in arg:
                yield from self.text((*apath, "parameter_name"), arg["parameter_name"])
                if isinstance(props, dict) and arg["parameter_name"] not in props:
                    yield Problem((*apath, "parameter_name"),
                                  "must name a property of the tool's parameters", "value")
            for field in ("min_digits", "max_digits"):
                if field in arg:
                    yield from self.number((*apath, field), arg[field], 1, 64, integer=True)
            lo, hi = arg.get("min_digits"), arg.get("max_digits")
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                yield Problem((*apath, "min_digits"), "must not exceed max_digits", "range")
            if arg.get("timeout_seconds") is not None:
                yield from self.number((*apath, "timeout_seconds"), arg["timeout_seconds"],
                                       1, 300, integer=True)
            for field in ("sensitive", "confirm", "escalate_hotkey_disabled"):
                if arg.get(field) is not None:
                    yield from self.boolean((*apath, field), arg[field])
            for field in ("terminator", "prompt"):
                if arg.get(field) is not None:
                    yield from self.text((*apath, field), arg[field], max_len=10_000)

    def pre_connect(self, value: Any) -> Iterator[Problem]:
        path: Path = ("pre_connect_requests",)
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        if len(value) > 2:
            yield Problem(path, "at most 2 entries", "range")
        known: set[str] = set(CALL_FACTS)
        returned: dict[str, int] = {}
        for i, entry in enumerate(value):
            epath = (*path, i)
            allowed = ("http", "sends", "returns", "timeout_ms", "allow_overrides")
            problems = list(self.obj(epath, entry, allowed))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            if "http" not in entry:
                yield Problem((*epath, "http"), "field required", "missing")
            else:
                yield from self.http((*epath, "http"), entry["http"])
            if entry.get("timeout_ms") is not None:
                yield from self.number((*epath, "timeout_ms"), entry["timeout_ms"], 1, 800,
                                       integer=True)
            if entry.get("allow_overrides") is not None:
                overrides = entry["allow_overrides"]
                if not isinstance(overrides, list):
                    yield Problem((*epath, "allow_overrides"), "must be a list", "type")
                else:
                    for j, item in enumerate(overrides):
                        yield from self.enum((*epath, "allow_overrides", j), item, ("greeting",))
            sends = entry.get("sends")
            if sends is not None:
                problems = list(self.string_list((*epath, "sends"), sends))
                yield from problems
                for j, name in enumerate(sends if not problems else []):
                    if name not in known:
                        yield Problem((*epath, "sends", j),
                                      f"{name!r} is no call fact and no earlier entry's returns",
                                      "value")
            for j, ret in enumerate(entry.get("returns") or []):
                rpath = (*epath, "returns", j)
                rproblems = list(self.obj(rpath, ret, ("name", "path", "default")))
                yield from rproblems
                if rproblems and rproblems[0].kind == "type":
                    continue
                for field in ("name", "path"):
                    if field not in ret:
                        yield Problem((*rpath, field), "field required", "missing")
                    else:
                        yield from self.text((*rpath, field), ret[field])
                name = ret.get("name")
                if isinstance(name, str):
                    if name in returned:
                        yield Problem((*rpath, "name"),
                                      "returns names must be unique across entries", "value")
                    returned[name] = i
                    known.add(name)
            if entry.get("returns") is not None and not isinstance(entry["returns"], list):
                yield Problem((*epath, "returns"), "must be a list", "type")

    def transfer_targets(self, value: Any, body: dict[str, Any]) -> Iterator[Problem]:
        path: Path = ("transfer_targets",)
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        allowed = ("name", "kind", "phone_number", "agent_id", "mode", "consult_instructions",
                   "consult_timeout_seconds", "ring_timeout_seconds", "record_consult")
        for i, target in enumerate(value):
            tpath = (*path, i)
            problems = list(self.obj(tpath, target, allowed))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            for field in ("name", "kind"):
                if field not in target:
                    yield Problem((*tpath, field), "field required", "missing")
            if "name" in target:
                yield from self.text((*tpath, "name"), target["name"])
            kind = target.get("kind")
            if "kind" in target:
                yield from self.enum((*tpath, "kind"), kind, ("human", "agent"))
            if kind == "human" and "phone_number" not in target:
                yield Problem((*tpath, "phone_number"), "field required for a human target",
                                  "missing")
            if kind == "agent" and "agent_id" not in target:
                yield Problem((*tpath, "agent_id"), "field required for an agent target",
                              "missing")
            if target.get("phone_number") is not None:
                yield from self.e164((*tpath, "phone_number"), target["phone_number"])
            mode = target.get("mode")
            if mode is not None:
                yield from self.enum((*tpath, "mode"), mode, ("cold", "warm"))
            if target.get("ring_timeout_seconds") is not None:
                yield from self.number((*tpath, "ring_timeout_seconds"),
                                       target["ring_timeout_seconds"], 1, 600, integer=True)
            if target.get("consult_timeout_seconds") is not None:
                yield from self.number((*tpath, "consult_timeout_seconds"),
                                       target["consult_timeout_seconds"], 1, None, integer=True)
            if target.get("record_consult") is not None:
                yield from self.boolean((*tpath, "record_consult"), target["record_consult"])
                if target["record_consult"] is True and mode in (None, "cold"):
                    yield Problem((*tpath, "record_consult"), "only for a warm transfer",
                                  "value")

    def llm(self, value: Any) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield Problem(("llm",), f"must be a list, got {_type_name(value)}", "type")
            return
        if len(value) > 1:
            yield Problem(("llm",), "at most one entry", "range")
        for i, entry in enumerate(value):
            path: Path = ("llm", i)
            problems = list(self.obj(path, entry, ("base_url", "model", "api_key")))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            for field in ("base_url", "model") if not self.partial else ("model",):
                if field not in entry:
                    yield Problem((*path, field), "field required", "missing")
            if "model" in entry:
                yield from self.text((*path, "model"), entry["model"])
            if "base_url" in entry:
                yield from self.url((*path, "base_url"), entry["base_url"])
            if "api_key" in entry:
                yield from self.text((*path, "api_key"), entry["api_key"], max_len=10_000)


def _output_voice(body: dict[str, Any]) -> bool:
    output = body.get("output")
    return isinstance(output, dict) and isinstance(output.get("voice"), str)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string",
        list: "a list", dict: "an object",
    }.get(type(value), type(value).__name__)


def _suggest(key: Any, allowed: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
