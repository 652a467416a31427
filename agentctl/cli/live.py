"""`connect`: a live session with an agent over the WebSocket."""

from __future__ import annotations

import sys
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

TIMEOUT_SLACK = 60.0  # beyond the input's own length, for --audio-in FILE
FORMATS = ("text", "jsonl")


def connect(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Argument(
        metavar="[AGENT]", help="A stored agent: id or exact name (or use -f).",
        autocompletion=complete_agents)] = None,
    files: OptionalFilesOpt = None,
    env_file: EnvFileOpt = None,
    audio_in: Annotated[str | None, typer.Option(
        "--audio-in", "-i", metavar="FILE.wav|-",
        help="Send this audio instead of the microphone: a WAV file (converted to what the "
        "agent takes: PCM 24 kHz, or μ-law/A-law 8 kHz), or - for raw PCM16 mono at that "
        "rate on stdin.")] = None,
    audio_out: Annotated[Path | None, typer.Option(
        "--audio-out", metavar="FILE.wav", dir_okay=False,
        help="Save the agent's audio as a WAV file (PCM16, at the agent's output rate).")]
    = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Let --audio-out replace an existing file.")] = False,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="reply|greeting|N-replies|timeout",
        help="End the session after this (default with --audio-in: reply; otherwise "
        "Ctrl-C). Replies are the agent's answers; the greeting is not one of them.",
        show_default=False)] = None,
    timeout_session: Annotated[float | None, typer.Option(
        "--timeout-session", metavar="SECONDS", min=0.001,
        help="Give up (exit 7) if --until has not happened by then; with --until timeout, "
        "the session's length. Default with --audio-in FILE: its length + 60 s.",
        show_default=False)] = None,
    tool: Annotated[list[str] | None, typer.Option(
        "--tool", metavar="NAME=COMMAND|NAME=@FILE",
        help="Answer client tool calls: COMMAND gets the arguments as JSON on stdin and "
        "prints the result; @FILE answers with the file's text. Repeatable.")] = None,
    tool_timeout: Annotated[float, typer.Option(
        "--tool-timeout", metavar="SECONDS", min=0.001,
        help="How long a --tool command may run.")] = 10.0,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="text|jsonl",
        help="text: the transcript; jsonl: every event as one JSON line, then the report.")]
    = "text",
    speed: Annotated[float, typer.Option(
        "--speed", metavar="X", min=0.01, max=1000.0,
        help="Stream --audio-in X times faster than real time: only against an emulator on "
        "loopback (the service's rate guard would end the session).")] = 1.0,
    old_input: Annotated[str | None, typer.Option(
        "--input", hidden=True, help="Old name of --audio-in.")] = None,
    old_format: Annotated[str | None, typer.Option(
        "--format", hidden=True, help="Old name of -o/--output.")] = None,
) -> None:
    """Talk to an agent live: microphone and speaker, or --audio-in/--audio-out WAV files."""
    from agentctl.errors import AuthError, UsageError
    from agentctl.protocol import audio_format
    from agentctl.render.live import TranscriptView, show_report
    from agentctl.render.output import OutputMode
    from agentctl.session.inline import trailing_silence_ms
    from agentctl.session.runner import LiveSession, SessionPlan, Until
    from agentctl.session.tools import parse_tools
    from agentctl.session.ws import is_loopback_url, ws_url

    state = get_state(ctx)
    warnings: list[str] = []
    audio_in, audio_out, fmt = _old_spellings(audio_in, audio_out, output, old_input,
                                              old_format, warnings)
    jsonl = fmt == "jsonl"
    out = state.output(OutputMode.json if jsonl else OutputMode.table)
    for warning in warnings:
        out.warn(warning)
    if bool(agent) == bool(files):
        raise UsageError("give either AGENT (a stored agent) or -f PATH (an inline "
                         "configuration)", hint="see: agentctl connect --help")
    stop = Until.parse(until if until is not None else ("reply" if audio_in else None))
    if stop.kind == "timeout" and timeout_session is None:
        raise UsageError("--until timeout needs --timeout-session SECONDS")
    if audio_out is not None and audio_out.exists() and not force:
        raise UsageError(f"--audio-out {audio_out}: the file exists",
                         hint="pass --force to replace it, or choose another name")
    tools = parse_tools(list(tool or []))
    if speed > 1:
        if state.settings.local:  # the embedded emulator runs (and guards) at this pace
            state.local_live = {"speed": speed}
        elif not is_loopback_url(state.settings.base_url):
            raise UsageError(f"--speed {speed:g}: faster than real time works only against "
                             "an emulator on loopback (the service ends such a session "
                             "with audio_rate_violation)",
                             hint="drop --speed, or use --local / an emulator on 127.0.0.1")

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
        config = api.get_by_ref(agent)
        session = {"agent_id": config["id"]}
    api_key = state.settings.api_key
    if not api_key:
        raise AuthError("no API key", hint="set ASSEMBLYAI_API_KEY, pass --api-key, or use "
                        "--local (the embedded emulator)")
    has_greeting = bool(str(config.get("greeting") or "").strip())
    if stop.kind == "greeting" and not has_greeting:
        raise UsageError("--until greeting: the agent has no greeting")
    in_encoding, in_rate = audio_format(config.get("input"))
    out_encoding, out_rate = audio_format(config.get("output"))

    source, duration = _source(audio_in, in_rate)
    sink: AudioSink | None = None
    result: SessionResult | None = None
    verbose = state.settings.verbose or state.settings.debug
    try:
        if audio_in is None:
            from agentctl.session.audio import Speaker

            sink = Speaker(out_rate)
        trailing_ms = trailing_silence_ms(config)
        timeout = timeout_session
        if timeout is None and duration is not None:
            timeout = (duration * 1000 + trailing_ms) / 1000 / speed + TIMEOUT_SLACK
        plan = SessionPlan(
            url=ws_url(base_url), api_key=api_key, session=session,
            has_greeting=has_greeting, input_rate=in_rate, output_rate=out_rate,
            input_encoding=in_encoding, output_encoding=out_encoding,
            source=source, sink=sink, until=stop, timeout=timeout, tools=tools,
            tool_timeout=tool_timeout, speed=speed, trailing_silence_ms=trailing_ms,
            open_timeout=state.settings.timeout, ca_cert=state.settings.ca_cert,
            keep_audio=audio_out is not None,
        )
        if verbose:
            what = f"agent {config.get('name')!r}" if agent else f"inline {files[0]}"
            audio = "" if (in_encoding, out_encoding) == ("audio/pcm",) * 2 else (
                f", audio {in_encoding} in, {out_encoding} out")
            out.info(f"connecting to {plan.url} ({what}{audio})")
        view = TranscriptView(out, jsonl=jsonl, verbose=verbose)
        try:
            result = LiveSession(plan, view).run()
        finally:
            view.close()
    finally:
        source.close()
        if sink is not None:  # let the last reply finish, unless it was Ctrl-C
            sink.close(drain=result is not None and result.outcome != "interrupted")

    if audio_out is not None:
        _save(out, audio_out, result, out_rate, force)
    show_report(out, result.report, jsonl=jsonl)
    _finish(result, stop, timeout)


def _old_spellings(audio_in: str | None, audio_out: Path | None, output: str,
                   old_input: str | None, old_format: str | None,
                   warnings: list[str]) -> tuple[str | None, Path | None, str]:
    """The options' old names (one release more): `--input FILE`, `--format FMT`, and
    `--output FILE.wav` (now `-o/--output` is the output format, as in every command)."""
    from agentctl.errors import UsageError

    if old_input is not None:
        if audio_in is not None:
            raise UsageError("give --audio-in only (--input is its old name)")
        warnings.append("--input is now --audio-in (-i); the old name goes in the next "
                        "release")
        audio_in = old_input
    fmt = output.lower()
    if fmt not in FORMATS:
        if not fmt.endswith(".wav"):
            raise UsageError(f"-o/--output {output!r}: expected text or jsonl",
                             hint="the agent's audio goes to --audio-out FILE.wav")
        if audio_out is not None:
            raise UsageError("give --audio-out only (--output FILE.wav is its old spelling)")
        warnings.append("--output FILE.wav is now --audio-out FILE.wav (-o/--output is the "
                        "output format, text or jsonl); the old spelling goes in the next "
                        "release")
        audio_out, fmt = Path(output), "text"
    if old_format is not None:
        warnings.append("--format is now -o/--output; the old name goes in the next release")
        fmt = old_format.lower()
        if fmt not in FORMATS:
            raise UsageError(f"--format {old_format!r}: expected text or jsonl")
    return audio_in, audio_out, fmt


def _seconds(value: float) -> str:
    """A duration for a message: whole seconds from 10 s, one decimal below."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


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
    came = _came(result, stop)
    if result.outcome == "quiet":
        raise UnavailableError(f"{stop.describe()} did not come: the input ended and the "
                               f"agent went quiet{came}",
                               hint="the agent answers each thing said once: ask as many "
                               "questions as --until counts replies")
    if result.outcome == "timeout" and stop.kind != "timeout":
        raise UnavailableError(f"session timeout: {stop.describe()} did not come within "
                               f"{_seconds(timeout or 0)} s{came}", hint="raise --timeout-session")
    if result.outcome == "ended" and stop.kind not in ("none", "timeout"):
        raise UnavailableError(f"the service ended the session before {stop.describe()}")


def _came(result: SessionResult, stop: Until) -> str:
    """`(1 reply came)`: what did, counted as --until counts (the greeting aside)."""
    if stop.kind != "replies":
        return ""
    replies = result.report["totals"]["replies"]
    return f" ({replies} repl{'y' if replies == 1 else 'ies'} came)"


def _source(input_: str | None, rate: int) -> tuple[AudioSource, float | None]:
    """The audio to send (PCM16 at `rate`; the runner encodes it for the session) and its
    length in seconds (None when unknown)."""
    from agentctl.errors import UsageError
    from agentctl.session.audio import BufferSource, Microphone, StreamSource

    if input_ is None:
        return Microphone(rate), None
    if input_ == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise UsageError("--audio-in -: stdin is not a byte stream")
        return StreamSource(stream, rate), None
    from agentctl.session.wav import WavError, read_wav

    try:
        pcm = read_wav(input_, rate)
    except FileNotFoundError:
        raise UsageError(f"--audio-in {input_}: no such file") from None
    except (OSError, WavError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"--audio-in {input_}: {reason}",
                         hint="a WAV file (PCM 8/16/24/32-bit, float, μ-law or A-law), or - "
                         f"for raw PCM16 mono at {rate} Hz on stdin") from None
    source = BufferSource(pcm, rate)
    return source, source.duration


def _save(out: Output, path: Path, result: SessionResult, rate: int, force: bool) -> None:
    from agentctl.session.wav import write_wav

    # Atomic, and without --force it refuses a file that appeared during the session too
    # (the check before the session only spares a session whose audio could not be saved).
    write_wav(path, result.reply_audio, rate, force=force)
    seconds = len(result.reply_audio) / 2 / rate
    out.info(f"saved {seconds:.1f} s of agent audio to {path}")
