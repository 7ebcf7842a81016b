"""Completion and exclusive(): per-call results, and the model freed as soon as a consumer stops or leaves."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from rag.answer.completion import CANCELLED, LENGTH, STOP, CallState, Completion, exclusive
from rag.errors import ModelLoadError
from rag.types import Usage


class CountingModel:
    """Produces numbered tokens slowly under exclusive(); counts what it produced per call."""

    def __init__(self, *, delay: float = 0.005) -> None:
        self.lock = threading.Lock()
        self.delay = delay
        self.produced: list[int] = []

    def stream(self, n_tokens: int, *, fail_at: int | None = None) -> Completion:
        def produce(state: CallState) -> Iterator[str]:
            call = len(self.produced)
            self.produced.append(0)
            for n in range(1, n_tokens + 1):
                if state.stopped.is_set():
                    return
                if n == fail_at:
                    raise ModelLoadError("prompt of 5000 tokens fills the context of 4096: lower k or raise n_ctx")
                time.sleep(self.delay)
                self.produced[call] = n
                state.usage = Usage(7, n)
                yield f"t{n} "
            state.finish_reason = STOP

        return exclusive(self.lock, produce)


def _freed(lock: threading.Lock, within: float = 1.0) -> bool:
    if lock.acquire(timeout=within):
        lock.release()
        return True
    return False


def test_each_call_keeps_its_own_usage_while_another_runs() -> None:
    model = CountingModel(delay=0.001)
    results: dict[int, tuple[str, Usage, str | None]] = {}

    def ask(n: int) -> None:
        completion = model.stream(n)
        results[n] = (completion.text(), completion.usage, completion.finish_reason)

    threads = [threading.Thread(target=ask, args=(n,)) for n in (3, 11, 20, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert {n: (r[1], r[2]) for n, r in results.items()} == {n: (Usage(7, n), STOP) for n in (3, 11, 20, 6)}
    assert results[6][0] == "t1 t2 t3 t4 t5 t6 "


def test_closing_mid_way_frees_the_model_at_the_next_token() -> None:
    model = CountingModel(delay=0.01)
    completion = model.stream(200)
    assert [next(completion), next(completion)] == ["t1 ", "t2 "]
    completion.close()
    assert _freed(model.lock, within=0.5)
    assert model.produced[0] <= 4  # not the 200 asked for
    assert completion.finish_reason == CANCELLED
    assert model.stream(3).text() == "t1 t2 t3 "


def test_a_dropped_stream_frees_the_model() -> None:
    model = CountingModel(delay=0.01)
    completion = model.stream(200)
    next(completion)
    del completion
    gc.collect()
    assert _freed(model.lock, within=0.5)
    assert model.produced[0] <= 4


def test_a_consumer_that_stalls_holds_the_model_only_until_its_reply_is_produced() -> None:
    model = CountingModel(delay=0.001)
    stalled = model.stream(30)
    assert next(stalled) == "t1 "  # then this tab stops reading but keeps the stream open
    other = model.stream(4)
    assert other.text() == "t1 t2 t3 t4 "  # would wait forever if the stalled stream held the lock
    assert model.produced == [30, 4]
    assert "".join(stalled) == "".join(f"t{n} " for n in range(2, 31))  # nothing of it was lost


def test_a_stream_stopped_while_waiting_for_the_model_never_runs() -> None:
    model = CountingModel(delay=0.01)
    first = model.stream(20)
    next(first)
    waiting = model.stream(20)
    started = threading.Thread(target=lambda: next(waiting, None))
    started.start()
    time.sleep(0.02)
    waiting.close()  # Gradio's Stop on a question still queued for the model
    first.close()
    started.join(timeout=2)
    assert _freed(model.lock)
    assert len(model.produced) == 1
    assert waiting.finish_reason == CANCELLED


def test_an_error_in_generation_reaches_the_consumer_and_frees_the_model() -> None:
    model = CountingModel(delay=0.001)
    completion = model.stream(10, fail_at=3)
    with pytest.raises(ModelLoadError, match="fills the context of 4096"):
        completion.text()
    assert _freed(model.lock)


def test_a_completion_not_iterated_never_takes_the_model() -> None:
    model = CountingModel()
    model.stream(10).close()
    assert model.produced == []
    assert _freed(model.lock, within=0.1)


def test_length_is_the_finish_reason_a_generator_reports() -> None:
    def produce(state: CallState) -> Iterator[str]:
        yield "Hà Nội"
        state.usage, state.finish_reason = Usage(3, 1), LENGTH

    completion = Completion(produce)
    assert completion.finish_reason is None
    assert completion.text() == "Hà Nội"
    assert (completion.usage, completion.finish_reason) == (Usage(3, 1), LENGTH)
