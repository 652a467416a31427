"""One error tree: each class carries its exit code; `cli.main` turns them into one line."""

from __future__ import annotations

from agentctl.exit_codes import ExitCode


class AgentctlError(Exception):
    """An error the user should see as one line on stderr, with an optional hint."""

    exit_code: ExitCode = ExitCode.REJECTED

    def __init__(
        self, message: str, *, hint: str | None = None, details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # More lines under the error line (each field a service's 422 names), bounded.
        self.details = details


class UsageError(AgentctlError):
    exit_code = ExitCode.USAGE


class SpecError(AgentctlError):
    exit_code = ExitCode.SPEC


class AuthError(AgentctlError):
    exit_code = ExitCode.AUTH


class NotFoundError(AgentctlError):
    exit_code = ExitCode.NOT_FOUND


class RejectedError(AgentctlError):
    exit_code = ExitCode.REJECTED


class UnavailableError(AgentctlError):
    exit_code = ExitCode.UNAVAILABLE
