"""Entry point: hoist global flags, run the app, turn every error into one line + exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from agentctl.cli import process
from agentctl.exit_codes import ExitCode
from agentctl.settings import BOOL_FLAGS, VALUE_FLAGS, Environment

# Subcommands with an option of their own by a global flag's name: not hoisted there.
_OWN_FLAGS = {"emulator": {"--api-key"}}


def hoist_global_flags(argv: Sequence[str]) -> list[str]:
    """Move global flags found after the subcommand to the front, so
    `agentctl list --profile prod` means `agentctl --profile prod list`.

    Stops at `--`; keeps `--flag=value` forms; leaves a value flag with no value in place
    (the parser then reports it).
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    args = list(argv)
    command = next((a for a in args if a in _OWN_FLAGS), None)
    own = _OWN_FLAGS.get(command or "", set())
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in own and command in rest:
            rest.append(arg)
        elif name in VALUE_FLAGS and "=" in arg:
            front.append(arg)
        elif name in VALUE_FLAGS and i + 1 < len(args):
            front.extend(args[i:i + 2])
            i += 1
        elif arg in BOOL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run agentctl; returns (and, as a console script, exits with) the exit code.

    `env` (the streams, variables and secrets of the run) defaults to this process's."""
    if argv is None:
        process.pause_gc()
    if argv is None and os.environ.get("_AGENTCTL_COMPLETE", "").startswith("complete_"):
        from agentctl.cli.tab import answer

        answered = answer()  # Tab, from the cached command tree: no Typer to import
        if answered is not None:
            sys.exit(answered)
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and (not args or args[-1] in ("--help", "-h")):
        from agentctl.cli.savedhelp import answer as saved_help

        answered = saved_help(args)  # the text an earlier run printed: no Typer to import
        if answered is not None:
            process.exit_now(answered)
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    hoisted = hoist_global_flags(args)
    env = env or Environment.from_process()
    code = print_version(env) if _asks_version(hoisted) else run(hoisted, env, debug=debug)
    if argv is None:
        process.exit_now(code)
    return code


def _key_on_command_line(args: list[str]) -> bool:
    """The global --api-key among the leading (hoisted) flags: visible in the process list.
    (`emulator serve --api-key` is that command's own option, after its name.)"""
    return "--api-key" in _leading(args)[0]


def _asks_version(args: list[str]) -> bool:
    """`--version` among the leading global flags: answered without building the Typer app,
    which is most of a run's start-up time (as the app's eager `--version` would answer)."""
    return _leading(args)[1] == "--version"


def _leading(args: list[str]) -> tuple[list[str], str | None]:
    """The names of the leading global flags, and the first word after them (None: none)."""
    names: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg in VALUE_FLAGS:
            i += 2
        elif name in VALUE_FLAGS or arg in BOOL_FLAGS:
            i += 1
        else:
            return names, arg
        names.append(name)
    return names, None


def print_version(env: Environment) -> int:
    """The one `--version` (the root option's callback calls it too)."""
    from agentctl import __version__

    env.stdout.write(f"agentctl {__version__}\n")
    env.stdout.flush()
    return 0


def run(args: list[str], env: Environment | None = None, *, debug: bool) -> int:
    from agentctl.cli.app import app
    from agentctl.cli.savedhelp import saving
    from agentctl.errors import AgentctlError

    env = env or Environment.from_process()

    os.environ.setdefault("_TYPER_STANDARD_TRACEBACK", "1")
    _register_environment_secrets(env)
    if _key_on_command_line(args):
        env.stderr.write(
            "warning: --api-key on the command line can be read by other users of this "
            "machine (ps, /proc); use $ASSEMBLYAI_API_KEY or a profile "
            "(agentctl config set api_key_env VAR)\n")
    try:
        command = _command(app, _subcommand(args))
        # the Environment rides on the root context's obj; the root callback wraps it in
        # the run's State
        process.resume_gc()  # everything loaded so far lives until the end: frozen
        with saving(args, command):  # a help text: kept for the next run (savedhelp)
            result = command.main(args=args, prog_name="agentctl", standalone_mode=False,
                                  obj=env)
        return int(result) if isinstance(result, int) else 0
    except AgentctlError as exc:
        _report(env, exc.message, exc.hint, exc.details)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        env.stderr.write("\ninterrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `agentctl list | head`: the reader left; that is not an error of ours.
        _silence_stdout()
        return 0
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # Bare `agentctl` (or a group such as `agentctl config`) asks for the help,
            # as with kubectl and gh: the help on stdout, exit 0, no error line.
            try:
                sys.stdout.write(exc.ctx.get_help() + "\n")  # type: ignore[attr-defined]
                sys.stdout.flush()
            except BrokenPipeError:  # `agentctl | head -0`: the reader left first
                _silence_stdout()
            return 0
        if _is_usage_error(exc):
            message = exc.format_message()  # type: ignore[attr-defined]
            ctx = getattr(exc, "ctx", None)
            hint = f"see: {ctx.command_path} --help" if ctx is not None else None
            _report(env, message, hint)
            return int(ExitCode.USAGE)
        if type(exc).__name__ == "Abort":
            env.stderr.write("aborted\n")
            return int(ExitCode.INTERRUPTED)
        if debug:
            import traceback

            from agentctl.render.redact import safe_text

            # scrubbed like the error line: an exception's text may quote the key
            env.stderr.write(safe_text(traceback.format_exc(), env.secrets))
        _report(env, f"internal error: {type(exc).__name__}: {exc}",
                None if debug else "run again with --debug for the traceback")
        return 1


def _subcommand(args: list[str]) -> str | None:
    """The command word after the leading global flags (None: there is none)."""
    word = _leading(args)[1]
    return None if word is None or word.startswith("-") else word


def _command(app: object, name: str | None = None):  # -> the framework's command object
    import typer.main

    # Plain help, like kubectl's and gh's: Rich's help module alone costs ~10x a bare
    # interpreter start, over the --help goal, and piped it would draw boxes.
    app.rich_markup_mode = None  # type: ignore[attr-defined]
    if os.environ.get("_AGENTCTL_COMPLETE"):
        command = typer.main.get_command(app)  # type: ignore[arg-type]
        from agentctl.cli.complete import register_shells

        register_shells(command)  # after get_command, which registers Typer's own
        return command
    # Building every command's parameters from its signature costs ~25 ms; a run needs
    # only its own command's. An unknown word gets the whole tree (and its suggestions).
    return typer.main.get_command(_only(app, name) or app)  # type: ignore[arg-type]


def _only(app: object, name: str | None) -> object | None:
    """A copy of the Typer app registering only the command or group called `name`."""
    if name is None:
        return None
    import copy

    commands = [c for c in app.registered_commands if c.name == name]  # type: ignore[attr-defined]
    groups = [g for g in app.registered_groups if g.name == name]  # type: ignore[attr-defined]
    if not commands and not groups:
        return None
    pruned = copy.copy(app)
    pruned.registered_commands = commands  # type: ignore[attr-defined]
    pruned.registered_groups = groups  # type: ignore[attr-defined]
    return pruned


def _is_usage_error(exc: Exception) -> bool:
    """Typer's vendored Click usage errors, recognised without importing Click."""
    return type(exc).__module__.startswith("typer") and hasattr(exc, "format_message")


def _report(
    env: Environment, message: str, hint: str | None, details: tuple[str, ...] = ()
) -> None:
    """The error line (the fields a service named under it, then the hint): secrets
    scrubbed, control characters escaped."""
    from agentctl.render.redact import safe_text

    env.stderr.write(f"error: {safe_text(message, env.secrets)}\n")
    for line in details:
        env.stderr.write(f"  {safe_text(line, env.secrets, keep_newlines=False)}\n")
    if hint:
        env.stderr.write(f"hint: {safe_text(hint, env.secrets)}\n")
    env.stderr.flush()


def _register_environment_secrets(env: Environment) -> None:
    """The key and every variable whose name says secret: never printed by this run."""
    from agentctl.spec.interpolate import secret_environment

    env.secrets.add_all(secret_environment(env.environ).values())


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
