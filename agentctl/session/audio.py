"""Where a session's audio comes from and goes to.

- `BufferSource`: PCM already in memory (a converted `--input FILE.wav`).
- `StreamSource`: raw PCM16 from a binary stream (`--input -`).
- `Microphone` / `Speaker`: the sound card, through `sounddevice` (the optional `audio`
  extra), imported only here and only when used. Raw int16 streams, so numpy is never
  touched by agentctl itself.

Sources hand out PCM16 mono bytes at the session's input rate; `realtime` says whether
the source already runs at the pace of speech (a microphone) or must be paced (a file);
`answers_greeting` whether it should start only once the greeting is over (a recording
does; a stream from a live recorder must not, or it would lag by the greeting forever).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import IO, Any, Protocol

from agentctl.errors import UsageError
from agentctl.session.wav import pcm16_samples, resample, samples_pcm16

AUDIO_HINT = ("install the audio extra (sounddevice): pip install -e '.[audio]' in agentctl's "
              "checkout; or use --audio-in FILE.wav")


class AudioSource(Protocol):
    rate: int
    realtime: bool
    answers_greeting: bool

    def read(self, nbytes: int) -> bytes:
        """Up to `nbytes` (a microphone: one block, whatever its size); b"" at the end."""
        ...

    def close(self) -> None: ...


class AudioSink(Protocol):
    def play(self, pcm: bytes) -> None: ...

    def clear(self) -> None:
        """Drop what is queued (the user barged in)."""
        ...

    def close(self, *, drain: bool = False) -> None:
        """Stop; with `drain`, first play what is queued (the end of the last reply)."""
        ...


class BufferSource:
    realtime = False
    answers_greeting = True

    def __init__(self, pcm: bytes, rate: int) -> None:
        self.pcm = pcm[: len(pcm) - len(pcm) % 2]
        self.rate = rate
        self._pos = 0

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def read(self, nbytes: int) -> bytes:
        chunk = self.pcm[self._pos:self._pos + nbytes]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        pass


class StreamSource:
    """Raw PCM16 mono from a binary stream; an odd byte is kept for the next read."""

    realtime = False
    answers_greeting = False
    duration = None

    def __init__(self, stream: IO[bytes], rate: int) -> None:
        self.stream = stream
        self.rate = rate
        self._carry = b""

    def read(self, nbytes: int) -> bytes:
        data = self._carry
        while len(data) < nbytes:
            more = self.stream.read(nbytes - len(data))
            if not more:
                break
            data += more
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        return data[:usable]

    def close(self) -> None:
        pass


def load_sounddevice() -> Any:
    """The sounddevice module, or a usage error (exit 2) that says how to get it."""
    try:
        import sounddevice
    except ImportError:
        raise UsageError("microphone and speaker need the optional audio support",
                         hint=AUDIO_HINT) from None
    except OSError as exc:  # the module is there, the PortAudio library is not
        raise UsageError(f"cannot use the sound card: {exc}", hint=AUDIO_HINT) from None
    return sounddevice


class Microphone:
    """The default input device, read in 100 ms blocks as they are recorded."""

    realtime = True
    answers_greeting = False
    duration = None

    def __init__(self, rate: int) -> None:
        sd = load_sounddevice()
        self.rate = rate
        self._blocks: queue.Queue[bytes] = queue.Queue()
        self._closed = threading.Event()
        self._device_rate = rate
        try:
            self._stream = self._open(sd, rate)
        except Exception:  # the device cannot record at this rate: convert from its own
            self._device_rate = int(sd.query_devices(kind="input")["default_samplerate"])
            try:
                self._stream = self._open(sd, self._device_rate)
            except Exception as exc:
                raise UsageError(f"cannot open the microphone: {exc}",
                                 hint="check the input device, or use --audio-in FILE.wav"
                                 ) from None
        self._stream.start()

    def _open(self, sd: Any, rate: int) -> Any:
        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            self._blocks.put(bytes(indata))

        return sd.RawInputStream(samplerate=rate, channels=1, dtype="int16",
                                 blocksize=rate // 10, callback=callback)

    def read(self, nbytes: int) -> bytes:
        while not self._closed.is_set():
            try:
                block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                continue
            if self._device_rate != self.rate:
                block = samples_pcm16(resample(pcm16_samples(block), self._device_rate,
                                               self.rate))
            return block
        return b""

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(Exception):  # already gone with the device
            self._stream.stop()
            self._stream.close()


class Speaker:
    """The default output device; audio is queued and played by a background thread."""

    def __init__(self, rate: int) -> None:
        sd = load_sounddevice()
        try:
            self._stream = sd.RawOutputStream(samplerate=rate, channels=1, dtype="int16")
            self._stream.start()
        except Exception as exc:
            raise UsageError(f"cannot open the speaker: {exc}",
                             hint="check the output device, or use --audio-out FILE.wav"
                             ) from None
        self.rate = rate
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._queued = 0  # bytes not yet played, to bound the wait in close(drain=True)
        self._thread = threading.Thread(target=self._run, name="agentctl-speaker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            pcm = self._queue.get()
            if pcm is None:
                return
            with contextlib.suppress(Exception):  # the device went away; keep draining
                self._stream.write(pcm)
            self._queued -= len(pcm)

    def play(self, pcm: bytes) -> None:
        self._queued += len(pcm)
        self._queue.put(pcm)

    def clear(self) -> None:
        try:
            while True:
                pcm = self._queue.get_nowait()
                self._queued -= len(pcm or b"")
        except queue.Empty:
            pass

    def close(self, *, drain: bool = False) -> None:
        if not drain:
            self.clear()
        wait = 2.0 + (max(self._queued, 0) / 2 / self.rate if drain else 0.0)
        self._queue.put(None)
        self._thread.join(wait)
        with contextlib.suppress(Exception):  # already gone with the device
            self._stream.stop()
            self._stream.close()
