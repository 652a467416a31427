"""The emulator's OpenAPI 3.1 document, served at `/openapi.json`.

It describes what the emulator (and so, as far as the reference goes, the service) accepts
and answers: every operation, every status it may return, and the shape of every body.
The request bodies are the spec file's JSON Schema (`spec/schema.json`, the same rules as
`agentctl validate`); the response shapes are written here. The conformance fuzzer in
`tests/fuzz/` drives requests from this document and checks each answer against it, so
the document is a contract the emulator is tested to keep.
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
    body = copy.deepcopy(spec)
    for key in SPEC_ONLY:
        body["properties"].pop(key, None)
    return body


def _update_schema(create: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(create)
    body.pop("required", None)  # every field optional: omitted fields stay as they are
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
    props["llm"]["items"]["properties"].pop("api_key", None)
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


@functools.cache
def openapi_document() -> dict[str, Any]:
    from agentctl import __version__
    from agentctl.spec.diagnostics import load_schema

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
            " serves it. Send the key as `Authorization: <key>` (a `Bearer ` prefix is"
            " accepted). The live session is a WebSocket at `/v1/ws`, not described here.",
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
                        "401": unauthorized, "422": invalid,
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
                                          "type": "array", "items": {"type": "object"}}}},
                                     "The tools."),
                        "401": unauthorized,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization"},
            },
            "schemas": {
                "AgentCreate": create,
                "AgentUpdate": _update_schema(create),
                "Agent": _agent_schema(create),
                "AgentListItem": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "name", "created_at", "updated_at"],
                    "properties": {"id": AGENT_ID, "name": {"type": "string"},
                                   "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
                },
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
