"""`connect`: a live session with an agent over the WebSocket."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentctl.cli.complete import complete_agents
from agentctl.cli.options import EnvFileOpt, OptionalFilesOpt
from agentctl.cli.state import get_state

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.session.audio import AudioSink, AudioSource
    from agentctl.session.runner import SessionResult, Until

TIMEOUT_SLACK = 60.0  # beyond the input's own length, for --input FILE


class SessionFormat(StrEnum):
    text = "text"
    jsonl = "jsonl"


def connect(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Argument(
        metavar="[AGENT]", help="A stored agent: id or exact name (or use -f).",
        autocompletion=complete_agents)] = None,
    files: OptionalFilesOpt = None,
    env_file: EnvFileOpt = None,
    input_: Annotated[str | None, typer.Option(
        "--input", "-i", metavar="FILE.wav|-",
        help="Send this audio instead of the microphone: a WAV file (converted to 24 kHz "
        "mono PCM16), or - for raw PCM16 24 kHz mono on stdin.")] = None,
    output_wav: Annotated[Path | None, typer.Option(
        "--output", metavar="FILE.wav", dir_okay=False,
        help="Save the agent's audio as a WAV file.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Let --output replace an existing file.")] = False,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="reply|greeting|N-replies|timeout",
        help="End the session after this (default with --input: reply; otherwise Ctrl-C).",
        show_default=False)] = None,
    timeout_session: Annotated[float | None, typer.Option(
        "--timeout-session", metavar="SECONDS", min=0.001,
        help="Give up (exit 7) if --until has not happened by then; with --until timeout, "
        "the session's length. Default with --input FILE: its length + 60 s.",
        show_default=False)] = None,
    tool: Annotated[list[str] | None, typer.Option(
        "--tool", metavar="NAME=COMMAND|NAME=@FILE",
        help="Answer client tool calls: COMMAND gets the arguments as JSON on stdin and "
        "prints the result; @FILE answers with the file's text. Repeatable.")] = None,
    tool_timeout: Annotated[float, typer.Option(
        "--tool-timeout", metavar="SECONDS", min=0.001,
        help="How long a --tool command may run.")] = 10.0,
    fmt: Annotated[SessionFormat, typer.Option(
        "--format", "-o", case_sensitive=False,
        help="text: the transcript; jsonl: every event as one JSON line, then the report.")]
    = SessionFormat.text,
    speed: Annotated[float, typer.Option(
        "--speed", metavar="X", min=0.01, max=1000.0,
        help="Stream --input X times faster than real time (for tests and CI).")] = 1.0,
) -> None:
    """Talk to an agent live: microphone and speaker, or --input/--output WAV files."""
    from agentctl.errors import AuthError, UsageError
    from agentctl.render.live import TranscriptView, show_report
    from agentctl.render.output import OutputMode
    from agentctl.session.inline import audio_rate, trailing_silence_ms
    from agentctl.session.runner import LiveSession, SessionPlan, Until
    from agentctl.session.tools import parse_tools
    from agentctl.session.ws import ws_url

    state = get_state(ctx)
    jsonl = fmt == SessionFormat.jsonl
    out = state.output(OutputMode.json if jsonl else OutputMode.table)
    if bool(agent) == bool(files):
        raise UsageError("give either AGENT (a stored agent) or -f PATH (an inline "
                         "configuration)", hint="see: agentctl connect --help")
    stop = Until.parse(until if until is not None else ("reply" if input_ else None))
    if stop.kind == "timeout" and timeout_session is None:
        raise UsageError("--until timeout needs --timeout-session SECONDS")
    if output_wav is not None and output_wav.exists() and not force:
        raise UsageError(f"--output {output_wav}: the file exists",
                         hint="pass --force to replace it, or choose another name")
    tools = parse_tools(list(tool or []))

    base_url = state.base_url()
    if files:
        from agentctl.cli.specs import read_specs
        from agentctl.session.ws import is_loopback_url
        from agentctl.usecases.connect import inline_config

        # An emulator on loopback may call loopback tools (--allow-loopback-tools).
        docs = read_specs(files, state.spec_environment(env_file), out, partial=True,
                          allow_loopback_urls=is_loopback_url(base_url))
        config, session = inline_config(docs, warn=out.warn)
    else:
        assert agent is not None
        api = state.api()
        config = api.get_agent(str(api.resolve(agent)["id"]))
        session = {"agent_id": config["id"]}
    api_key = state.settings.api_key
    if not api_key:
        raise AuthError("no API key", hint="set ASSEMBLYAI_API_KEY, pass --api-key, or use "
                        "--local (the embedded emulator)")
    has_greeting = bool(str(config.get("greeting") or "").strip())
    if stop.kind == "greeting" and not has_greeting:
        raise UsageError("--until greeting: the agent has no greeting")
    in_rate, out_rate = audio_rate(config, "input"), audio_rate(config, "output")

    source, duration = _source(input_, in_rate)
    sink: AudioSink | None = None
    result: SessionResult | None = None
    try:
        if input_ is None:
            from agentctl.session.audio import Speaker

            sink = Speaker(out_rate)
        trailing_ms = trailing_silence_ms(config)
        timeout = timeout_session
        if timeout is None and duration is not None:
            timeout = (duration * 1000 + trailing_ms) / 1000 / speed + TIMEOUT_SLACK
        plan = SessionPlan(
            url=ws_url(base_url), api_key=api_key, session=session,
            has_greeting=has_greeting, input_rate=in_rate, output_rate=out_rate,
            source=source, sink=sink, until=stop, timeout=timeout, tools=tools,
            tool_timeout=tool_timeout, speed=speed, trailing_silence_ms=trailing_ms,
            open_timeout=state.settings.timeout, keep_audio=output_wav is not None,
        )
        if state.settings.verbose or state.settings.debug:
            what = f"agent {config.get('name')!r}" if agent else f"inline {files[0]}"
            out.info(f"connecting to {plan.url} ({what})")
        view = TranscriptView(out, jsonl=jsonl)
        try:
            result = LiveSession(plan, view).run()
        finally:
            view.close()
    finally:
        source.close()
        if sink is not None:  # let the last reply finish, unless it was Ctrl-C
            sink.close(drain=result is not None and result.outcome != "interrupted")

    if output_wav is not None:
        _save(out, output_wav, result, out_rate, force)
    show_report(out, result.report, jsonl=jsonl)
    _finish(result, stop, timeout)


def _finish(result: SessionResult, stop: Until, timeout: float | None) -> None:
    """The exit: 130 after Ctrl-C, 7 when --until did not (or cannot) happen, else 0."""
    from agentctl.errors import UnavailableError
    from agentctl.exit_codes import ExitCode

    if result.outcome == "interrupted":
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if result.outcome == "no_speech":
        raise UnavailableError("no speech detected in the input (the agent only answers "
                               "speech)", hint="check that the input has speech, loud enough "
                               "for the agent's input.turn_detection.vad_threshold")
    if result.outcome == "timeout" and stop.kind != "timeout":
        raise UnavailableError(f"session timeout: {stop.describe()} did not come within "
                          f"{timeout:g} s", hint="raise --timeout-session")
    if result.outcome == "ended" and stop.kind not in ("none", "timeout"):
        raise UnavailableError(f"the service ended the session before {stop.describe()}")


def _source(input_: str | None, rate: int) -> tuple[AudioSource, float | None]:
    """The audio to send and its length in seconds (None when unknown)."""
    from agentctl.errors import UsageError
    from agentctl.session.audio import BufferSource, Microphone, StreamSource

    if input_ is None:
        return Microphone(rate), None
    if input_ == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise UsageError("--input -: stdin is not a byte stream")
        return StreamSource(stream, rate), None
    from agentctl.session.wav import WavError, read_wav

    try:
        pcm = read_wav(input_, rate)
    except FileNotFoundError:
        raise UsageError(f"--input {input_}: no such file") from None
    except (OSError, WavError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"--input {input_}: {reason}",
                         hint="a WAV file (PCM 8/16/24/32-bit or float), or - for raw PCM16 "
                         "24 kHz mono on stdin") from None
    source = BufferSource(pcm, rate)
    return source, source.duration


def _save(out: Output, path: Path, result: SessionResult, rate: int, force: bool) -> None:
    from agentctl.session.wav import write_wav

    # Atomic, and without --force it refuses a file that appeared during the session too
    # (the check before the session only spares a session whose audio could not be saved).
    write_wav(path, result.reply_audio, rate, force=force)
    seconds = len(result.reply_audio) / 2 / rate
    out.info(f"saved {seconds:.1f} s of agent audio to {path}")
