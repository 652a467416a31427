"""Audio between a test and a live session: a phone line in, a bridge out.

A `Line` is a session's input. What is queued plays in order, at the pace of speech
(times `--speed`), followed by enough silence for the service's turn detection to end
the turn (`tail_ms`); then the line is idle and sends nothing until the next utterance.
(A line that sent silence all the time would be more like a phone, but at a test's
speed it floods the service with audio that says nothing.) It paces itself, so it is a
`realtime` source for the session runner.

A `Bridge` is a session's audio sink that feeds another session's `Line` (a simulated
caller hears the agent and the agent hears it), converting the sample rate where the
two sessions differ. While a reply is being said (`begin` .. `end`), a line that runs
dry waits for more rather than playing silence: a producer that falls a moment behind
(a loaded machine, a fast `--speed`) must not cut an utterance into two turns.

Both work on PCM16 mono at their session's rate; encodings (μ-law, A-law) are the
runner's business.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from agentctl.session.wav import pcm16_samples, resample, samples_pcm16

MAX_STALL = 1.0  # seconds a line waits for the rest of an utterance before going silent
WAIT = 0.05


class Line:
    realtime = True  # paced here: idle time between utterances is not owed to anyone
    answers_greeting = False  # the test decides when each turn plays
    duration = None

    def __init__(self, rate: int, *, speed: float = 1.0, tail_ms: int = 3000,
                 keep: bool = False, stop: threading.Event | None = None) -> None:
        self.rate = rate
        self.speed = speed
        self.tail_bytes = 2 * (rate * tail_ms // 1000)
        self.keep = keep
        self.recorded = bytearray()  # everything sent (with `keep`): what the session heard
        self.muted = False  # pushes are dropped (a caller past its last line)
        self._stop = stop
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._open = False  # an utterance is being said: wait for the rest of it
        self._closed = False
        self._tail = 0  # silence still owed after the last speech
        self._idle = True  # nothing sent since the last idle spell: restart the clock
        self._start = 0.0  # the pacing clock
        self._sent = 0.0  # seconds of audio sent since _start

    # -- the speaking side ---------------------------------------------------------------
    def push(self, pcm: bytes) -> None:
        if not pcm or self.muted:
            return
        with self._cond:
            self._queue.append(pcm[: len(pcm) - len(pcm) % 2])
            self._cond.notify_all()

    def begin(self) -> None:
        with self._cond:
            self._open = True

    def end(self) -> None:
        with self._cond:
            self._open = False
            self._cond.notify_all()

    @property
    def speaking(self) -> bool:
        """Speech still to send (its trailing silence aside)."""
        with self._cond:
            return bool(self._queue) or self._open

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _halted(self) -> bool:
        return self._closed or (self._stop is not None and self._stop.is_set())

    # -- the session runner's side ---------------------------------------------------------
    def read(self, nbytes: int) -> bytes:
        """The next chunk, when it is due; blocks while idle; b"" once closed."""
        nbytes = max(2, nbytes - nbytes % 2)
        while True:
            with self._cond:
                while not self._queue and self._tail <= 0 and not self._open and (
                        not self._halted()):
                    self._idle = True
                    self._cond.wait(WAIT)
                if self._halted():
                    return b""
                data = self._take(nbytes)
                if data and self._idle:
                    self._idle = False
                    self._start, self._sent = time.monotonic(), 0.0
            if data:
                break
        if self.keep:
            self.recorded.extend(data)
        due = self._start + self._sent / self.speed
        self._sent += len(data) / 2 / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            with self._cond:
                self._cond.wait_for(self._halted, delay)
        return data

    def _take(self, nbytes: int) -> bytes:
        """Speech from the queue (waiting a little for more of an open utterance), then
        the silence still owed. Called with the lock held."""
        parts: list[bytes] = []
        need = nbytes
        stalled = time.monotonic() + MAX_STALL
        while need and not self._halted():
            if not self._queue:
                if not self._open or time.monotonic() >= stalled:
                    break
                self._cond.wait(WAIT)
                continue
            head = self._queue[0]
            take, rest = head[:need], head[need:]
            parts.append(take)
            need -= len(take)
            if rest:
                self._queue[0] = rest
            else:
                self._queue.popleft()
        if parts:
            self._tail = self.tail_bytes
        silence = min(need, self._tail) if need else 0
        self._tail -= silence
        return b"".join(parts) + bytes(silence)


class Bridge:
    """A session's sink that speaks into another session's line."""

    def __init__(self, line: Line, rate: int) -> None:
        self.line = line
        self.rate = rate
        self.enabled = True

    def begin(self) -> None:
        if self.enabled:
            self.line.begin()

    def end(self) -> None:
        self.line.end()

    def play(self, pcm: bytes) -> None:
        if not self.enabled:
            return
        if self.rate != self.line.rate:
            pcm = samples_pcm16(resample(pcm16_samples(pcm), self.rate, self.line.rate))
        self.line.push(pcm)

    def clear(self) -> None:
        """Not a speaker: what a session sent was said (the service itself stops a reply
        that is interrupted), so nothing queued is dropped."""

    def close(self, *, drain: bool = False) -> None:
        pass
