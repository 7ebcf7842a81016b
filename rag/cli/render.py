"""What `rag ask` and `rag summarize` print: the streamed answer, read once, and its sources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from rag.answer.cite import chunk_place
from rag.answer.record import stream_tail
from rag.checks.grounding import REFUSAL_REASONS
from rag.text.formats.markdown import heading_span
from rag.text.structure import SEPARATOR
from rag.types import Answer


def print_stream(events: Iterable[str | Answer], out: TextIO) -> Answer:
    """Print the pieces as they come; when the checked answer differs from the streamed text, print it after."""
    answer: Answer | None = None
    streamed = ""
    for event in events:
        if isinstance(event, Answer):
            answer = event
        else:
            streamed += event
            print(event, end="", file=out, flush=True)
    assert answer is not None
    tail = stream_tail(streamed, answer)
    if tail:
        print(tail, end="", file=out, flush=True)
    return answer


def print_sources(answer: Answer, out: TextIO, err: TextIO) -> None:
    print("\n", file=out)
    if answer.read_as:
        print(f"(Câu hỏi được hiểu là: {answer.read_as})", file=out)
    if answer.outcome == "unchecked":
        print("(Chưa kiểm chứng được: không câu nào của câu trả lời khớp với các đoạn tìm được.)", file=out)
    dropped = [s for s in answer.sentences if s.status == "unsupported"]
    for s in dropped:
        print(f"(Đã bỏ câu không có căn cứ trong tài liệu: {s.text})", file=out)
    if answer.refused:
        if answer.refusal_reason in REFUSAL_REASONS:
            print(f"(Lý do: {REFUSAL_REASONS[answer.refusal_reason]})", file=out)
        closest = answer.passages or answer.retrieved
        if closest:
            print("Các đoạn gần nhất:", file=out)
            print_passages(((i, h.chunk) for i, h in enumerate(closest, start=1)), out)
    elif answer.citations:
        print("Nguồn:", file=out)
        print_passages(((c.marker, c.chunk) for c in answer.citations), out)
    else:
        print("(Câu trả lời không trích dẫn đoạn nào.)", file=out)
    if answer.invalid_markers:
        markers = ", ".join(f"[{n}]" for n in answer.invalid_markers)
        print(f"rag: removed citation markers that point at no passage: {markers}", file=err)


def print_passages(items: Iterable[tuple[int, Any]], out: TextIO, scores: list[float] | None = None) -> None:
    for i, (marker, chunk) in enumerate(items):
        score = f" score {scores[i]:.3f}" if scores else ""
        print(f"[{marker}] {chunk.source} ({chunk_place(chunk)}){score}: {one_line(chunk.text)}", file=out)


def one_line(passage: str) -> str:
    """A passage on one line for the terminal: Markdown headings lose their '#' and lead into the text."""
    words: list[str] = []
    headings: list[str] = []  # consecutive heading lines, shown as "A › B:" before the text under them
    for line in passage.splitlines():
        line = " ".join(line.split())
        heading = heading_span(line)
        if heading:
            headings.append(line[slice(*heading)])
        elif line:
            if headings:
                words.append(SEPARATOR.join(headings) + ":")
                headings = []
            words.append(line)
    if headings:
        words.append(SEPARATOR.join(headings))
    return " ".join(words)
