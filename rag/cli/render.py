"""What `rag ask` and `rag summarize` print: the streamed answer, read once, and its sources."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TextIO

from rag.answer.cite import chunk_place
from rag.checks.grounding import REFUSAL_REASONS
from rag.text.formats.markdown import heading_span
from rag.text.structure import SEPARATOR
from rag.types import Answer


def print_stream(events: Iterable[str | Answer], out: TextIO) -> Answer:
    """Print the text as it streams, one finished sentence at a time, so that it never ends in half a sentence.

    The checked answer is then shown once: when it only continues what was printed (a citation
    added, an unfinished last sentence dropped) the rest is printed; when the check changed
    what was printed, a terminal rewrites it in place, and other outputs get only the changes
    (a replaced answer under its label, re-cited sentences; dropped ones are listed with the sources).
    """
    answer: Answer | None = None
    shown, pending = "", ""
    for event in events:
        if isinstance(event, Answer):
            answer = event
            continue
        pending += event
        cut = _last_sentence_end(pending)
        if cut:
            piece = pending[:cut] if shown else pending[:cut].lstrip()
            print(piece, end="", file=out, flush=True)
            shown, pending = shown + piece, pending[cut:]
    assert answer is not None
    final = answer.text
    if final.startswith(shown) and (shown or not pending.strip() or final.startswith(pending.strip())):
        rest = final[len(shown) :]
        print(rest if shown else rest.lstrip(), end="", file=out, flush=True)  # finishes what was printed
        return answer
    label = _CHECKED_LABELS.get(answer.outcome)
    if out.isatty() and shown:
        rows = _rows(shown)
        up = f"\033[{rows - 1}A" if rows > 1 else ""
        print(f"\r{up}\033[J{f'{label}: ' if label else ''}{final}", end="", file=out, flush=True)
        return answer
    if label or not shown:
        print(f"{chr(10) * 2 if shown else ''}{f'{label}: ' if label and shown else ''}{final}", end="", file=out)
        return answer
    tail = pending.strip()
    if tail and tail in final:  # the last sentence, kept by the check: it was not printed yet
        print(f" {tail}", end="", file=out)
    recited = [s for s in answer.sentences if s.status in ("reattributed", "added") and s.supported_by]
    for s in recited:
        print(f"\n\n(Sau kiểm tra, câu này trích dẫn [{s.supported_by}]: {s.text})", end="", file=out)
    out.flush()
    return answer


_CHECKED_LABELS = {"refused": "Kết quả kiểm tra", "hedged": "Kết quả kiểm tra", "extractive": "Trích từ tài liệu"}
# where a sentence ends: its punctuation, any citation markers after it, closing quotes, then a space
_SENTENCE_END = re.compile(r"[.!?…](?:\s*\[\d+\])*[\"'”»)]*(?=\s)")


def _last_sentence_end(text: str) -> int:
    """End of the last finished sentence in streamed text (0: none yet)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return ends[-1] if ends else 0


def _rows(text: str) -> int:
    """Terminal rows the printed text takes (long lines wrap at the terminal width)."""
    import shutil

    columns = max(1, shutil.get_terminal_size().columns)
    return sum(max(1, -(-len(line) // columns)) for line in text.split("\n"))


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
        closest = answer.retrieved or answer.passages  # every passage the checks read, not only the shown
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
