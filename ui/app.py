"""The browser chat (Gradio): wires the rag API into a page; no retrieval or generation logic here.

Each browser tab has its own conversation (a ``gr.State`` list of Turns); the models and the
index are shared through one Backend.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError
from rag.ingest.pipeline import IngestProgress
from rag.setup.config import Settings
from rag.types import Answer
from rag.ui.backend import Backend, vietnamese_error
from rag.ui.render import CSS, JS, Turn, answer_html, error_html, final_answer_html, sources_html

log = logging.getLogger(__name__)

TITLE = "Hỏi đáp tài liệu tiếng Việt"
Outputs = tuple[list[dict[str, str]], str, list[Turn]]


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
    """Stream one turn (the last in turns) into the chat; errors become a chat message."""
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


def build_app(backend: Backend) -> Any:
    """The Gradio Blocks of the chat page."""
    import gradio as gr

    settings: Settings = backend.settings

    def ask(message: str, turns: list[Turn], k: int, max_tokens: int) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        history = [(t.standalone, t.answer.text) for t in turns if t.answer is not None]
        turns.append(Turn(message, message))
        yield chat_messages(turns, ""), sources_html(turns[:-1]), turns, ""
        try:
            assistant = backend.assistant()
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

    def regenerate(turns: list[Turn], k: int, max_tokens: int) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        if not turns:
            yield chat_messages(turns), sources_html(turns), turns, ""
            return
        last = turns.pop()
        yield from ask(last.question, turns, k, max_tokens)

    def summarize(source: str | None, turns: list[Turn], max_tokens: int) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        if not source:
            gr.Warning("Hãy chọn một tài liệu để tóm tắt.")
            yield chat_messages(turns), sources_html(turns), turns
            return
        title = backend.title_of(source)
        turns.append(Turn(f"Tóm tắt tài liệu: {title}", f"Tóm tắt tài liệu: {title}"))
        yield chat_messages(turns, ""), sources_html(turns[:-1]), turns
        try:
            events = backend.assistant().summarize(backend.chunks_of(source), topic=title, max_tokens=int(max_tokens))
        except Exception as e:  # noqa: BLE001
            turns[-1] = Turn(turns[-1].question, turns[-1].standalone, error=vietnamese_error(e))
            yield chat_messages(turns), sources_html(turns), turns
            return
        with contextlib.closing(_run(turns, events)) as run:
            yield from run

    def clear() -> tuple[Any, ...]:
        return [], sources_html([]), []

    def document_choices() -> Any:
        return gr.update(choices=backend.documents(), value=None)

    def upload(files: list[str] | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        if not files:
            return "Chưa chọn tệp nào.", document_choices()

        def report(p: IngestProgress) -> None:
            desc = f"Đang xử lý {Path(p.current).name}" if p.current else "Xong"
            progress((p.files_done, p.files_total), desc=desc)

        try:
            result, stored = backend.ingest_uploads([Path(f) for f in files], progress=report)
        except Exception as e:  # noqa: BLE001
            return error_html(vietnamese_error(e)), document_choices()
        lines = [
            f"Đã thêm {len(result.added)}, cập nhật {len(result.updated)}, không đổi {len(result.unchanged)} tệp; "
            f"{result.chunks_embedded} đoạn mới trong {result.seconds:.1f} giây."
        ]
        for upload in stored:
            if upload.renamed and not upload.existed:
                lines.append(html.escape(f"Đã có một tệp khác cùng tên: tệp mới được lưu là «{upload.path.name}»."))
        for source, reason in result.failed:
            lines.append(error_html(f"Không đọc được {Path(source).name}: {reason}"))
        return "<br>".join(lines), document_choices()

    def remove_document(source: str | None) -> tuple[Any, ...]:
        if not source:
            return "Hãy chọn một tài liệu để xóa.", document_choices()
        try:
            removed = backend.remove(source)
        except Exception as e:  # noqa: BLE001
            return error_html(vietnamese_error(e)), document_choices()
        message = f"Đã xóa {html.escape(source)} khỏi chỉ mục." if removed else "Tài liệu không có trong chỉ mục."
        return message, document_choices()

    with gr.Blocks(title=TITLE, fill_height=True, analytics_enabled=False) as app:
        turns = gr.State([])
        gr.Markdown(
            f"## {TITLE}\nHỏi bằng tiếng Việt; mỗi ý trong câu trả lời có số trích dẫn [n], bấm vào để xem đoạn gốc."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Hội thoại",
                    elem_id="rag-chat",
                    height=520,
                    buttons=["copy"],
                    sanitize_html=True,
                    feedback_options=None,
                    placeholder="Ví dụ: Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng?",
                )
                question = gr.Textbox(
                    label="Câu hỏi", placeholder="Nhập câu hỏi rồi nhấn Enter…", elem_id="rag-question", autofocus=True
                )
                with gr.Row():
                    send = gr.Button("Gửi", variant="primary", elem_id="rag-send")
                    stop = gr.Button("Dừng", elem_id="rag-stop")
                    again = gr.Button("Tạo lại", elem_id="rag-regenerate")
                    reset = gr.Button("Xóa hội thoại", elem_id="rag-clear")
                with gr.Accordion("Cài đặt", open=False):
                    k = gr.Slider(1, 10, value=settings.k, step=1, label="Số đoạn tài liệu dùng để trả lời")
                    max_tokens = gr.Slider(64, 1024, value=settings.max_tokens, step=32, label="Độ dài tối đa (token)")
                with gr.Accordion("Tài liệu", open=False):
                    files = gr.File(
                        label="Tải tài liệu lên (.txt, .md, .html, .pdf, .docx, .jsonl)",
                        file_count="multiple",
                        elem_id="rag-upload",
                    )
                    add = gr.Button("Thêm vào chỉ mục", elem_id="rag-add")
                    status = gr.HTML(elem_id="rag-status")
                    docs = gr.Dropdown(label="Tài liệu trong chỉ mục", choices=[], elem_id="rag-docs")
                    with gr.Row():
                        summarize_btn = gr.Button("Tóm tắt tài liệu", elem_id="rag-summarize")
                        delete = gr.Button("Xóa tài liệu", variant="stop", elem_id="rag-delete")
            with gr.Column(scale=2):
                gr.Markdown("### Nguồn")
                sources = gr.HTML(sources_html([]), elem_id="rag-sources")

        ask_inputs = [question, turns, k, max_tokens]
        ask_outputs = [chatbot, sources, turns, question]
        on_submit = question.submit(ask, ask_inputs, ask_outputs, api_name="ask")
        on_send = send.click(ask, ask_inputs, ask_outputs)
        on_again = again.click(regenerate, [turns, k, max_tokens], ask_outputs)
        on_summary = summarize_btn.click(summarize, [docs, turns, max_tokens], [chatbot, sources, turns])
        stop.click(None, cancels=[on_submit, on_send, on_again, on_summary])
        reset.click(clear, None, [chatbot, sources, turns], concurrency_limit=None)
        # index writers take turns in their own group, so they never take a slot from the questions
        add.click(
            upload, [files], [status, docs], concurrency_limit=1, concurrency_id="index-writes", api_name="upload"
        )
        delete.click(remove_document, [docs], [status, docs], concurrency_limit=1, concurrency_id="index-writes")
        app.load(document_choices, None, [docs], concurrency_limit=None)  # a page load never queues
    app.queue(default_concurrency_limit=4)
    return app


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach an address ("localhost", 127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def login(settings: Settings, host: str, *, no_auth: bool = False) -> tuple[str, str] | None:
    """The (user, password) the page asks for; None: no login. Beyond loopback a password is required."""
    if settings.ui_password:
        if not settings.ui_user.strip():
            raise ConfigError("ui_user is empty: set the login's user name (RAG_UI_USER), e.g. rag")
        return settings.ui_user, settings.ui_password
    if is_loopback(host):
        return None
    if no_auth:
        log.warning("rag ui on %s without a login: anyone who can reach it can upload and delete documents", host)
        return None
    raise ConfigError(
        f"rag ui --host {host} would put upload, removal and summaries in front of the network without a login: "
        "set a password with RAG_UI_PASSWORD (or ui_password in rag.toml), or pass --no-auth to serve without one"
    )


def launch(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    progress: Any = None,
    auth: tuple[str, str] | None = None,
) -> None:
    """Load the models, build the index from the corpus if there is none, then serve the page."""
    from rag.index.faiss.store import IndexStore

    backend = Backend(settings)
    if not IndexStore.exists(settings.index) and settings.corpus.is_dir():
        backend.ingest_corpus(progress=progress)
    app = build_app(backend)
    app.launch(
        server_name=host,
        server_port=port,
        css=CSS,
        js=JS,
        footer_links=[],
        show_error=False,
        quiet=True,
        auth=auth,
        auth_message="Đăng nhập để hỏi đáp tài liệu (tên và mật khẩu do người quản trị đặt).",
    )
