"""Test results as data: JSON records (`-o json`), JUnit XML (`--junit`), and the files
`--save-dir` keeps for each test. Nothing here prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentctl.testing.expect import Check, Line
from agentctl.testing.run import TestResult

CONTEXT_TURNS = 1  # turns shown either side of the one a failure is about
CONTEXT_LINES = 8  # lines shown for a failure not about one turn (the last ones)


def context(result: TestResult, check: Check) -> list[Line]:
    """The transcript around a failed check: its turn and a turn either side, or the
    last lines of the conversation."""
    lines = result.transcript
    if check.turn is not None:
        near = [ln for ln in lines if abs(ln.turn - check.turn) <= CONTEXT_TURNS]
        if near:
            return near
    return lines[-CONTEXT_LINES:]


def summary(results: Sequence[TestResult]) -> dict[str, int]:
    counts = {"tests": len(results), "passed": 0, "failed": 0, "errors": 0}
    for result in results:
        counts["errors" if result.status == "error" else result.status] += 1
    return counts


def record(result: TestResult) -> dict[str, Any]:
    """One test as JSON (`-o json`)."""
    test = result.test
    report = result.agent.report or {}
    return {
        "file": test.source,
        "name": test.name,
        "status": result.status,
        "duration_s": round(result.duration, 3),
        "agent": test.agent.describe(),
        "session_id": result.agent.session_id,
        "caller_session_id": result.caller.session_id if result.caller else None,
        "error": result.error,
        "hint": result.hint,
        "exit_code": result.exit_code if result.status == "error" else None,
        "checks": [{**c.as_dict(), **({} if c.passed else {
            "context": [ln.as_dict() for ln in context(result, c)]})}
            for c in result.checks],
        "transcript": [ln.as_dict() for ln in result.transcript],
        "tool_calls": [c.as_dict() for c in result.tool_calls],
        "totals": report.get("totals"),
        "attempts": result.attempts,
        "warnings": result.warnings,
    }


def document(results: Sequence[TestResult]) -> dict[str, Any]:
    return {"tests": [record(r) for r in results], "summary": summary(results)}


def transcript_text(lines: Sequence[Line]) -> str:
    out = []
    for ln in lines:
        who = "agent" if ln.who == "agent" else "user "
        turn = "greeting" if ln.turn == 0 else f"turn {ln.turn}"
        cut = " [interrupted]" if ln.interrupted else ""
        out.append(f"[{turn}] {who}: {ln.text}{cut}")
    return "\n".join(out) + ("\n" if out else "")


# -- JUnit XML -----------------------------------------------------------------------------------


def junit_xml(results: Sequence[TestResult]) -> bytes:
    """One <testsuite> per test file, one <testcase> per test; a failed check is a
    <failure>, a test that could not run an <error>; the transcript is its system-out."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="agentctl test")
    files: dict[str, list[TestResult]] = {}
    for result in results:
        files.setdefault(result.test.source, []).append(result)
    totals = summary(results)
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failed"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", f"{sum(r.duration for r in results):.3f}")
    for source, group in files.items():
        counts = summary(group)
        suite = ET.SubElement(root, "testsuite", name=_xml_text(source),
                              tests=str(counts["tests"]),
                              failures=str(counts["failed"]), errors=str(counts["errors"]),
                              skipped="0", time=f"{sum(r.duration for r in group):.3f}")
        for result in group:
            case = ET.SubElement(suite, "testcase", name=_xml_text(result.test.name),
                                 classname=_xml_text(source), file=_xml_text(source),
                                 line=str(result.test.line),
                                 time=f"{result.duration:.3f}")
            if result.status == "error":
                node = ET.SubElement(case, "error", message=_xml_text(result.error or ""),
                                     type="error")
                node.text = _xml_text(result.error or "") + (
                    f"\nhint: {_xml_text(result.hint)}" if result.hint else "")
            elif result.status == "failed":
                failed = result.failed_checks
                message = "; ".join(f"{c.label}: {c.detail}" if c.detail else c.label
                                    for c in failed)
                node = ET.SubElement(case, "failure", message=_xml_text(message),
                                     type="expectation")
                node.text = "\n".join(
                    _xml_text(f"{c.where + ': ' if c.where else ''}{c.label}: {c.detail}")
                    for c in failed)
            if result.transcript:
                out = ET.SubElement(case, "system-out")
                out.text = _xml_text(transcript_text(result.transcript))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped: drop them."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


# -- --save-dir -----------------------------------------------------------------------------------


def save(result: TestResult, directory: str | Path) -> Path:
    """Keep a test's transcript, checks, events and both sides' audio under
    `directory/<file>-<test>/`; returns that directory."""
    from agentctl.fileio import path_in, write_atomic
    from agentctl.session.wav import wav_bytes

    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    name = f"{Path(result.test.source).stem}-{result.test.name}"
    where = path_in(base, name)
    where.mkdir(exist_ok=True)

    def put(file: str, data: str | bytes) -> None:
        write_atomic(where / file, data, force=True)

    put("result.json", json.dumps(record(result), indent=2, ensure_ascii=False) + "\n")
    put("transcript.txt", transcript_text(result.transcript))
    put("events.jsonl", _jsonl(result.agent.events))
    if result.agent.said:
        put("agent.wav", wav_bytes(result.agent.said, result.agent.out_rate))
    if result.agent.heard:
        put("caller.wav", wav_bytes(result.agent.heard, result.agent.in_rate))
    if result.caller is not None:
        put("caller-events.jsonl", _jsonl(result.caller.events))
    return where


def _jsonl(events: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
