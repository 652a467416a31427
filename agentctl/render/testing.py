"""`agentctl test` on screen: a line per test as it finishes, what failed and the
transcript around it, then a summary; `-o json` prints one document at the end instead
(the per-test lines then go to stderr). Works on the JSON records of
`agentctl.testing.report`, so the screen and `-o json` say the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentctl.render.redact import escape_controls

if TYPE_CHECKING:
    from agentctl.render.output import Output

STATUS = {"passed": ("PASS", "green"), "failed": ("FAIL", "bold red"),
          "error": ("ERROR", "bold red")}


def _clean(text: Any) -> str:
    """One-line text from a transcript or a file: line breaks escaped too (the sink's
    primitives escape the other control characters and scrub secrets)."""
    return escape_controls(str(text), keep_newlines=False)


def show_result(out: Output, test: dict[str, Any]) -> None:
    """One test: its line; for a failure, each failed check and the transcript around it;
    for an error, why it could not run."""
    stream = out.human
    word, style = STATUS[test["status"]]
    out.styled(stream, f"{word:<5} {_clean(test['name'])}  ({_clean(test['file'])}, "
               f"{test['duration_s']:.1f} s)", style)
    if test["status"] == "error":
        out.styled(stream, f"      {_clean(test['error'] or '')}")
        if test.get("hint"):
            out.styled(stream, f"      hint: {_clean(test['hint'])}", "dim")
    for check in test["checks"]:
        if check["passed"]:
            continue
        where = f"{_clean(check['where'])}: " if check.get("where") else ""
        detail = f": {_clean(check['detail'])}" if check.get("detail") else ""
        out.styled(stream, f"      {where}{_clean(check['label'])}{detail}", "red")
        for line in check.get("context") or []:
            who = "agent" if line["who"] == "agent" else "user "
            turn = "greeting" if line["turn"] == 0 else f"turn {line['turn']}"
            out.styled(stream, f"        [{turn}] {who}: {_clean(line['text'])}", "dim")
    for warning in test.get("warnings") or []:
        out.warn(_clean(warning))


def show_summary(out: Output, document: dict[str, Any], seconds: float) -> None:
    if out.machine:
        out.data(document)
        return
    counts = document["summary"]
    parts = [f"{counts['passed']} passed"]
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    if counts["errors"]:
        parts.append(f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}")
    style = "green" if counts["passed"] == counts["tests"] else "bold red"
    out.styled(out.human, f"{', '.join(parts)} in {seconds:.1f} s", style)
