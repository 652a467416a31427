"""The emulator script's `sessions`: each session its own turns, by its system prompt."""

from __future__ import annotations

import pytest

from agentctl.emulator.script import ScriptError, parse_script

SCRIPT = {
    "speed": 4.0,
    "turns": [{"user": "Hi", "reply": "Agent here."}],
    "sessions": [
        {"match": "customer", "turns": [{"reply": "My order is 123."}],
         "default_reply": "Bye."},
        {"match": "^you call", "turns": []},
    ],
}


def test_a_session_follows_the_first_entry_its_prompt_matches():
    script = parse_script(SCRIPT)
    caller = script.for_session("You are a CUSTOMER with a late order.")
    assert caller.turn(0).reply == "My order is 123." and caller.turn(1).reply == "Bye."
    assert caller.speed == 4.0  # the speed is the top level's
    assert script.for_session("You call the shop.").turn(0).reply.startswith("I heard")
    assert script.for_session("You are the front desk.") is script
    assert script.for_session("").turn(0).reply == "Agent here."


@pytest.mark.parametrize(("sessions", "message"), [
    ("x", "sessions: must be a list"),
    ([{"turns": []}], "sessions[0]: needs match"),
    ([{"match": "("}], "sessions[0].match: not a valid regular expression"),
    ([{"match": "a", "speed": 2}], "sessions[0]: speed and sessions belong at the top level"),
    ([{"match": "a", "turns": [{"usr": "x"}]}], "sessions[0]: turns[0].usr: unknown field"),
])
def test_bad_sessions_are_refused_with_where(sessions, message):
    with pytest.raises(ScriptError) as raised:
        parse_script({"sessions": sessions}, "s.yaml")
    assert message in str(raised.value) and str(raised.value).startswith("s.yaml")
