"""The emulator's OpenAPI 3.1 document, served at `/openapi.json`.

It describes what the emulator (and so, as far as the reference goes, the service) accepts
and answers: every REST operation under `/v1` (agents, tokens, built-in tools, sessions and
their webhook deliveries, calls, phone numbers, webhook subscriptions), every status it may
return, and the shape of every body. Not described: the live session (WebSocket `/v1/ws`),
the presigned artifact links (`/artifacts/...`, no key, outside `/v1`) and the emulator's
own request log (`/_emulator/requests`).

The agent bodies are the spec file's JSON Schema (`spec/schema.json`, the same rules as
`agentctl validate`); the other shapes are written here, from the key lists the emulator
builds its answers from where it has one (`sessions.LIST_KEYS`, `sessions.ARTIFACTS`,
`webhooks.PUBLIC`, ...), so a key added there without a schema fails at once. The
conformance fuzzer in `tests/fuzz/` drives requests from this document and checks each
answer against it, so the document is a contract the emulator is tested to keep.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentctl.record import RECORD_ORDER, REQUIRED_ON_CREATE

AGENT_ID = {"type": "string", "pattern": "^agent_[0-9a-f]{32}$"}
TOOL_ID = {"type": "string", "pattern": "^tool_[0-9a-f]{32}$"}
TIMESTAMP = {"type": "string", "format": "date-time",
             "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
SPEC_ONLY = ("$schema",)  # an editor hint in spec files; agentctl drops it before sending


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


ANNOTATIONS = ("description", "examples", "title", "default", "$schema")


def _strip_annotations(schema: Any) -> Any:
    """The schema without prose (descriptions, examples, defaults): a smaller document."""
    if isinstance(schema, list):
        return [_strip_annotations(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key == "properties":  # a map of names (which may be "description") to schemas
            out[key] = {name: _strip_annotations(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "required"):
            out[key] = value
        else:
            out[key] = _strip_annotations(value)
    return out


def _create_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec file's schema, tightened where the emulator is stricter than a spec file
    (a spec may rely on a stored value or be checked offline): a known voice (§8), a
    description on a tool (platform tools aside), header values and the LLM key given."""
    from agentctl.spec.rules import KNOWN_VOICES

    body = copy.deepcopy(spec)
    for key in SPEC_ONLY:
        body["properties"].pop(key, None)
    props = body["properties"]
    props["voice"]["properties"]["voice_id"] = {"enum": list(KNOWN_VOICES)}
    tool = props["tools"]["items"]
    tool["required"] = sorted({*tool.get("required", []), "description"})
    for holder in (tool, props["pre_connect_requests"]["items"]):
        headers = holder["properties"]["http"]["properties"]["headers"]
        headers["type"] = "array"
        headers["items"]["required"] = ["name", "value"]
    llm = props["llm"]["items"]
    llm["required"] = sorted({*llm.get("required", []), "api_key"})
    return body


def _update_schema(create: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(create)
    body.pop("required", None)  # every field optional: omitted fields stay as they are
    voice = body["properties"]["voice"]["properties"]
    voice["voice_id"] = {"enum": voice["voice_id"]["enum"]}
    for name, prop in body["properties"].items():  # null clears an optional field
        if name not in REQUIRED_ON_CREATE and isinstance(prop.get("type"), str):
            prop["type"] = [prop["type"], "null"]
    return body


def _agent_schema(create: dict[str, Any]) -> dict[str, Any]:
    """A full record as GET/POST/PUT answer it: defaults filled, ids, secrets masked."""
    agent = copy.deepcopy(create)
    props = agent["properties"]
    props["id"], props["created_at"], props["updated_at"] = AGENT_ID, TIMESTAMP, TIMESTAMP
    agent["required"] = list(RECORD_ORDER)  # every field, defaults filled on read
    props["input"]["required"] = ["type", "format"]
    props["output"]["required"] = ["type", "format"]
    tool = props["tools"]["items"]
    tool["properties"]["id"] = TOOL_ID
    tool["required"] = sorted({*tool.get("required", []), "id", "timeout_seconds",
                               "execution_mode"})
    # Write-only values are never read back; headers read as {name, last_set_at} (§7.5).
    read_header = {"type": "object", "additionalProperties": False,
                   "required": ["name", "last_set_at"],
                   "properties": {"name": {"type": "string"}, "last_set_at": TIMESTAMP}}
    for holder in (tool, props["pre_connect_requests"]["items"]):
        holder["properties"]["http"]["properties"]["headers"] = {
            "type": "array", "items": read_header}
        holder["properties"]["http"]["required"] = ["url", "http_method"]
    llm = props["llm"]["items"]
    llm["properties"].pop("api_key", None)  # write-only: never read back (§7.8)
    llm["required"] = [key for key in llm.get("required", []) if key != "api_key"]
    return agent


PAGING = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
]


def _page(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """The §5 list envelope."""
    return {"type": "object", "additionalProperties": False,
            "required": [key, "has_more", "response_metadata"],
            "properties": {key: {"type": "array", "items": item},
                           "has_more": {"type": "boolean"},
                           "response_metadata": {
                               "type": "object", "required": ["next_cursor"],
                               "properties": {"next_cursor": {"type": "string"}}}}}


# -- sessions, webhooks, calls, phone numbers (§10-§13) ---------------------------------------

E164 = {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"}
SESSION_ID = {"type": "string", "pattern": "^sess_[0-9a-f]{32}$"}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "The same key and body replay the first answer (§3).",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 255}}


def _maybe(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _id(prefix: str) -> dict[str, Any]:
    """`<prefix>_<32 hex>`: the SDK fixtures' prefixes, the tail inferred (§4)."""
    return {"type": "string", "pattern": f"^{prefix}_[0-9a-f]{{32}}$"}


def _fields(keys: tuple[str, ...], types: dict[str, Any]) -> dict[str, Any]:
    """An object of exactly `keys`, typed by `types`. Where the emulator builds an answer
    from a key list, `keys` is that list: a key added there without a type here is a
    KeyError at once, and a type for a key it no longer has is refused too."""
    unused = set(types) - set(keys)
    if unused:
        raise KeyError(f"typed but not answered: {sorted(unused)}")
    return {"type": "object", "additionalProperties": False, "required": list(keys),
            "properties": {key: types[key] for key in keys}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _platform_schemas() -> dict[str, Any]:
    from agentctl.emulator import calls, numbers, sessions, webhooks

    session = {
        "id": SESSION_ID, "agent_id": _maybe(AGENT_ID),
        "status": {"enum": ["created", "completed"]},  # §10: while connected, after
        "public_close_reason": {"type": ["string", "null"], "minLength": 1},
        "duration_seconds": {"type": ["number", "null"], "minimum": 0},
        "created_at": TIMESTAMP, "ended_at": _maybe(TIMESTAMP),
    }
    # The configuration as it ran: write-only values gone (header values, LLM keys).
    header = {"type": "object", "additionalProperties": False, "required": ["name"],
              "properties": {"name": {"type": "string"}, "last_set_at": TIMESTAMP}}
    with_http = {"type": "object", "properties": {"http": _maybe({
        "type": "object", "properties": {"headers": {"type": "array", "items": header}}})}}
    config = _fields(("id", *sessions.CONFIG_KEYS), {
        "id": SESSION_ID, "system_prompt": {"type": ["string", "null"]},
        "greeting": {"type": ["string", "null"]}, "input": {"type": ["object", "null"]},
        "output": {"type": ["object", "null"]},
        "tools": {"type": "array", "items": with_http},
        "pre_connect_requests": {"type": "array", "items": with_http},
        "llm": _maybe({"type": "array",
                       "items": _ref("Agent/properties/llm/items")}),
    })
    artifact = _fields(("type", "url", "content_type"), {
        "type": {"enum": [kind for kind, _, _ in sessions.ARTIFACTS]},
        "url": {"type": "string",
                "pattern": r"^https?://[^/]+/artifacts/sess_[0-9a-f]{32}/[^?]+"
                           r"\?expires=\d+&signature=[0-9a-f]{64}$"},
        "content_type": {"enum": sorted({kind for _, _, kind in sessions.ARTIFACTS})},
    })
    delivery = _fields(("id", "subscription_id", "session_id", "attempt_count", "status",
                        "http_status_code", "error", "delivered_at", "next_retry_at",
                        "created_at"), {
        "id": _id("whd"), "subscription_id": _id("whs"), "session_id": _maybe(SESSION_ID),
        "attempt_count": {"type": "integer", "minimum": 0,
                          "maximum": webhooks.DELIVERY_ATTEMPTS},
        "status": {"enum": ["pending", "delivered", "failed"]},
        "http_status_code": {"type": ["integer", "null"], "minimum": 100, "maximum": 599},
        "error": {"type": ["string", "null"], "minLength": 1},
        "delivered_at": _maybe(TIMESTAMP), "next_retry_at": _maybe(TIMESTAMP),
        "created_at": TIMESTAMP,
    })
    events = {"type": "array", "minItems": 1, "uniqueItems": True,
              "items": {"enum": list(webhooks.EVENTS)}}
    url = {"type": "string", "minLength": 1, "maxLength": webhooks.MAX_URL}
    subscription_write = {"url": url, "events": events,
                          "secret": {"type": "string", "minLength": webhooks.MIN_SECRET},
                          "enabled": {"type": "boolean"}}
    return {
        "SessionListItem": _fields(sessions.LIST_KEYS, session),
        "Session": _fields((*sessions.LIST_KEYS, "config", "artifacts"), {
            **session, "config": _ref("SessionConfig"),
            "artifacts": {"type": "array", "items": _ref("Artifact"),
                          "maxItems": len(sessions.ARTIFACTS)}}),
        "SessionConfig": config,
        "Artifact": artifact,
        "WebhookDelivery": delivery,
        "WebhookSubscription": _fields(webhooks.PUBLIC, {
            "id": _id("whs"), "agent_id": _maybe(AGENT_ID), "url": url, "events": events,
            "enabled": {"type": "boolean"}, "secret_version": {"type": "integer", "minimum": 1},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP}),
        "WebhookSubscriptionCreate": {
            "type": "object", "additionalProperties": False,
            "required": ["url", "events", "secret"],
            "properties": {**subscription_write, "agent_id": {"type": ["string", "null"]}}},
        "WebhookSubscriptionUpdate": {"type": "object", "additionalProperties": False,
                                      "properties": subscription_write},
        "Call": _fields(("id", "status", "direction", "agent_id", "from_number", "to_number",
                         "session_id", "ended_at", "duration_seconds", "created_at",
                         "updated_at"), {
            "id": _id("call"), "status": {"enum": list(calls.STATUSES)},
            "direction": {"enum": ["inbound", "outbound"]}, "agent_id": _maybe(AGENT_ID),
            "from_number": E164, "to_number": E164, "session_id": _maybe(SESSION_ID),
            "ended_at": _maybe(TIMESTAMP),
            "duration_seconds": {"type": ["number", "null"], "minimum": 0},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP}),
        "CallCreate": {"type": "object", "required": ["from_number", "to_number"],
                       "properties": {"from_number": E164, "to_number": E164}},
        "CallCreated": _fields(("id", "status"), {"id": _id("call"),
                                                  "status": {"const": "dialing"}}),
        "PhoneNumber": _fields(("id", "phone_number", "agent_id", "type", "termination_uri",
                                "country_code", "number_type", "label", "created_at",
                                "updated_at"), {
            "id": _id("pn"), "phone_number": E164, "agent_id": _maybe(AGENT_ID),
            "type": {"enum": ["managed", "imported"]},
            "termination_uri": {"type": ["string", "null"], "minLength": 1,
                                "maxLength": 2048},
            "country_code": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
            "number_type": {"enum": list(numbers.NUMBER_TYPES)},
            "label": {"type": ["string", "null"], "maxLength": 200},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP}),
        "PhoneNumberSearch": {
            "type": "object", "required": ["country_code", "number_type"],
            "properties": {
                "country_code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "number_type": {"enum": list(numbers.NUMBER_TYPES)},
                "area_code": {"type": ["integer", "null"], "minimum": 1, "maximum": 99999},
                "locality": {"type": ["string", "null"], "maxLength": 200},
                "label": {"type": ["string", "null"], "maxLength": 200},
                "agent_id": {"type": ["string", "null"]}}},
        "PhoneNumberPurchase": {"type": "object", "required": ["phone_number"],
                                "properties": {"phone_number": E164}},
        "PhoneNumberImport": {
            "type": "object", "required": ["phone_number"],
            "properties": {"phone_number": E164,
                           "termination_uri": {"type": ["string", "null"], "minLength": 1,
                                               "maxLength": 2048},
                           "label": {"type": ["string", "null"], "maxLength": 200}}},
        "PhoneNumberAssign": {"type": "object", "required": ["agent_id"],
                              "properties": {"agent_id": {"type": "string"}}},
    }


def _platform_paths(unauthorized: dict[str, Any], invalid: dict[str, Any],
                    too_large: dict[str, Any]) -> dict[str, Any]:
    from agentctl.emulator import calls
    from agentctl.emulator.plumbing import MAX_PAGE_SIZE

    paging = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
               "Items per page, 1-200 (default 50)."),
        _query("cursor", {"type": "string"}, "The `next_cursor` of the page before."),
    ]
    deleted = {"description": "Deleted; no body."}
    key_refused = _error("`Idempotency-Key` empty, longer than 255 or not printable ASCII:"
                         " `idempotency_key_invalid`.")
    in_progress = "`idempotency_in_progress`: the first request with this key still runs"
    session_id = _path("session_id", "A session's id (`sess_...`).")
    no_session = _error("No session with that id: `session_not_found`.")
    no_call = _error("No call with that id: `call_not_found`.")
    number = _path("phone_number", "An E.164 number, `+` sent as `%2B`.")
    no_number = _error("The number is not registered here: `phone_number_not_found`.")
    no_subscription = _error("No subscription with that id:"
                             " `webhook_subscription_not_found`.")
    subscription_id = _path("subscription_id", "A subscription's id (`whs_...`).")
    already = _error("Another subscription has that URL for the same agent (or both"
                     " account-wide): `webhook_subscription_already_exists` (409 inferred).")
    number_answer = _json(_ref("PhoneNumber"), "The number's record.")
    deliveries = {
        "parameters": [session_id],
        "get": {"parameters": paging, "responses": {
            "200": _json(_page("deliveries", _ref("WebhookDelivery")),
                         "One page of the session's deliveries, newest first."),
            "401": unauthorized, "404": no_session, "422": invalid}},
    }
    return {
        "/v1/sessions": {"get": {
            "operationId": "listSessions",
            "summary": "List sessions, newest first, a page at a time",
            "parameters": [*paging,
                           _query("status", {"enum": ["created", "completed"]},
                                  "Only sessions with this status."),
                           _query("agent_id", {"type": "string"},
                                  "Only this agent's sessions.")],
            "responses": {"200": _json(_page("sessions", _ref("SessionListItem")),
                                       "One page of sessions."),
                          "401": unauthorized, "422": invalid}}},
        "/v1/sessions/{session_id}": {
            "parameters": [session_id],
            "get": {"operationId": "getSession",
                    "summary": "One session: its configuration as it ran and, once"
                               " completed, presigned links to its artifacts",
                    "responses": {"200": _json(_ref("Session"), "The session."),
                                  "401": unauthorized, "404": no_session}},
            "delete": {"operationId": "deleteSession",
                       "summary": "Delete a session, its artifacts and deliveries",
                       "responses": {"204": deleted, "401": unauthorized,
                                     "404": no_session}},
        },
        "/v1/sessions/{session_id}/webhook-deliveries": {
            **deliveries, "get": {**deliveries["get"], "operationId": "listWebhookDeliveries",
                                  "summary": "The session's webhook deliveries"}},
        "/v1/sessions/{session_id}/webhook-deliveries/latest": {
            **deliveries, "get": {**deliveries["get"],
                                  "operationId": "listLatestWebhookDeliveries",
                                  "summary": "The latest delivery per subscription"}},
        "/v1/calls": {
            "get": {"operationId": "listCalls", "summary": "List calls, newest first",
                    "parameters": [*paging,
                                   _query("status", {"enum": list(calls.STATUSES)},
                                          "Only calls with this status."),
                                   _query("direction", {"enum": ["inbound", "outbound"]},
                                          "Only calls in this direction.")],
                    "responses": {"200": _json(_page("calls", _ref("Call")),
                                               "One page of calls."),
                                  "401": unauthorized, "422": invalid}},
            "post": {"operationId": "createCall",
                     "summary": "Call `to_number` from a registered number with an agent",
                     "parameters": [IDEMPOTENCY_KEY],
                     "requestBody": _body(_ref("CallCreate")),
                     "responses": {
                         "201": _json(_ref("CallCreated"), "Dialing."),
                         "400": key_refused, "401": unauthorized,
                         "404": _error("`from_number` is not registered here:"
                                       " `phone_number_not_found`."),
                         "409": _error("`phone_number_has_no_agent` (`from_number` has no"
                                       f" agent), or {in_progress}."),
                         "413": too_large, "422": invalid}},
        },
        "/v1/calls/{call_id}": {
            "parameters": [_path("call_id", "A call's id (`call_...`).")],
            "get": {"operationId": "getCall", "summary": "One call",
                    "responses": {"200": _json(_ref("Call"), "The call."),
                                  "401": unauthorized, "404": no_call}},
            "delete": {"operationId": "deleteCall", "summary": "Delete an ended call's record",
                       "responses": {"204": deleted, "401": unauthorized, "404": no_call,
                                     "422": _error("The call is still dialing or active:"
                                                   " `validation_error` (inferred).")}},
        },
        "/v1/phone-numbers": {
            "get": {"operationId": "listPhoneNumbers",
                    "summary": "List registered numbers, newest first",
                    "parameters": paging,
                    "responses": {"200": _json(_page("phone_numbers", _ref("PhoneNumber")),
                                               "One page of numbers."),
                                  "401": unauthorized, "422": invalid}},
            "post": {"operationId": "searchAndBuyPhoneNumber",
                     "summary": "Buy the first free number matching a search",
                     "parameters": [IDEMPOTENCY_KEY],
                     "requestBody": _body(_ref("PhoneNumberSearch")),
                     "responses": {
                         "201": number_answer, "400": key_refused, "401": unauthorized,
                         "404": _error("No agent with `agent_id`: `agent_not_found`."),
                         "409": _error("`phone_number_not_available` (nothing matches), or"
                                       f" {in_progress}."),
                         "413": too_large, "422": invalid}},
        },
        "/v1/phone-numbers/purchase": {"post": {
            "operationId": "purchasePhoneNumber", "summary": "Buy one number",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body(_ref("PhoneNumberPurchase")),
            "responses": {"201": number_answer, "400": key_refused, "401": unauthorized,
                          "409": _error("`phone_number_not_available` (not for sale, or"
                                        f" taken), or {in_progress}."),
                          "413": too_large, "422": invalid}}},
        "/v1/phone-numbers/import": {"post": {
            "operationId": "importPhoneNumber",
            "summary": "Register a number of your own SIP trunk",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body(_ref("PhoneNumberImport")),
            "responses": {"201": number_answer, "400": key_refused, "401": unauthorized,
                          "409": _error("`phone_number_conflict` (registered already), or"
                                        f" {in_progress}."),
                          "413": too_large, "422": invalid}}},
        "/v1/phone-numbers/{phone_number}": {
            "parameters": [number],
            "get": {"operationId": "getPhoneNumber", "summary": "One registered number",
                    "responses": {"200": number_answer, "401": unauthorized,
                                  "404": no_number}},
            "delete": {"operationId": "deletePhoneNumber",
                       "summary": "Release or deregister a number",
                       "responses": {"204": deleted, "401": unauthorized, "404": no_number}},
        },
        "/v1/phone-numbers/{phone_number}/agent": {
            "parameters": [number],
            "put": {"operationId": "assignPhoneNumber",
                    "summary": "The agent that answers the number",
                    "requestBody": _body(_ref("PhoneNumberAssign")),
                    "responses": {"200": number_answer, "401": unauthorized,
                                  "404": _error("`phone_number_not_found`, or"
                                                " `agent_not_found`."),
                                  "413": too_large, "422": invalid}},
            "delete": {"operationId": "unassignPhoneNumber",
                       "summary": "No agent answers the number",
                       "responses": {"204": deleted, "401": unauthorized, "404": no_number}},
        },
        "/v1/webhook-subscriptions": {
            "get": {"operationId": "listWebhookSubscriptions",
                    "summary": "List subscriptions, newest first",
                    "parameters": [*paging, _query(
                        "include_disabled", {"type": "boolean"},
                        "`true` (or `1`, `yes`, `on`): disabled ones too.")],
                    "responses": {"200": _json(_page("subscriptions",
                                                     _ref("WebhookSubscription")),
                                               "One page of subscriptions."),
                                  "401": unauthorized, "422": invalid}},
            "post": {"operationId": "createWebhookSubscription",
                     "summary": "Subscribe a URL to events (the secret is write-only)",
                     "requestBody": _body(_ref("WebhookSubscriptionCreate")),
                     "responses": {
                         "201": _json(_ref("WebhookSubscription"), "The subscription."),
                         "401": unauthorized,
                         "404": _error("No agent with `agent_id`: `agent_not_found`."),
                         "409": already,
                         "413": too_large, "422": invalid}},
        },
        "/v1/webhook-subscriptions/{subscription_id}": {
            "parameters": [subscription_id],
            "get": {"operationId": "getWebhookSubscription", "summary": "One subscription",
                    "responses": {"200": _json(_ref("WebhookSubscription"),
                                               "The subscription."),
                                  "401": unauthorized, "404": no_subscription}},
            "patch": {"operationId": "updateWebhookSubscription",
                      "summary": "Change url, events (replaced), secret (rotated) or enabled",
                      "requestBody": _body(_ref("WebhookSubscriptionUpdate")),
                      "responses": {"200": _json(_ref("WebhookSubscription"),
                                                 "The updated subscription."),
                                    "401": unauthorized, "404": no_subscription,
                                    "409": already, "413": too_large, "422": invalid}},
            "delete": {"operationId": "deleteWebhookSubscription",
                       "summary": "Delete a subscription",
                       "responses": {"204": deleted, "401": unauthorized,
                                     "404": no_subscription}},
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    from agentctl import __version__
    from agentctl.spec.diagnostics import load_schema
    from agentctl.spec.rules import EXECUTION_MODES

    create = _create_schema(_strip_annotations(load_schema()))
    agent_id = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
    unauthorized = _error("No, malformed or unknown key: `Missing authorization header` or"
                          " `Unauthorized`.")
    invalid = _error("The body or a parameter is invalid: `validation_error`, one `errors[]`"
                     " entry per field (`param` = its path), `detail` in FastAPI's list form.")
    too_large = _error("The body is larger than 4 MiB.")
    not_found = _error("No agent with that id: `agent_not_found`.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AssemblyAI Voice Agent API (agentctl emulator)",
            "version": __version__,
            "description": "The REST side of the Voice Agent API as agentctl's emulator"
            " serves it: every operation under `/v1`. Send the key as `Authorization: <key>`"
            " (a `Bearer ` prefix is accepted). Not described here: the live session (a"
            " WebSocket at `/v1/ws`), the presigned artifact links a session's `artifacts`"
            " give (`/artifacts/...`: no key, outside `/v1`) and the emulator's request log"
            " (`/_emulator/requests`). The service's tool secrets and agent deployments"
            " (§14) are not served.",
        },
        "security": [{"ApiKey": []}],
        "paths": {
            "/v1/agents": {
                "get": {
                    "operationId": "listAgents",
                    "summary": "List agents, newest first, a page at a time",
                    "parameters": PAGING,
                    "responses": {
                        "200": _json(_page("agents", _ref("AgentListItem")),
                                     "One page of lightweight items."),
                        "401": unauthorized, "422": invalid,
                    },
                },
                "post": {
                    "operationId": "createAgent",
                    "summary": "Create an agent",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": _ref("AgentCreate")}}},
                    "responses": {
                        "201": _json(_ref("Agent"), "The new agent."),
                        "401": unauthorized, "413": too_large, "422": invalid,
                    },
                },
            },
            "/v1/agents/{agent_id}": {
                "parameters": [agent_id],
                "get": {
                    "operationId": "getAgent",
                    "summary": "One agent, write-only values masked",
                    "responses": {"200": _json(_ref("Agent"), "The agent."),
                                  "401": unauthorized, "404": not_found},
                },
                "put": {
                    "operationId": "updateAgent",
                    "summary": "Change an agent: only the fields sent",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": _ref("AgentUpdate")}}},
                    "responses": {"200": _json(_ref("Agent"), "The updated agent."),
                                  "401": unauthorized, "404": not_found, "413": too_large,
                                  "422": invalid},
                },
                "delete": {
                    "operationId": "deleteAgent",
                    "summary": "Delete an agent",
                    "responses": {"204": {"description": "Deleted; no body."},
                                  "401": unauthorized, "404": not_found},
                },
            },
            "/v1/token": {
                "get": {
                    "operationId": "mintToken",
                    "summary": "A one-time token for a browser's WebSocket",
                    "parameters": [
                        {"name": "product", "in": "query", "required": False,
                         "schema": {"type": "string"}},
                        {"name": "expires_in_seconds", "in": "query", "required": True,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 600}},
                        {"name": "max_session_duration_seconds", "in": "query",
                         "required": False,
                         "schema": {"type": "integer", "minimum": 60, "maximum": 10800}},
                    ],
                    "responses": {
                        "200": _json({"type": "object", "additionalProperties": False,
                                      "required": ["token", "expires_in_seconds"],
                                      "properties": {"token": {"type": "string",
                                                               "minLength": 1},
                                                     "expires_in_seconds": {
                                                         "type": "integer"}}},
                                     "The token."),
                        "401": unauthorized, "422": invalid,
                    },
                },
            },
            "/v1/tokens": {
                "post": {
                    "operationId": "createToken",
                    "summary": "A one-time token (the SDK's variant)",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"expires_in_seconds": {
                            "type": "integer", "minimum": 1, "maximum": 600}}}}}},
                    "responses": {
                        "200": _json({"type": "object", "additionalProperties": False,
                                      "required": ["token", "expires_at"],
                                      "properties": {"token": {"type": "string",
                                                               "minLength": 1},
                                                     "expires_at": TIMESTAMP}},
                                     "The token."),
                        "401": unauthorized, "413": too_large, "422": invalid,
                    },
                },
            },
            "/v1/builtin-tools": {
                "get": {
                    "operationId": "listBuiltinTools",
                    "summary": "The platform tools an agent may attach by name",
                    "responses": {
                        "200": _json({"type": "object", "additionalProperties": False,
                                      "required": ["builtin_tools"],
                                      "properties": {"builtin_tools": {
                                          "type": "array", "items": _ref("BuiltinTool")}}},
                                     "The tools."),
                        "401": unauthorized,
                    },
                },
            },
            **_platform_paths(unauthorized, invalid, too_large),
        },
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization"},
            },
            "schemas": {
                "AgentCreate": create,
                "AgentUpdate": _update_schema(create),
                "Agent": _agent_schema(create),
                "BuiltinTool": {  # §14
                    "type": "object", "additionalProperties": False,
                    "required": ["name", "description", "parameters", "execution_mode"],
                    "properties": {"name": {"type": "string", "minLength": 1},
                                   "description": {"type": "string", "minLength": 1},
                                   "parameters": {"type": "object"},
                                   "execution_mode": {"enum": list(EXECUTION_MODES)}},
                },
                "AgentListItem": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "name", "created_at", "updated_at"],
                    "properties": {"id": AGENT_ID, "name": {"type": "string"},
                                   "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
                },
                **_platform_schemas(),
                "Error": {
                    "type": "object", "additionalProperties": False,
                    "required": ["code", "message", "param", "request_id", "errors", "detail"],
                    "properties": {
                        "code": {"type": "string", "minLength": 1},
                        "message": {"type": "string", "minLength": 1},
                        "param": {"type": ["string", "null"]},
                        "request_id": {"type": "string", "minLength": 1},
                        "errors": {"anyOf": [{"type": "null"}, {"type": "array", "items": {
                            "type": "object", "additionalProperties": False,
                            "required": ["message", "param"],
                            "properties": {"message": {"type": "string"},
                                           "param": {"type": ["string", "null"]}}}}]},
                        "detail": {"anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": _ref("ErrorDetail")},
                        ]},
                    },
                },
                "ErrorDetail": {
                    "type": "object", "additionalProperties": False,
                    "required": ["loc", "msg", "type"],
                    "properties": {
                        "loc": {"type": "array",
                                "items": {"type": ["string", "integer"]}},
                        "msg": {"type": "string", "minLength": 1},
                        "type": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    """`GET /openapi.json`: the document above (no key needed, like FastAPI's)."""
    return JSONResponse(openapi_document())
