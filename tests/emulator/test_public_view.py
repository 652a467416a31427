"""`public_view` (what every read of an agent answers) works in place now, without copies:
it must give byte for byte what the copying version gave, for any stored record."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentctl import record as rec
from agentctl.emulator.app import public_view, with_defaults
from agentctl.emulator.plumbing import deep_merge


def copying_public_view(record: dict[str, Any]) -> dict[str, Any]:
    """The version before (every step a deep copy): the oracle."""
    filled = copy.deepcopy(record)
    for key, value in rec.DEFAULTS.items():
        filled.setdefault(key, copy.deepcopy(value))
    filled["input"] = deep_merge(rec.DEFAULT_INPUT, filled.get("input") or {})
    filled["output"] = deep_merge(rec.DEFAULT_OUTPUT, filled.get("output") or {})
    for tool in filled.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        for key, value in rec.TOOL_DEFAULTS.items():
            tool.setdefault(key, value)
        if isinstance(tool.get("http"), dict):
            for key, value in rec.HTTP_DEFAULTS.items():
                tool["http"].setdefault(key, value)
    for entry in filled.get("pre_connect_requests") or []:
        if isinstance(entry, dict) and isinstance(entry.get("http"), dict):
            for key, value in rec.HTTP_DEFAULTS.items():
                entry["http"].setdefault(key, value)
    shown = rec.without_write_only(filled)
    for _, headers in rec.headers_of(shown):
        for header in headers:
            if isinstance(header, dict):
                header["last_set_at"] = header.get("last_set_at") or record.get("updated_at")
    return rec.ordered(shown)


HEADER = {"name": "Authorization", "value": "Bearer s3cret", "last_set_at": "2026-01-02T00:00:00.000000Z"}
STORED = {
    "id": "agent_0123456789abcdef0123456789abcdef", "name": "full",
    "system_prompt": "p", "voice": {"voice_id": "ivy"}, "greeting": "hi",
    "input": {"keyterms": ["a"], "format": {"sample_rate": 8000},
              "turn_detection": {"vad_threshold": 0.7}},
    "output": {"voice": "ivy", "volume": 80},
    "tools": [
        {"id": "tool_1", "name": "w", "http": {"url": "https://x", "headers": [
            HEADER, {"name": "X-Old", "value": "v"}]}},
        {"id": "tool_2", "name": "b", "type": "builtin", "execution_mode": "async"},
        "not-a-tool",
    ],
    "pre_connect_requests": [{"http": {"url": "https://y", "http_method": "GET",
                                       "headers": [{"name": "K", "value": "v2"}]}}, 7],
    "llm": [{"base_url": "https://l", "model": "m", "api_key": "llm-s3cret"}],
    "future_field": {"kept": True},
    "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-03T00:00:00.000000Z",
}


def test_a_full_record_reads_as_before_and_without_secrets():
    expected = copying_public_view(STORED)

    shown = public_view(copy.deepcopy(STORED))

    assert json.dumps(shown) == json.dumps(expected)  # the same bytes, keys in order
    assert "s3cret" not in json.dumps(shown)
    assert shown["tools"][0]["http"]["headers"][1]["last_set_at"] == STORED["updated_at"]


def test_with_defaults_leaves_its_argument_alone():
    before = copy.deepcopy(STORED)

    filled = with_defaults(STORED)

    assert before == STORED and filled["transfer_targets"] == []
    filled["input"]["format"]["sample_rate"] = 1  # shares nothing with the record
    assert before == STORED
    assert rec.DEFAULT_INPUT["format"]["sample_rate"] == 24000  # nor with the defaults


def test_the_defaults_are_never_shared_between_answers():
    one = public_view({"name": "a"})
    one["input"]["format"]["encoding"] = "changed"
    one["tools"].append("x")

    two = public_view({"name": "b"})

    assert two["input"]["format"]["encoding"] == "audio/pcm" and two["tools"] == []
    assert rec.DEFAULTS["tools"] == [] and rec.DEFAULT_FORMAT["encoding"] == "audio/pcm"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "x", "audio"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["format", "type", "value", "name", "http", "headers",
                                       "encoding", "x"]), inner, max_size=3),
    max_leaves=8,
)
HEADERS = st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from(["A", "B"])},
    optional={"value": st.text(max_size=3), "last_set_at": st.sampled_from(["", "t"])},
) | JSON, max_size=3)
HTTP = st.fixed_dictionaries({}, optional={"url": st.just("https://x"), "headers": HEADERS,
                                           "http_method": st.just("GET")}) | JSON
# Lists stay lists (every write is checked), anything may be inside them or elsewhere.
RECORDS = st.fixed_dictionaries(
    {"name": st.text(max_size=3)},
    optional={
        "input": JSON, "output": JSON, "greeting": JSON,
        "tools": st.lists(st.fixed_dictionaries({"name": st.just("t")},
                                                optional={"http": HTTP, "timeout_seconds": JSON})
                          | JSON, max_size=3),
        "pre_connect_requests": st.lists(st.fixed_dictionaries({}, optional={"http": HTTP})
                                         | JSON, max_size=2),
        "llm": st.lists(st.fixed_dictionaries({}, optional={"api_key": st.just("k")}) | JSON,
                        max_size=2),
        "updated_at": st.just("2026-01-01T00:00:00.000000Z"), "zz_newer": JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_any_stored_record_reads_as_before(record):
    expected = copying_public_view(record)

    assert json.dumps(public_view(copy.deepcopy(record))) == json.dumps(expected)
