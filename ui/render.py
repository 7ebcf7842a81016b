"""HTML for the chat: answers with clickable [n] links and the sources panel.

Pure functions (no Gradio import) so they are tested directly. Every piece of text that comes
from a document or the model is HTML-escaped here; the only markup is ours.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from rag.answer.cite import chunk_place
from rag.checks.grounding import REFUSAL_REASONS
from rag.text.formats.markdown import heading_span
from rag.types import Answer, Chunk

_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, as kept in the session state."""

    question: str  # as typed
    standalone: str  # after follow-up rewriting (equal to question for a first question)
    answer: Answer | None = None
    error: str | None = None  # a readable Vietnamese message instead of an answer


def source_anchor(turn: int, marker: int) -> str:
    return f"src-{turn}-{marker}"


def answer_html(text: str, turn: int) -> str:
    """Escape the answer and turn each [n] into a link to its passage card."""
    escaped = html.escape(text, quote=False)

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        anchor = source_anchor(turn, n)
        return f'<a class="rag-cite" href="#{anchor}">[{n}]</a>'

    return _MARKER.sub(link, escaped)


def final_answer_html(answer: Answer, turn: int) -> str:
    """The checked answer: its text with citation links, then what the check did (dropped sentences, extraction)."""
    body = answer_html(answer.text, turn)
    notes = []
    if answer.read_as:
        notes.append(f"Câu hỏi được hiểu là: {html.escape(answer.read_as)}")
    if answer.outcome == "extractive":
        notes.append("Trích nguyên văn từ tài liệu: câu trả lời của mô hình không có căn cứ trong các đoạn tìm được.")
    if answer.refused and answer.refusal_reason in REFUSAL_REASONS:
        notes.append(f"Lý do: {REFUSAL_REASONS[answer.refusal_reason]}")
    if answer.refused and answer.retrieved:
        notes.append("Các đoạn gần nhất được liệt kê ở mục Nguồn.")
    for s in answer.sentences:
        if s.status == "unsupported":
            notes.append(f"Đã bỏ câu không có căn cứ: <s>{html.escape(s.text)}</s>")
        elif s.status == "reattributed":
            notes.append(f"Đã sửa trích dẫn {_markers(s.cited)} → [{s.supported_by}]: {html.escape(_short(s.text))}")
    if not notes:
        return body
    items = "".join(f"<li>{note}</li>" for note in notes)
    return f'{body}<ul class="rag-check">{items}</ul>'


def _markers(numbers: tuple[int, ...]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_html(message: str) -> str:
    return f'<span class="rag-error">⚠️ {html.escape(message)}</span>'


def location(chunk: Chunk) -> str:
    """Page (PDF), section path and character range of a passage."""
    return chunk_place(chunk)


def passage_html(passage: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """A passage as HTML: supporting spans marked, Markdown heading lines bold without their '#'."""
    out, pos = [], 0
    for line in passage.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        heading = heading_span(passage[start:end])
        if heading:  # the heading's text only: its '#' marks (and closing ones) are not shown
            out.append(f'<b class="rag-heading">{_marked(passage, start + heading[0], start + heading[1], spans)}</b>')
        else:
            out.append(_marked(passage, start, end, spans))
        out.append(html.escape(passage[end:pos]))
    return "".join(out)


def _marked(passage: str, start: int, end: int, spans: Sequence[tuple[int, int]]) -> str:
    """passage[start:end] escaped, with the parts inside spans wrapped in <mark>."""
    out, pos = [], start
    for s, e in sorted(spans):
        s, e = max(s, pos), min(e, end)
        if s >= e:
            continue
        out.append(html.escape(passage[pos:s]))
        out.append(f'<mark class="rag-support">{html.escape(passage[s:e])}</mark>')
        pos = e
    out.append(html.escape(passage[pos:end]))
    return "".join(out)


def _card(chunk: Chunk, label: str, anchor: str | None, body: str, *, cited: bool) -> str:
    name = html.escape(PurePath(chunk.source).name)
    title = html.escape(chunk.title or PurePath(chunk.source).stem)
    anchor_attr = f' id="{anchor}"' if anchor else ""
    kind = "rag-src rag-cited" if cited else "rag-src rag-uncited"
    return (
        f'<div class="{kind}"{anchor_attr}>'
        f'<div class="rag-src-head"><b>{html.escape(label)}</b> {title}'
        f'<span class="rag-src-loc"> · {name} · {location(chunk)}</span></div>'
        f'<div class="rag-src-text">{body}</div></div>'
    )


def sources_html(turns: list[Turn]) -> str:
    """The sources panel: newest turn first and open; each cited passage with its support marked."""
    if not turns:
        return '<div class="rag-empty">Nguồn trích dẫn sẽ hiện ở đây.</div>'
    blocks = []
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        parts = []
        if turn.standalone != turn.question:
            parts.append(f'<div class="rag-rewritten">Câu hỏi đã hiểu: <i>{html.escape(turn.standalone)}</i></div>')
        answer = turn.answer
        if answer is not None:
            cited_ids = set()
            for citation in answer.citations:
                chunk = citation.chunk
                cited_ids.add(chunk.chunk_id)
                # the sentences the check found supporting the answer there, not a second opinion
                spans = list(
                    dict.fromkeys(
                        s.span for s in answer.sentences if s.supported_by == citation.marker and s.span is not None
                    )
                )
                body = passage_html(chunk.text, spans)
                parts.append(
                    _card(chunk, f"[{citation.marker}]", source_anchor(index, citation.marker), body, cited=True)
                )
            if answer.refused:
                closest = answer.retrieved or answer.passages  # every passage the checks read, not only the shown
                cards = "".join(
                    _card(h.chunk, f"#{i}", None, passage_html(h.chunk.text), cited=False)
                    for i, h in enumerate(closest, start=1)
                )
                parts.append(
                    '<div class="rag-note">Không đoạn nào chứa câu trả lời; các đoạn gần nhất:</div>'
                    f'<div class="rag-closest">{cards}</div>'
                )
            elif not answer.citations:
                parts.append('<div class="rag-note">Câu trả lời không trích dẫn đoạn nào.</div>')
            others = [h for h in answer.retrieved if h.chunk.chunk_id not in cited_ids]
            if others and not answer.refused:
                cards = "".join(
                    _card(h.chunk, f"#{h.rank}", None, passage_html(h.chunk.text), cited=False) for h in others
                )
                parts.append(
                    f'<details class="rag-others"><summary>Các đoạn khác được tìm thấy ({len(others)})</summary>'
                    f"{cards}</details>"
                )
        header = html.escape(turn.question if len(turn.question) <= 80 else turn.question[:77] + "…")
        is_open = " open" if index == len(turns) - 1 else ""
        body = "".join(parts)
        summary = f"<summary>{header}</summary>"
        blocks.append(f'<details class="rag-turn" id="turn-{index}"{is_open}>{summary}{body}</details>')
    return "".join(blocks)


CSS = """
.rag-cite { font-weight: 600; text-decoration: none; cursor: pointer; padding: 0 1px; }
.rag-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
.rag-src.rag-active { outline: 3px solid var(--color-accent); }
.rag-uncited { opacity: 0.7; font-size: 0.92em; }
.rag-src-loc { color: var(--body-text-color-subdued); font-size: 0.9em; }
.rag-src-text { white-space: pre-wrap; margin-top: 4px; }
.rag-heading { display: inline-block; margin-bottom: 2px; }
.rag-support { background: #fde68a; color: inherit; padding: 0 1px; }
.rag-rewritten { margin: 6px 0; color: var(--body-text-color-subdued); }
.rag-turn > summary { font-weight: 600; cursor: pointer; margin: 6px 0; }
.rag-error { color: #b91c1c; }
.rag-check { margin: 6px 0 0; padding-left: 18px; font-size: 0.88em; color: var(--body-text-color-subdued); }
"""

# A click on [n] in the chat opens the turn's sources, scrolls to the passage and marks it.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.rag-cite');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById((link.getAttribute('href') || '').replace(/^#/, ''));
    if (!card) return;
    const turn = card.closest('details.rag-turn');
    if (turn) turn.open = true;
    document.querySelectorAll('.rag-src.rag-active').forEach((el) => el.classList.remove('rag-active'));
    card.classList.add('rag-active');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  }, true);
}
"""
