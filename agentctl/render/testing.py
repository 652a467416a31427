"""`agentctl test` on screen: a line per test as it finishes, what failed and the
transcript around it, then a summary; `-o json` prints one document at the end instead
(the per-test lines then go to stderr)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentctl.spec.load import one_line

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.testing.run import TestResult

STATUS = {"passed": ("PASS", "green"), "failed": ("FAIL", "bold red"),
          "error": ("ERROR", "bold red")}


def show_result(out: Output, result: TestResult) -> None:
    """One test: its line; for a failure, each failed check and the transcript around it;
    for an error, why it could not run."""
    from agentctl.testing.report import context

    stream = out.human
    word, style = STATUS[result.status]
    test = result.test
    out.styled(stream, f"{word:<5} {one_line(test.name)}  ({one_line(test.source)}, "
               f"{result.duration:.1f} s)", style)
    if result.status == "error":
        out.styled(stream, f"      {one_line(result.error or '')}")
        if result.hint:
            out.styled(stream, f"      hint: {one_line(result.hint)}", "dim")
    for check in result.failed_checks:
        where = f"{one_line(check.where)}: " if check.where else ""
        out.styled(stream, f"      {where}{one_line(check.label)}: {one_line(check.detail)}",
                   "red")
        for line in context(result, check):
            who = "agent" if line.who == "agent" else "user "
            turn = "greeting" if line.turn == 0 else f"turn {line.turn}"
            out.styled(stream, f"        [{turn}] {who}: {one_line(line.text)}", "dim")
    for warning in result.warnings:
        out.warn(one_line(warning))


def show_summary(out: Output, results: Sequence[TestResult], seconds: float) -> None:
    from agentctl.testing.report import document, summary

    if out.machine:
        out.data(document(results))
        return
    counts = summary(results)
    parts = [f"{counts['passed']} passed"]
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    if counts["errors"]:
        parts.append(f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}")
    style = "green" if counts["passed"] == counts["tests"] else "bold red"
    out.styled(out.human, f"{', '.join(parts)} in {seconds:.1f} s", style)
