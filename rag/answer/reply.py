"""One model reply, streamed: markers cleaned on the fly, stopped at a repeated sentence or a CJK character.

What a reply produced (its raw text, first-token time, usage, log-probability) is kept on its own
``Run``, never on the shared generator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer.cite import CitedText, MarkerStream
from rag.answer.completion import LENGTH
from rag.answer.stops import SENTENCE_BREAK, repetition_cut, unfinished_cut
from rag.text.vietnamese import cjk_index
from rag.types import Message, Usage

if TYPE_CHECKING:
    from rag.answer.generate import Generator as TextGenerator


@dataclass
class Run:
    """What one generation produced: the raw text, when the first token came, the usage."""

    raw: str = ""
    first_token_ms: float | None = None
    usage: Usage = Usage()
    cited: CitedText | None = None  # the raw text's markers resolved, once
    logprob: float | None = None  # the reply's summed token log-probabilities, where the generator reports them
    quote: str | None = None  # quote_first: the passage sentence quoted before the answer (rag.answer.quoting)


def stream_reply(
    generator: TextGenerator,
    messages: list[Message],
    n_passages: int,
    started: float,
    run: Run,
    *,
    max_tokens: int,
    temperature: float,
    grammar: str | None = None,
) -> Iterator[str]:
    """Stream the model's reply with markers cleaned on the fly; run gets the raw text and timings.

    Generation stops at a repeated sentence (a small model looping at temperature 0) and at
    the first CJK character (drift into Chinese), which is cut off. grammar: GBNF the reply must
    follow (rag.answer.copying), passed only when given, so a generator without it still serves the rest.
    """
    markers = MarkerStream(n_passages)
    raw: list[str] = []
    started_text = False
    constraint = {"grammar": grammar} if grammar is not None else {}
    completion = generator.stream(messages, max_tokens=max_tokens, temperature=temperature, **constraint)
    with completion:  # stopping early must release the model at once
        for piece in completion:
            if run.first_token_ms is None:
                run.first_token_ms = ms(started)
            cjk = cjk_index(piece)
            if cjk is not None:
                piece = piece[:cjk]
            raw.append(piece)
            stop = cjk is not None
            if SENTENCE_BREAK.search(piece):
                cut = repetition_cut("".join(raw))
                if cut is not None:
                    raw = ["".join(raw)[:cut]]
                    stop = True
            if not stop or cjk is not None:
                for text in markers.feed(piece):
                    if not started_text:
                        text = text.lstrip()  # the final answer is stripped too
                        started_text = bool(text)
                    if text:
                        yield text
            if stop:
                break
    yield from markers.flush()
    usage = completion.usage  # this call's own: another tab may be generating by now
    run.logprob = completion.logprob
    run.raw = "".join(raw).strip()
    if completion.finish_reason == LENGTH:  # cut off by the token limit: drop the unfinished sentence
        run.raw = run.raw[: unfinished_cut(run.raw)].rstrip()
    total = run.usage
    run.usage = Usage(total.prompt_tokens + usage.prompt_tokens, total.completion_tokens + usage.completion_tokens)


def drained(pieces: Iterator[str]) -> Iterator[str]:
    """Consume a reply without showing it (the model's own answer, for rag eval)."""
    for _ in pieces:
        pass
    return iter(())


def ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
