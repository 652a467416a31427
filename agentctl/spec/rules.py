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

from agentctl.hosts import is_loopback_host, is_private_host

Path = tuple[str | int, ...]

READ_ONLY_FIELDS = ("id", "created_at", "updated_at")
# Values the service stores encrypted and never returns.
MASK = "***"
WRITE_ONLY_PATHS = ("tools[].http.headers[].value", "llm[].api_key")
# Voice ids seen in the service's official examples; the full catalog is larger, so an
# unknown id is a warning (lint), never an error.
KNOWN_VOICES = ("ivy", "anna", "mary", "paul", "jane", "eve", "michael", "george")
EXECUTION_MODES = ("hold", "interactive")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENCODINGS = ("audio/pcm", "audio/pcmu", "audio/pcma")  # reference §7.9
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_NAME = 256
MAX_PROMPT = 100_000

TOP_LEVEL = ("name", "system_prompt", "greeting", "voice", "input", "output", "tools", "llm")
REQUIRED = ("name", "system_prompt", "voice")


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    kind: str  # missing, type, enum, range, url, extra, value


def format_path(path: Path) -> str:
    """('tools', 0, 'http', 'url') -> 'tools[0].http.url'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def check_agent(
    body: Any, *, partial: bool, allow_loopback_urls: bool = False
) -> list[Problem]:
    """Every problem with an agent body; `partial` for an update (nothing required)."""
    return list(_Checker(allow_loopback_urls).agent(body, partial))


class _Checker:
    def __init__(self, allow_loopback_urls: bool) -> None:
        self.allow_loopback_urls = allow_loopback_urls

    def agent(self, body: Any, partial: bool) -> Iterator[Problem]:
        if not isinstance(body, dict):
            yield Problem((), f"expected an object, got {_type_name(body)}", "type")
            return
        if not partial:
            for field in REQUIRED:
                if field not in body and not (field == "voice" and _output_voice(body)):
                    yield Problem((field,), "field required", "missing")
        for key in body:
            if key not in TOP_LEVEL and key not in READ_ONLY_FIELDS:
                yield Problem((key,), f"unknown field{_suggest(key, TOP_LEVEL)}", "extra")
        for field in ("name", "system_prompt"):
            if field in body:
                limit = MAX_NAME if field == "name" else MAX_PROMPT
                yield from self.text((field,), body[field], max_len=limit)
        if "greeting" in body and body["greeting"] is not None:
            yield from self.text(("greeting",), body["greeting"], max_len=MAX_PROMPT)
        if "voice" in body:
            yield from self.voice(body["voice"])
        if "input" in body:
            yield from self.input(body["input"])
        if "output" in body:
            yield from self.output(body["output"])
        if "tools" in body:
            yield from self.tools(body["tools"])
        if "llm" in body:
            yield from self.llm(body["llm"])

    # -- leaves -----------------------------------------------------------------------
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
        for key in value:
            if key not in allowed:
                yield Problem((*path, key), f"unknown field{_suggest(key, allowed)}", "extra")

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

    def string_list(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        for i, item in enumerate(value):
            yield from self.text((*path, i), item)

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

    def audio_format(self, path: Path, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(path, value, ("encoding", "sample_rate")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "encoding" in value:
            yield from self.enum((*path, "encoding"), value["encoding"], ENCODINGS)
        if "sample_rate" in value:
            yield from self.enum((*path, "sample_rate"), value["sample_rate"], SAMPLE_RATES)

    def input(self, value: Any) -> Iterator[Problem]:
        allowed = ("type", "format", "keyterms", "turn_detection")
        problems = list(self.obj(("input",), value, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "type" in value:
            yield from self.enum(("input", "type"), value["type"], ("audio",))
        if "format" in value:
            yield from self.audio_format(("input", "format"), value["format"])
        if "keyterms" in value:
            yield from self.string_list(("input", "keyterms"), value["keyterms"])
        if "turn_detection" in value:
            yield from self.turn_detection(value["turn_detection"])

    def turn_detection(self, value: Any) -> Iterator[Problem]:
        path: Path = ("input", "turn_detection")
        allowed = ("vad_threshold", "min_silence", "max_silence", "interrupt_response")
        problems = list(self.obj(path, value, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "vad_threshold" in value:
            yield from self.number((*path, "vad_threshold"), value["vad_threshold"], 0, 1)
        for field in ("min_silence", "max_silence"):
            if field in value:
                yield from self.number((*path, field), value[field], 0, 60_000, integer=True)
        if "interrupt_response" in value:
            yield from self.boolean((*path, "interrupt_response"), value["interrupt_response"])
        lo, hi = value.get("min_silence"), value.get("max_silence")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            yield Problem((*path, "min_silence"), "must not exceed max_silence", "range")

    def output(self, value: Any) -> Iterator[Problem]:
        problems = list(self.obj(("output",), value, ("type", "format", "volume", "voice")))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "type" in value:
            yield from self.enum(("output", "type"), value["type"], ("audio",))
        if "format" in value:
            yield from self.audio_format(("output", "format"), value["format"])
        if "volume" in value:
            yield from self.number(("output", "volume"), value["volume"], 0, 100, integer=True)
        if "voice" in value:
            yield from self.text(("output", "voice"), value["voice"])

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
            "http", "dtmf_collected_arguments",
        )
        problems = list(self.obj(path, tool, allowed))
        yield from problems
        if problems and problems[0].kind == "type":
            return
        if "name" not in tool:
            yield Problem((*path, "name"), "field required", "missing")
        elif not isinstance(tool["name"], str) or not TOOL_NAME.match(tool["name"]):
            yield Problem(
                (*path, "name"),
                "must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'",
                "value",
            )
        if "description" in tool:
            yield from self.text((*path, "description"), tool["description"], max_len=10_000)
        if "parameters" in tool:
            yield from self.parameters((*path, "parameters"), tool["parameters"])
        if "execution_mode" in tool:
            yield from self.enum(
                (*path, "execution_mode"), tool["execution_mode"], EXECUTION_MODES
            )
        if "timeout_seconds" in tool:
            yield from self.number((*path, "timeout_seconds"), tool["timeout_seconds"], 1, 600)
        if "http" in tool and tool["http"] is not None:
            yield from self.http((*path, "http"), tool["http"])
        if "dtmf_collected_arguments" in tool:
            yield from self.dtmf((*path, "dtmf_collected_arguments"), tool)

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
        if "http_method" in value:
            yield from self.enum((*path, "http_method"), value["http_method"], HTTP_METHODS)
        if "headers" in value:
            yield from self.headers((*path, "headers"), value["headers"])

    def url(self, path: Path, value: Any) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield Problem(path, f"must be a string, got {_type_name(value)}", "type")
            return
        if "${" in value:
            return  # an unresolved variable: checked after interpolation
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
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        seen: set[str] = set()
        for i, header in enumerate(value):
            hpath = (*path, i)
            problems = list(self.obj(hpath, header, ("name", "value")))
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
            if "value" not in header:
                yield Problem((*hpath, "value"), "field required", "missing")
            elif not isinstance(header["value"], str):
                yield Problem(
                    (*hpath, "value"), f"must be a string, got {_type_name(header['value'])}",
                    "type",
                )

    def dtmf(self, path: Path, tool: dict[str, Any]) -> Iterator[Problem]:
        value = tool["dtmf_collected_arguments"]
        if not isinstance(value, list):
            yield Problem(path, f"must be a list, got {_type_name(value)}", "type")
            return
        allowed = (
            "parameter_name", "min_digits", "max_digits", "sensitive", "terminator",
            "confirm", "prompt",
        )
        for i, arg in enumerate(value):
            apath = (*path, i)
            problems = list(self.obj(apath, arg, allowed))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            if "parameter_name" not in arg:
                yield Problem((*apath, "parameter_name"), "field required", "missing")
            else:
                yield from self.text((*apath, "parameter_name"), arg["parameter_name"])
            for field in ("min_digits", "max_digits"):
                if field in arg:
                    yield from self.number((*apath, field), arg[field], 1, 64, integer=True)
            for field in ("sensitive", "confirm"):
                if field in arg:
                    yield from self.boolean((*apath, field), arg[field])
            for field in ("terminator", "prompt"):
                if field in arg:
                    yield from self.text((*apath, field), arg[field], max_len=10_000)

    def llm(self, value: Any) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield Problem(("llm",), f"must be a list, got {_type_name(value)}", "type")
            return
        if len(value) > 1:
            yield Problem(("llm",), "at most one entry (no fallback chains yet)", "range")
        for i, entry in enumerate(value):
            path: Path = ("llm", i)
            problems = list(self.obj(path, entry, ("base_url", "model", "api_key")))
            yield from problems
            if problems and problems[0].kind == "type":
                continue
            if "model" not in entry:
                yield Problem((*path, "model"), "field required", "missing")
            else:
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
