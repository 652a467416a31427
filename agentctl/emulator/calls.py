"""Outbound calls (§11) in the emulator.

`POST /v1/calls {from_number, to_number}` needs `from_number` registered here with an
agent assigned. The call goes `dialing` -> `active` -> `ended`: the emulator plays the
agent's conversation from the live session's script (greeting, then each scripted turn:
the callee's words synthesized on the left, the agent's reply on the right) through the
same `SessionRecorder` as a WebSocket session, so the call leaves a session with a
recording and a timeline. It runs at the pace of speech divided by the live session's
speed. On a call, tools are not run: a client tool is never answered on a call (§12), so
each scripted tool call is recorded with an error result (inferred simplification).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agentctl.emulator.numbers import _e164
from agentctl.emulator.resources import (
    api_error,
    body_object,
    endpoint,
    idempotent,
    invalid,
    new_id,
    not_found,
    now_iso,
    page,
)

if TYPE_CHECKING:
    from agentctl.emulator.platform import Platform

log = logging.getLogger("agentctl.emulator.calls")
KIND = "call"
DIAL_SECONDS = 1.0
STATUSES = ("dialing", "active", "ended", "failed", "refused")


class CallRunner:
    """Plays one call's conversation into the recorder, then ends the call."""

    def __init__(self, platform: Platform, call: dict[str, Any], agent: dict[str, Any]) -> None:
        self.platform = platform
        self.call = call
        self.agent = agent

    def _set(self, **changes: Any) -> dict[str, Any] | None:
        return self.platform.resources.update(
            KIND, self.call["id"], lambda r: {**r, **changes, "updated_at": now_iso()})

    async def run(self) -> None:
        from agentctl.emulator.script import render
        from agentctl.emulator.speech import reply_ms, synthesize

        live = self.platform.live_options
        pace = max(float(getattr(live, "pace", 1.0) or 1.0), 0.01)
        script = getattr(live, "script", None)
        await asyncio.sleep(DIAL_SECONDS / pace)
        session_id = f"sess_{__import__('uuid').uuid4().hex}"
        config = {key: self.agent.get(key) for key in ("system_prompt", "greeting", "input",
                                                       "output", "tools", "llm")}
        # The recording is of a phone line's audio; the emulator keeps it at 24 kHz PCM.
        config["input"] = {**(config.get("input") or {}),
                           "format": {"encoding": "audio/pcm", "sample_rate": 24000}}
        config["output"] = {**(config.get("output") or {}),
                            "format": {"encoding": "audio/pcm", "sample_rate": 24000}}
        recorder = self.platform.recorder
        agent_id = self.agent.get("id")
        if self._set(status="active", session_id=session_id) is None:
            return  # deleted meanwhile
        recorder.started(session_id, agent_id, config)
        self.platform.webhook_event("call.connected", session_id, agent_id,
                                    {"call_id": self.call["id"], "session_id": session_id})
        audio_seconds = 0.0
        replies = 0

        async def say(text: str, *, user: bool) -> float:
            nonlocal replies
            chunks = list(synthesize(text, 24000))
            if user:
                for chunk in chunks:
                    recorder.client_event(session_id, {
                        "type": "input.audio", "audio": base64.b64encode(chunk).decode()})
            else:
                replies += 1
                reply_id = f"resp_{replies}"
                recorder.server_event(session_id, {"type": "reply.started",
                                                   "reply_id": reply_id})
                for chunk in chunks:
                    recorder.server_event(session_id, {
                        "type": "reply.audio", "reply_id": reply_id,
                        "data": base64.b64encode(chunk).decode()})
                recorder.server_event(session_id, {"type": "transcript.agent", "text": text,
                                                   "reply_id": reply_id, "interrupted": False})
                recorder.server_event(session_id, {"type": "reply.done", "reply_id": reply_id,
                                                   "status": "completed"})
            seconds = reply_ms(text) / 1000
            await asyncio.sleep(seconds / pace)
            return seconds

        try:
            greeting = config.get("greeting")
            if isinstance(greeting, str) and greeting.strip():
                audio_seconds += await say(greeting, user=False)
            turns = len(script.turns) if script is not None and script.turns else 1
            for index in range(turns):
                turn = script.turn(index) if script is not None else None
                template = turn.user if turn is not None else "Hello?"
                guess = render(template, seconds="1.0", turn=index + 1)
                seconds = reply_ms(guess) / 1000
                user_text = render(template, seconds=f"{seconds:.1f}", turn=index + 1)
                audio_seconds += await say(user_text, user=True)
                recorder.server_event(session_id, {"type": "transcript.user",
                                                   "text": user_text})
                result = ""
                for number, step in enumerate(turn.tool_calls if turn is not None else ()):
                    call_id = f"call_{index + 1}_{number + 1}"
                    recorder.server_event(session_id, {"type": "tool.call", "call_id": call_id,
                                                       "name": step.name,
                                                       "arguments": step.arguments})
                    result = f"error: {step.name} is not run on an emulated call"
                    recorder.client_event(session_id, {"type": "tool.result",
                                                       "call_id": call_id, "result": result,
                                                       "is_error": True})
                reply = render(turn.reply if turn is not None else "I heard you.",
                               seconds=f"{seconds:.1f}", turn=index + 1, user=user_text,
                               result=result)
                audio_seconds += await say(reply, user=False)
        finally:
            rec = recorder.live.get(session_id)
            if rec is not None:  # the call's duration is its audio, not the sped-up wall time
                rec.started = time.time() - audio_seconds
            recorder.ended(session_id, "call_ended", config)
            self._set(status="ended", ended_at=now_iso(),
                      duration_seconds=round(audio_seconds, 2))
            self.platform.webhook_event("call.ended", session_id, agent_id,
                                        {"call_id": self.call["id"], "session_id": session_id,
                                         "duration_seconds": round(audio_seconds, 2)})


def routes(platform: Platform) -> list[BaseRoute]:
    store = platform.resources
    tasks: set[asyncio.Task[None]] = set()

    @endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            status = request.query_params.get("status")
            direction = request.query_params.get("direction")
            rows = [(seq, r) for seq, r in store.items(KIND)
                    if (status is None or r.get("status") == status)
                    and (direction is None or r.get("direction") == direction)]
            return page(request, "calls", rows)
        body = await body_object(request)
        from_number = _e164(body.get("from_number"), "from_number")
        to_number = _e164(body.get("to_number"), "to_number")
        number = store.get("number", from_number)
        if number is None:
            raise api_error(404, "phone_number_not_found",
                                f"{from_number} is not registered here", param="from_number")
        agent = platform.state.store.get_agent(number["agent_id"]) if number.get(
            "agent_id") else None
        if agent is None:
            raise api_error(409, "phone_number_has_no_agent",
                                f"{from_number} has no agent assigned", param="from_number")

        async def dial() -> tuple[int, Any]:
            now = now_iso()
            call = {"id": new_id("call"), "status": "dialing", "direction": "outbound",
                    "agent_id": agent["id"], "from_number": from_number,
                    "to_number": to_number, "session_id": None, "ended_at": None,
                    "duration_seconds": None, "created_at": now, "updated_at": now}
            store.put(KIND, call)
            task = asyncio.get_running_loop().create_task(
                _run(CallRunner(platform, call, agent)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return 201, {"id": call["id"], "status": "dialing"}

        return await idempotent(request, store, body, dial)

    async def _run(runner: CallRunner) -> None:
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: visible to tests (errors stay empty), call failed
            platform.state.errors.append(exc)
            log.exception("emulator: call %s failed", runner.call["id"])
            runner._set(status="failed", ended_at=now_iso())

    @endpoint
    async def item(request: Request) -> Response:
        call = store.get(KIND, request.path_params["call_id"])
        if call is None:
            raise not_found("call_not_found", "call")
        if request.method == "DELETE":
            if call["status"] in ("dialing", "active"):
                raise invalid("call_id", "the call is still in progress", where="path")
            store.delete(KIND, call["id"])
            return Response(status_code=204)
        return JSONResponse(call)

    return [
        Route("/v1/calls", collection, methods=["GET", "POST"]),
        Route("/v1/calls/{call_id}", item, methods=["GET", "DELETE"]),
    ]
