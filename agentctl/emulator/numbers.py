"""Phone numbers (§12) and built-in tools (§14) in the emulator.

Numbers to buy come from a small deterministic inventory of fictional numbers: US
+1 <area> 555 01xx (area codes below; 555-0100..0199 are reserved for fiction) and GB
+44 20 7946 0xxx / +44 7700 900xxx (Ofcom's drama ranges). A search buys the first free
one that matches; buying a specific number needs it to be in the inventory. An import
takes any E.164 number that is not registered yet. All of this is the emulator's own
choice (inferred): the service's inventory is its telephony provider's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

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
from agentctl.spec.builtins import BUILTIN_TOOLS

if TYPE_CHECKING:
    from agentctl.emulator.platform import Platform

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
NUMBER_TYPES = ("local", "mobile", "national")
US_AREA_CODES = (415, 212, 312, 206, 512)
KIND = "number"


def inventory(country: str, number_type: str, area_code: int | None) -> list[str]:
    """Numbers for sale, in the order a search offers them."""
    if country == "US":
        areas = [area_code] if area_code is not None else list(US_AREA_CODES)
        return [f"+1{a}5550{n}" for a in areas if a in US_AREA_CODES for n in range(100, 200)]
    if country == "GB":
        if area_code is not None and area_code != 20:
            return []
        if number_type == "mobile":
            return [f"+447700900{n:03d}" for n in range(1000)]
        return [f"+442079460{n:03d}" for n in range(1000)]
    return []


def country_of(number: str) -> tuple[str | None, str]:
    """(country code, number type) of an inventory number."""
    if number.startswith("+1") and len(number) == 12:
        return "US", "local"
    if number.startswith("+447700900"):
        return "GB", "mobile"
    if number.startswith("+44"):
        return "GB", "local"
    return None, "local"


def _e164(value: Any, param: str = "phone_number") -> str:
    if not isinstance(value, str) or not E164.match(value):
        raise invalid(param, "must be an E.164 number like +14155550100")
    return value


def _optional_str(body: dict[str, Any], key: str, limit: int = 200) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(key, f"must be a string of at most {limit} characters")
    return value


def _check_agent(platform: Platform, agent_id: Any, param: str = "agent_id") -> str | None:
    if agent_id is None:
        return None
    if not isinstance(agent_id, str) or platform.state.store.get_agent(agent_id) is None:
        raise api_error(404, "agent_not_found", f"no agent with id {agent_id!r}",
                            param=param)
    return agent_id


def _termination_uri(value: Any) -> str:
    # A trunk FQDN (my-trunk.pstn.twilio.com) or a sip: URI, at most 2048 characters.
    if (not isinstance(value, str) or not value or len(value) > 2048
            or any(c.isspace() for c in value)
            or not (value.startswith(("sip:", "sips:")) or re.match(r"^[A-Za-z0-9.-]+$", value))):
        raise invalid("termination_uri", "must be a SIP trunk host name or a sip: URI")
    return value


def routes(platform: Platform) -> list[BaseRoute]:
    store = platform.resources

    def record(number: str, *, kind: str, agent_id: str | None = None,
               termination_uri: str | None = None, label: str | None = None,
               country: str | None = None, number_type: str = "local") -> dict[str, Any]:
        now = now_iso()
        return {"id": new_id("pn"), "phone_number": number, "agent_id": agent_id, "type": kind,
                "termination_uri": termination_uri, "country_code": country,
                "number_type": number_type, "label": label, "created_at": now,
                "updated_at": now}

    def register(number: dict[str, Any]) -> dict[str, Any]:
        if store.get(KIND, number["phone_number"]) is not None:
            raise api_error(409, "phone_number_conflict",
                                f"{number['phone_number']} is already registered")
        return store.put(KIND, number, key=number["phone_number"])

    def lookup(request: Request) -> dict[str, Any]:
        # The server decoded the path once already (`%2B` is `+`); a second decoding would
        # take `%252B...` (the text "%2B...") for the number too.
        number = request.path_params["number"]
        found = store.get(KIND, number)
        if found is None:
            raise not_found("phone_number_not_found", f"phone number {number}")
        return found

    @endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "phone_numbers", store.items(KIND))
        body = await body_object(request)
        country = body.get("country_code")
        if not isinstance(country, str) or not re.match(r"^[A-Z]{2}$", country):
            raise invalid("country_code", "required: an ISO 3166 country code like US")
        number_type = body.get("number_type")
        if number_type not in NUMBER_TYPES:
            raise invalid("number_type", f"required: one of {', '.join(NUMBER_TYPES)}")
        area = body.get("area_code")
        if area is not None and (not isinstance(area, int) or isinstance(area, bool)
                                 or not 0 < area < 100000):
            raise invalid("area_code", "must be an integer")
        label = _optional_str(body, "label")
        _optional_str(body, "locality")
        agent_id = _check_agent(platform, body.get("agent_id"))

        async def buy() -> tuple[int, Any]:
            for candidate in inventory(country, number_type, area):
                if store.get(KIND, candidate) is None:
                    return 201, register(record(candidate, kind="managed", agent_id=agent_id,
                                                label=label, country=country,
                                                number_type=number_type))
            raise api_error(409, "phone_number_not_available",
                                "no number matches that search", param="area_code")

        return await idempotent(request, store, body, buy)

    @endpoint
    async def purchase(request: Request) -> Response:
        body = await body_object(request)
        number = _e164(body.get("phone_number"))

        async def buy() -> tuple[int, Any]:
            country, number_type = country_of(number)
            if country is None or number not in inventory(country, number_type, None):
                raise api_error(409, "phone_number_not_available",
                                    f"{number} is not for sale", param="phone_number")
            if store.get(KIND, number) is not None:
                raise api_error(409, "phone_number_not_available",
                                    f"{number} is already taken", param="phone_number")
            return 201, register(record(number, kind="managed", country=country,
                                        number_type=number_type))

        return await idempotent(request, store, body, buy)

    @endpoint
    async def import_(request: Request) -> Response:
        body = await body_object(request)
        number = _e164(body.get("phone_number"))
        uri = body.get("termination_uri")
        uri = None if uri is None else _termination_uri(uri)
        label = _optional_str(body, "label")

        async def bring() -> tuple[int, Any]:
            country, _ = country_of(number)
            return 201, register(record(number, kind="imported", termination_uri=uri,
                                        label=label, country=country))

        return await idempotent(request, store, body, bring)

    @endpoint
    async def item(request: Request) -> Response:
        number = lookup(request)
        if request.method == "DELETE":
            store.delete(KIND, number["phone_number"])
            return Response(status_code=204)
        return JSONResponse(number)

    @endpoint
    async def agent(request: Request) -> Response:
        number = lookup(request)
        if request.method == "DELETE":
            agent_id = None
        else:
            body = await body_object(request)
            if not isinstance(body.get("agent_id"), str):
                raise invalid("agent_id", "required: the id of the agent to answer calls")
            agent_id = _check_agent(platform, body["agent_id"])

        def change(current: dict[str, Any]) -> dict[str, Any]:
            return {**current, "agent_id": agent_id, "updated_at": now_iso()}

        changed = store.update(KIND, number["phone_number"], change)
        if changed is None:  # released meanwhile (between the lookup and the change)
            raise not_found("phone_number_not_found", f"phone number {number['phone_number']}")
        if request.method == "DELETE":
            return Response(status_code=204)
        return JSONResponse(changed)

    @endpoint
    async def builtin_tools(request: Request) -> Response:
        return JSONResponse({"builtin_tools": [dict(tool) for tool in BUILTIN_TOOLS]})

    return [
        Route("/v1/phone-numbers", collection, methods=["GET", "POST"]),
        Route("/v1/phone-numbers/purchase", purchase, methods=["POST"]),
        Route("/v1/phone-numbers/import", import_, methods=["POST"]),
        Route("/v1/phone-numbers/{number}/agent", agent, methods=["PUT", "DELETE"]),
        Route("/v1/phone-numbers/{number}", item, methods=["GET", "DELETE"]),
        Route("/v1/builtin-tools", builtin_tools, methods=["GET"]),
    ]
