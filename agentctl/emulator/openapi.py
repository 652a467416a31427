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

UUID = {"type": "string", "format": "uuid",
        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
TIMESTAMP = {"type": "string", "format": "date-time",
             "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
READ_ONLY = ("id", "created_at", "updated_at")
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
    body["properties"]["greeting"] = {"type": ["string", "null"]}  # null removes it
    return body


def _agent_schema(create: dict[str, Any]) -> dict[str, Any]:
    """A full record as GET/POST/PUT answer it: defaults filled, ids, secrets masked."""
    agent = copy.deepcopy(create)
    props = agent["properties"]
    props["id"], props["created_at"], props["updated_at"] = UUID, TIMESTAMP, TIMESTAMP
    props["greeting"] = {"type": "string"}  # absent rather than null
    props["voice"]["properties"]["voice_id"] = {"type": ["string", "null"]}
    agent["required"] = ["id", "name", "system_prompt", "voice", "input", "output", "tools",
                         "created_at", "updated_at"]
    props["input"]["required"] = ["type", "format", "keyterms", "turn_detection"]
    props["output"]["required"] = ["type", "format", "volume"]
    tool = props["tools"]["items"]
    tool["properties"]["id"] = UUID
    tool["required"] = sorted({*tool.get("required", []), "id"})
    header = tool["properties"]["http"]["properties"]["headers"]["items"]
    header["properties"]["value"] = {"const": "***"}  # write-only
    llm_entry = props["llm"]["items"]
    llm_entry["properties"].pop("api_key", None)  # write-only: never read back
    return agent


@functools.cache
def openapi_document() -> dict[str, Any]:
    from agentctl import __version__
    from agentctl.spec.diagnostics import load_schema

    create = _create_schema(_strip_annotations(load_schema()))
    agent_id = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
    unauthorized = _error("No, malformed or unknown key: `Missing authorization header` or"
                          " `Unauthorized`.")
    invalid = _error("The body or a parameter is invalid: FastAPI-style details.")
    too_large = _error("The body is larger than 4 MiB.")
    not_found = _error("No agent with that id.")
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
                    "summary": "List agents, newest first",
                    "responses": {
                        "200": _json({"type": "array", "items": _ref("AgentListItem")},
                                     "Every agent, lightweight."),
                        "401": unauthorized,
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
                        {"name": "expires_in_seconds", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 600}},
                    ],
                    "responses": {
                        "200": _json({"type": "object", "additionalProperties": False,
                                      "required": ["token"],
                                      "properties": {"token": {"type": "string",
                                                               "minLength": 1}}},
                                     "The token."),
                        "401": unauthorized, "422": invalid,
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
                    "properties": {"id": UUID, "name": {"type": "string"},
                                   "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
                },
                "Error": {
                    "type": "object", "additionalProperties": False, "required": ["detail"],
                    "properties": {"detail": {"anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": _ref("ErrorDetail")},
                    ]}},
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
