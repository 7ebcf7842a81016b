"""One generation call's own result: its text pieces, usage and finish reason (nothing left on the generator).

A ``Generator`` is shared by every browser tab, so ``stream()`` returns a ``Completion`` per call
instead of keeping "the last usage" on itself. ``exclusive()`` runs a model that can do one
generation at a time on a worker thread that holds the model's lock, so a consumer that stops,
is cancelled or goes away frees the model at the next token.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

from rag.types import Usage

STOP, LENGTH, CANCELLED = "stop", "length", "cancelled"  # finish reasons, as OpenAI names the first two


class CallState:
    """What one call has produced so far: written by the generator, read through its Completion."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.finish_reason: str | None = None  # None while running
        # sum of the log-probabilities of the reply's tokens, where the generator can tell (llama.cpp); else None
        self.logprob: float | None = None
        self.stopped = threading.Event()  # set by close(): the generator should stop at its next token


class Completion(Iterator[str]):
    """Iterate for the text pieces; ``usage`` and ``finish_reason`` belong to this call alone.

    produce(state) is the implementation: a generator of text pieces that sets ``state.usage``
    as tokens come and ``state.finish_reason`` ("stop" | "length") before it ends, and stops
    early once ``state.stopped`` is set. close() sets it, from any thread, even while another
    waits for the next piece; dropping the Completion does too. finish_reason is then "cancelled".
    """

    def __init__(self, produce: Callable[[CallState], Iterator[str]]) -> None:
        self._state = CallState()
        self._pieces = produce(self._state)

    @property
    def usage(self) -> Usage:
        return self._state.usage

    @property
    def finish_reason(self) -> str | None:
        return self._state.finish_reason

    @property
    def logprob(self) -> float | None:
        """The reply's summed token log-probabilities (None where the generator does not report them)."""
        return self._state.logprob

    def __iter__(self) -> Completion:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def text(self) -> str:
        """The whole reply (drains the pieces)."""
        return "".join(self)

    def close(self) -> None:
        state = self._state
        state.stopped.set()
        if state.finish_reason is None:
            state.finish_reason = CANCELLED
        close = getattr(self._pieces, "close", None)
        try:
            if close is not None:
                close()
        except ValueError:  # "generator already executing": that reader ends once the producer sees `stopped`
            pass

    def __del__(self) -> None:
        self._state.stopped.set()  # abandoned without close(): free the model all the same

    def __enter__(self) -> Completion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Produce = Callable[[CallState], Iterator[str]]
_DONE = object()


def exclusive(lock: threading.Lock, produce: Produce) -> Completion:
    """A Completion whose production runs on its own thread while holding lock (one model, one generation).

    produce(state) yields pieces and returns soon after ``state.stopped`` is set; it is
    started on first iteration. The consumer's pace never holds the model: pieces are queued.
    Closing or dropping the Completion stops it, so the lock is freed at the next token; a
    consumer that stalls without closing holds it at most until the reply is complete.
    """

    def pieces(state: CallState) -> Iterator[str]:
        out: queue.SimpleQueue = queue.SimpleQueue()
        worker = threading.Thread(target=_run, args=(lock, produce, state, out), daemon=True)
        worker.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            state.stopped.set()  # closed or dropped mid-way: the worker stops at its next token

    return Completion(pieces)


def _run(lock: threading.Lock, produce: Produce, state: CallState, out: queue.SimpleQueue) -> None:
    stopped = state.stopped
    try:
        with lock:
            if not stopped.is_set():  # stopped while waiting for the model: never start
                with contextlib.closing(produce(state)) as pieces:
                    for piece in pieces:
                        out.put(piece)
                        if stopped.is_set():
                            break
    except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it in its own thread
        out.put(e)
    finally:
        if stopped.is_set():
            state.finish_reason = CANCELLED
        out.put(_DONE)
