"""What the chat page's buttons do: ask, summarise a document or a topic, upload, remove.

Each action takes the tab's conversation (a list of Turns) and yields the outputs it updates;
the Gradio wiring is in ui/app.py. Nothing here imports Gradio except the one warning a
user gets for a summary with nothing chosen, so the actions are tested without a browser.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.ui.backend import Backend, vietnamese_error
from rag.ui.render import Turn, answer_html, error_html, final_answer_html, sources_html

from rag.errors import RagError
from rag.ingest.pipeline import IngestProgress
from rag.types import Answer

log = logging.getLogger(__name__)

Outputs = tuple[list[dict[str, str]], str, list[Turn]]
TOPIC_PASSAGES = 8  # passages a topic summary reads, as `rag summarize --topic` does by default


def chat_messages(turns: list[Turn], partial: str | None = None) -> list[dict[str, str]]:
    """Gradio 'messages' for the conversation; partial is the answer still being streamed."""
    messages: list[dict[str, str]] = []
    for index, turn in enumerate(turns):
        messages.append({"role": "user", "content": html.escape(turn.question)})
        if turn.error:
            content = error_html(turn.error)
        elif turn.answer is not None:
            content = final_answer_html(turn.answer, index) if turn.answer.text else "<i>(không có câu trả lời)</i>"
        elif index == len(turns) - 1 and partial is not None:
            content = answer_html(partial, index) + " ▌"
        else:
            content = "<i>(đã dừng)</i>"
        messages.append({"role": "assistant", "content": content})
    return messages


def _run(turns: list[Turn], events: Iterator[str | Answer]) -> Iterator[Outputs]:
    """Stream one turn (the last in turns) into the chat, then replace it with the checked Answer."""
    partial = ""
    try:
        for event in events:  # closed below, so a stopped or abandoned tab frees the model at once
            if isinstance(event, Answer):
                turns[-1] = Turn(turns[-1].question, turns[-1].standalone, answer=event)
            else:
                partial += event
                yield chat_messages(turns, partial), sources_html(turns[:-1]), turns
    except RagError as e:
        log.warning("question failed: %s", e)
        turns[-1] = Turn(turns[-1].question, turns[-1].standalone, error=vietnamese_error(e))
    except Exception as e:  # noqa: BLE001 - the page must keep serving whatever failed
        log.exception("unexpected failure")
        turns[-1] = Turn(turns[-1].question, turns[-1].standalone, error=vietnamese_error(e))
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    yield chat_messages(turns), sources_html(turns), turns


def _turn(turns: list[Turn], label: str, start: Callable[[], Iterator[str | Answer]]) -> Iterator[Outputs]:
    """A new turn labelled label, streamed from start(); an error starting it becomes the turn's message."""
    turns.append(Turn(label, label))
    yield chat_messages(turns, ""), sources_html(turns[:-1]), turns
    try:
        events = start()
    except Exception as e:  # noqa: BLE001 - shown in the chat, the app keeps serving
        turns[-1] = Turn(label, label, error=vietnamese_error(e))
        yield chat_messages(turns), sources_html(turns), turns
        return
    with contextlib.closing(_run(turns, events)) as run:  # Gradio's Stop closes the caller, this the rest
        yield from run


class ChatActions:
    """The page's actions over one shared Backend; a tab's state is passed in and returned, never kept here."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def ask(self, message: str, turns: list[Turn], k: int, max_tokens: int) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        history = [(t.standalone, t.answer.text) for t in turns if t.answer is not None]
        turns.append(Turn(message, message))
        yield chat_messages(turns, ""), sources_html(turns[:-1]), turns, ""
        try:
            assistant = self.backend.assistant()
            standalone = assistant.condense(history, message)
            turns[-1] = Turn(message, standalone)
            events = assistant.stream(standalone, k=int(k), max_tokens=int(max_tokens))
        except Exception as e:  # noqa: BLE001 - shown in the chat, the app keeps serving
            turns[-1] = Turn(message, message, error=vietnamese_error(e))
            yield chat_messages(turns), sources_html(turns), turns, ""
            return
        with contextlib.closing(_run(turns, events)) as run:  # Gradio's Stop closes ask(), this closes the rest
            for chat, sources, state in run:
                yield chat, sources, state, ""

    def regenerate(self, turns: list[Turn], k: int, max_tokens: int) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        if not turns:
            yield chat_messages(turns), sources_html(turns), turns, ""
            return
        last = turns.pop()
        yield from self.ask(last.question, turns, k, max_tokens)

    def summarize_document(
        self, source: str | None, topic: str | None, turns: list[Turn], max_tokens: int, sentences: int | None = None
    ) -> Iterator[Outputs]:
        """The chosen document's summary; with a topic, only its facts on it (as `rag summarize DOC --topic`).

        sentences: at most this many (the settings' slider; None: SummarySettings.max_sentences)."""
        turns = list(turns or [])
        if not source:
            _warn("Hãy chọn một tài liệu để tóm tắt.")
            yield chat_messages(turns), sources_html(turns), turns
            return
        title = self.backend.title_of(source)
        topic = (topic or "").strip()
        label = f"Tóm tắt tài liệu: {title}" + (f" (chủ đề: {topic})" if topic else "")

        def start() -> Iterator[str | Answer]:
            chunks = self.backend.chunks_of(source)
            return self.backend.assistant().summarize(
                chunks,
                topic=topic or title,
                max_tokens=int(max_tokens),
                on_topic=bool(topic),
                sentences=_count(sentences),
            )

        yield from _turn(turns, label, start)

    def summarize_topic(
        self, topic: str | None, turns: list[Turn], max_tokens: int, sentences: int | None = None
    ) -> Iterator[Outputs]:
        """The facts on a topic across the index's documents, each cited to its own document."""
        turns = list(turns or [])
        topic = (topic or "").strip()
        if not topic:
            _warn("Hãy nhập một chủ đề để tóm tắt.")
            yield chat_messages(turns), sources_html(turns), turns
            return

        def start() -> Iterator[str | Answer]:
            assistant = self.backend.assistant()
            chunks = assistant.topic_passages(topic, k=TOPIC_PASSAGES)
            return assistant.summarize(
                chunks, topic=topic, max_tokens=int(max_tokens), on_topic=True, sentences=_count(sentences)
            )

        yield from _turn(turns, f"Tóm tắt chủ đề: {topic}", start)

    def clear(self) -> tuple[Any, ...]:
        return [], sources_html([]), []

    def upload(self, files: list[str] | None, report: Callable[[IngestProgress], None]) -> str:
        """Index uploaded files; the status line for the page."""
        if not files:
            return "Chưa chọn tệp nào."
        try:
            result, stored = self.backend.ingest_uploads([Path(f) for f in files], progress=report)
        except Exception as e:  # noqa: BLE001
            return error_html(vietnamese_error(e))
        lines = [
            f"Đã thêm {len(result.added)}, cập nhật {len(result.updated)}, không đổi {len(result.unchanged)} tệp; "
            f"{result.chunks_embedded} đoạn mới trong {result.seconds:.1f} giây."
        ]
        for upload in stored:
            if upload.renamed and not upload.existed:
                lines.append(html.escape(f"Đã có một tệp khác cùng tên: tệp mới được lưu là «{upload.path.name}»."))
        for source, reason in result.failed:
            lines.append(error_html(f"Không đọc được {Path(source).name}: {reason}"))
        return "<br>".join(lines)

    def remove_document(self, source: str | None) -> str:
        if not source:
            return "Hãy chọn một tài liệu để xóa."
        try:
            removed = self.backend.remove(source)
        except Exception as e:  # noqa: BLE001
            return error_html(vietnamese_error(e))
        return f"Đã xóa {html.escape(source)} khỏi chỉ mục." if removed else "Tài liệu không có trong chỉ mục."


def _warn(message: str) -> None:
    """A toast in the page (outside a Gradio request, e.g. in tests, only logged)."""
    import gradio as gr

    log.info("%s", message)
    gr.Warning(message)


def _count(sentences: float | None) -> int | None:
    """The slider's sentence count as an int (a Gradio slider may send 12.0); None keeps the default."""
    return None if sentences is None else round(sentences)
