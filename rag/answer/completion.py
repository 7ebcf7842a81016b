"""One generation call's own result: its text pieces, usage and finish reason (nothing left on the generator).

A ``Generator`` is shared by every browser tab, so ``stream()`` returns a ``Completion`` per call
instead of keeping "the last usage" on itself. ``exclusive()`` runs a model that can do one
generation at a time on a worker thread that holds the model's lock, so a consumer that stops,
is cancelled or goes away frees the model at the next token.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from rag.types import Usage

log = logging.getLogger(__name__)

STOP, LENGTH, CANCELLED = "stop", "length", "cancelled"  # finish reasons, as OpenAI names the first two


class Completion(Iterator[str]):
    """Iterate for the text pieces; ``usage`` and ``finish_reason`` belong to this call alone.

    produce(completion) is the implementation: a generator of text pieces that sets
    ``completion.usage`` as tokens come and ``completion.finish_reason`` ("stop" | "length")
    before it ends. close() stops it (finish_reason "cancelled" unless it had finished).
    """

    def __init__(self, produce: Callable[[Completion], Iterator[str]]) -> None:
        self.usage = Usage()
        self.finish_reason: str | None = None  # None while running
        self._pieces = produce(self)

    def __iter__(self) -> Completion:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def text(self) -> str:
        """The whole reply (drains the pieces)."""
        return "".join(self)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self.finish_reason is None:
            self.finish_reason = CANCELLED

    def __enter__(self) -> Completion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Produce = Callable[[Completion, threading.Event], Iterator[str]]
_DONE = object()


def exclusive(lock: threading.Lock, produce: Produce) -> Completion:
    """A Completion whose production runs on its own thread while holding lock (one model, one generation).

    produce(completion, stop) yields pieces and should return soon after stop is set; it is
    started on first iteration. The consumer's pace never holds the model: pieces are queued.
    Stopping, closing or dropping the Completion sets stop, so the lock is freed at the next
    token; a consumer that stalls without closing holds it at most until the reply is complete.
    """

    def pieces(completion: Completion) -> Iterator[str]:
        out: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()
        worker = threading.Thread(target=_run, args=(lock, produce, completion, stop, out), daemon=True)
        worker.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()  # closed or dropped mid-way: the worker stops at its next token

    return Completion(pieces)


def _run(lock: threading.Lock, produce: Produce, completion: Completion, stop: threading.Event, out) -> None:  # noqa: ANN001
    try:
        with lock:
            if stop.is_set():  # stopped while waiting for the model: never start
                completion.finish_reason = CANCELLED
                return
            with contextlib.closing(produce(completion, stop)) as pieces:
                for piece in pieces:
                    out.put(piece)
                    if stop.is_set():
                        break
            if stop.is_set():
                completion.finish_reason = CANCELLED
    except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it in its own thread
        out.put(e)
    finally:
        out.put(_DONE)
