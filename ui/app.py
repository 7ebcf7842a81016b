"""The browser chat (Gradio): wires the rag API into a page; no retrieval or generation logic here.

Each browser tab has its own conversation (a ``gr.State`` list of Turns); the models and the
index are shared through one Backend. What the buttons do is in ui/actions.py; this module
lays out the page and connects the buttons to those actions.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rag.ui.actions import ChatActions, Outputs, chat_messages
from rag.ui.backend import Backend
from rag.ui.render import CSS, JS, sources_html

from rag.answer.summary_settings import MAX_SENTENCES_ASKED, SummarySettings
from rag.errors import ConfigError
from rag.ingest.pipeline import IngestProgress
from rag.setup.config import Settings

log = logging.getLogger(__name__)

TITLE = "Hỏi đáp tài liệu tiếng Việt"
__all__ = ["Outputs", "build_app", "chat_messages", "launch", "login"]


def build_app(backend: Backend) -> Any:
    """The Gradio Blocks of the chat page."""
    import gradio as gr

    actions = ChatActions(backend)
    with gr.Blocks(title=TITLE, fill_height=True, analytics_enabled=False) as app:
        page = SimpleNamespace(turns=gr.State([]))
        gr.Markdown(
            f"## {TITLE}\nHỏi bằng tiếng Việt; mỗi ý trong câu trả lời có số trích dẫn [n], bấm vào để xem đoạn gốc."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                _chat_panel(gr, page, backend.settings)
                _document_panel(gr, page)
            with gr.Column(scale=2):
                gr.Markdown("### Nguồn")
                page.sources = gr.HTML(sources_html([]), elem_id="rag-sources")
        _wire_chat(gr, page, actions)
        _wire_documents(gr, app, page, actions)
    app.queue(default_concurrency_limit=4)
    return app


def _chat_panel(gr: Any, page: SimpleNamespace, settings: Settings) -> None:
    """The conversation, the question box, its buttons and the answer settings."""
    page.chatbot = gr.Chatbot(
        label="Hội thoại",
        elem_id="rag-chat",
        height=520,
        buttons=["copy"],
        sanitize_html=True,
        feedback_options=None,
        placeholder="Ví dụ: Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng?",
    )
    page.question = gr.Textbox(
        label="Câu hỏi", placeholder="Nhập câu hỏi rồi nhấn Enter…", elem_id="rag-question", autofocus=True
    )
    with gr.Row():
        page.send = gr.Button("Gửi", variant="primary", elem_id="rag-send")
        page.stop = gr.Button("Dừng", elem_id="rag-stop")
        page.again = gr.Button("Tạo lại", elem_id="rag-regenerate")
        page.reset = gr.Button("Xóa hội thoại", elem_id="rag-clear")
    with gr.Accordion("Cài đặt", open=False):
        page.k = gr.Slider(1, 10, value=settings.k, step=1, label="Số đoạn tài liệu dùng để trả lời")
        page.max_tokens = gr.Slider(64, 1024, value=settings.max_tokens, step=32, label="Độ dài tối đa (token)")
        page.sentences = gr.Slider(
            1,
            MAX_SENTENCES_ASKED,
            value=SummarySettings.max_sentences,
            step=1,
            label="Số câu tối đa của bản tóm tắt",
            elem_id="rag-summary-sentences",
        )


def _document_panel(gr: Any, page: SimpleNamespace) -> None:
    """Upload, the indexed documents, summaries (of a document or a topic) and removal."""
    with gr.Accordion("Tài liệu", open=False):
        page.files = gr.File(
            label="Tải tài liệu lên (.txt, .md, .html, .pdf, .docx, .jsonl)",
            file_count="multiple",
            elem_id="rag-upload",
        )
        page.add = gr.Button("Thêm vào chỉ mục", elem_id="rag-add")
        page.status = gr.HTML(elem_id="rag-status")
        page.docs = gr.Dropdown(label="Tài liệu trong chỉ mục", choices=[], elem_id="rag-docs")
        page.topic = gr.Textbox(
            label="Chủ đề tóm tắt",
            placeholder="Ví dụ: lớp bồi dưỡng đảng viên (để trống: cả tài liệu)",
            elem_id="rag-topic",
        )
        with gr.Row():
            page.summarize = gr.Button("Tóm tắt tài liệu", elem_id="rag-summarize")
            page.summarize_topic = gr.Button("Tóm tắt chủ đề", elem_id="rag-summarize-topic")
            page.delete = gr.Button("Xóa tài liệu", variant="stop", elem_id="rag-delete")


def _wire_chat(gr: Any, page: SimpleNamespace, actions: ChatActions) -> None:
    """Questions, regeneration, both summaries and Stop, which cancels whichever of them runs."""
    ask_inputs = [page.question, page.turns, page.k, page.max_tokens]
    ask_outputs = [page.chatbot, page.sources, page.turns, page.question]
    chat = [page.chatbot, page.sources, page.turns]
    running = [
        page.question.submit(actions.ask, ask_inputs, ask_outputs, api_name="ask"),
        page.send.click(actions.ask, ask_inputs, ask_outputs),
        page.again.click(actions.regenerate, [page.turns, page.k, page.max_tokens], ask_outputs),
        page.summarize.click(
            actions.summarize_document, [page.docs, page.topic, page.turns, page.max_tokens, page.sentences], chat
        ),
        page.summarize_topic.click(
            actions.summarize_topic,
            [page.topic, page.turns, page.max_tokens, page.sentences],
            chat,
            api_name="summarize_topic",
        ),
    ]
    page.stop.click(None, cancels=running)
    page.reset.click(actions.clear, None, chat, concurrency_limit=None)


def _wire_documents(gr: Any, app: Any, page: SimpleNamespace, actions: ChatActions) -> None:
    """Upload and removal (index writers, one at a time in their own group) and the document list."""
    backend = actions.backend

    def document_choices() -> Any:
        return gr.update(choices=backend.documents(), value=None)

    def upload(files: list[str] | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        def report(p: IngestProgress) -> None:
            progress((p.files_done, p.files_total), desc=f"Đang xử lý {Path(p.current).name}" if p.current else "Xong")

        return actions.upload(files, report), document_choices()

    def remove_document(source: str | None) -> tuple[Any, ...]:
        return actions.remove_document(source), document_choices()

    # index writers take turns in their own group, so they never take a slot from the questions
    writes = dict(concurrency_limit=1, concurrency_id="index-writes")
    page.add.click(upload, [page.files], [page.status, page.docs], api_name="upload", **writes)
    page.delete.click(remove_document, [page.docs], [page.status, page.docs], **writes)
    app.load(document_choices, None, [page.docs], concurrency_limit=None)  # a page load never queues


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
