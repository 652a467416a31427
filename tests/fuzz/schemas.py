"""Just enough JSON Schema for the emulator's OpenAPI document: a validator and a
hypothesis strategy of valid instances. Both refuse keywords they do not know, so the
document cannot quietly outgrow what the fuzzer checks."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

KNOWN = {
    "$ref", "type", "enum", "const", "properties", "required", "additionalProperties",
    "items", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
    "uniqueItems", "pattern", "anyOf", "format",
}
TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


class Schemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    # -- validation ------------------------------------------------------------------------
    def errors(self, value: Any, schema: dict[str, Any], at: str = "$") -> list[str]:
        schema = self.resolve(schema)
        unknown = set(schema) - KNOWN
        assert not unknown, f"{at}: the fuzzer does not know {sorted(unknown)}"
        found: list[str] = []
        kinds = schema.get("type")
        if kinds is not None:
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not any(TYPES[k](value) for k in kinds):
                return [f"{at}: {type(value).__name__} is not {'/'.join(kinds)}"]
        if "const" in schema and value != schema["const"]:
            found.append(f"{at}: {value!r} is not {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{at}: {value!r} is not one of {schema['enum']}")
        if "anyOf" in schema and all(self.errors(value, s, at) for s in schema["anyOf"]):
            found.append(f"{at}: matches none of anyOf")
        if isinstance(value, str):
            if len(value) < schema.get("minLength", 0):
                found.append(f"{at}: shorter than {schema['minLength']}")
            if len(value) > schema.get("maxLength", float("inf")):
                found.append(f"{at}: longer than {schema['maxLength']}")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                found.append(f"{at}: {value!r} does not match {schema['pattern']}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value < schema.get("minimum", float("-inf")):
                found.append(f"{at}: {value} < {schema['minimum']}")
            if value > schema.get("maximum", float("inf")):
                found.append(f"{at}: {value} > {schema['maximum']}")
        if isinstance(value, dict):
            props = schema.get("properties", {})
            found += [f"{at}: missing {k!r}" for k in schema.get("required", []) if k not in value]
            extra = schema.get("additionalProperties", True)
            for key, item in value.items():
                if key in props:
                    found += self.errors(item, props[key], f"{at}.{key}")
                elif extra is False:
                    found.append(f"{at}: unexpected {key!r}")
                elif isinstance(extra, dict):
                    found += self.errors(item, extra, f"{at}.{key}")
        if isinstance(value, list):
            if len(value) > schema.get("maxItems", float("inf")):
                found.append(f"{at}: more than {schema['maxItems']} items")
            if len(value) < schema.get("minItems", 0):
                found.append(f"{at}: fewer than {schema['minItems']} items")
            if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
                found.append(f"{at}: items repeat")
            if "items" in schema:
                for i, item in enumerate(value):
                    found += self.errors(item, schema["items"], f"{at}[{i}]")
        return found

    # -- generation ------------------------------------------------------------------------
    def strategy(self, schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
        schema = self.resolve(schema)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        if "anyOf" in schema:
            return st.one_of([self.strategy(s, name) for s in schema["anyOf"]])
        kinds = schema.get("type")
        if kinds is None:
            return JSON
        if isinstance(kinds, list):
            return st.one_of([self.strategy({**schema, "type": k}, name) for k in kinds])
        if kinds == "string":
            return self._string(schema, name)
        if kinds == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kinds == "number":
            low, high = schema.get("minimum"), schema.get("maximum")
            return st.integers(low, high) | st.floats(low, high, allow_nan=False,
                                                      allow_infinity=False)
        if kinds == "boolean":
            return st.booleans()
        if kinds == "null":
            return st.none()
        if kinds == "array":
            items = self.strategy(schema.get("items", {}), name)
            low = schema.get("minItems", 0)
            return st.lists(items, min_size=low, max_size=max(min(schema.get("maxItems", 3), 3),
                                                              low),
                            unique_by=repr if schema.get("uniqueItems") else None)
        return self._object(schema)

    def _string(self, schema: dict[str, Any], name: str) -> st.SearchStrategy[str]:
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 24), 24)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) <= schema.get("maxLength", 10**9))
        if name in ("url", "base_url"):  # the schema says string; the rules want more
            return st.sampled_from(URLS) | st.text(min_size=low, max_size=high)
        return st.text(min_size=max(low, 0), max_size=max(high, low))

    def _object(self, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        props = schema.get("properties")
        if not props:
            return st.dictionaries(st.text(max_size=8), JSON, max_size=3)
        required = [k for k in schema.get("required", []) if k in props]
        optional = [k for k in props if k not in required]

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            chosen = required + draw(st.lists(st.sampled_from(optional), unique=True)
                                     if optional else st.just([]))
            return {key: draw(self.strategy(props[key], key)) for key in chosen}

        return build()


URLS = ["https://api.example.com/weather", "https://llm.example.com/v1",
        "http://api.example.com/x", "https://127.0.0.1/x", "https://10.1.2.3/", "ftp://x/y"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
