"""Layer boundaries (code-style 4.2): each layer, imported in a fresh interpreter, must not
bring in the top-level modules it has no business with.

Every module of a layer is imported in turn, so a failure names the module that pulled the
forbidden one in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Never, anywhere: Typer vendors Click (a second copy would be the httpx trap, code-style 3);
# pydantic is what Typer >= 0.29 would add to every run.
NEVER = ["click", "pydantic"]

LAYERS: dict[str, tuple[list[str], list[str]]] = {
    # name: (modules or packages, forbidden top-level modules)
    "spec": (["agentctl.spec"], ["httpx", "rich", "typer", "websockets"]),
    "api": (["agentctl.api"], ["rich", "typer", "yaml"]),
    "session": (["agentctl.session"], ["rich", "typer"]),
    "render": (["agentctl.render"], ["httpx", "typer", "websockets"]),
    "emulator": (["agentctl.emulator"], ["typer", "rich", "agentctl.cli", "agentctl.render"]),
    "settings": (["agentctl.settings", "agentctl.profiles", "agentctl.errors",
                  "agentctl.exit_codes"], ["httpx", "rich", "typer", "yaml"]),
    # Tab's fast path: answers from the saved command tree, without Typer.
    "cli.tab": (["agentctl.cli.tab"], ["typer", "rich", "httpx", "yaml", "starlette",
                                       "hypercorn", "sqlite3", "asyncio"]),
    # The CLI's registration table: everything heavy is deferred into command bodies.
    "cli.app": (["agentctl.cli.app"], ["httpx", "yaml", "websockets", "starlette", "hypercorn",
                                       "sqlite3", "asyncio", "rich"]),
}

PROBE = r"""
import importlib, importlib.util, json, os, pkgutil, sys

targets, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])

def walk(name, path):  # a package's modules, found on disk without importing them
    for info in pkgutil.iter_modules([path]):
        if info.name == "__main__":
            continue
        yield f"{name}.{info.name}"
        if info.ispkg:
            yield from walk(f"{name}.{info.name}", os.path.join(path, info.name))

names = []
for target in targets:
    names.append(target)
    for path in importlib.util.find_spec(target).submodule_search_locations or []:
        names += list(walk(target, path))

def loaded(name):
    return any(m == name or m.startswith(name + ".") for m in sys.modules)

found = {}
already = sorted(f for f in forbidden if loaded(f))  # by the parent packages of the targets
if already:
    found["(parent packages of " + ", ".join(targets) + ")"] = already
for name in names:
    before = {f for f in forbidden if loaded(f)}
    importlib.import_module(name)
    new = sorted(f for f in forbidden if loaded(f) and f not in before)
    if new:
        found[name] = new
print(json.dumps({"modules": names, "found": found}))
"""


def probe(targets: list[str], forbidden: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(targets), json.dumps(forbidden)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_nothing_it_must_not(layer: str) -> None:
    targets, forbidden = LAYERS[layer]
    report = probe(targets, [*forbidden, *NEVER])
    assert report["modules"], f"no modules found for {targets}"
    assert report["found"] == {}, (
        f"layer {layer}: these modules import what the layer must not (code-style 4.2): "
        f"{report['found']}"
    )


def test_no_module_imports_click_or_pydantic() -> None:
    report = probe(["agentctl"], NEVER)
    assert len(report["modules"]) > 20
    assert report["found"] == {}


def test_probe_catches_a_violation() -> None:
    # The probe itself can fail: the emulator's app does load Starlette.
    report = probe(["agentctl.emulator.app"], ["starlette"])
    assert report["found"] == {"agentctl.emulator.app": ["starlette"]}
