"""What all browser sessions share: the models, the index and the assistant built on them.

Generation is serialised inside the LLM wrapper; index changes (upload, removal) are written and
opened aside, then swapped in, so questions keep answering meanwhile and one in flight keeps the
state it started with.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.answer.generate import Generator
from rag.errors import (
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    LoaderError,
    ModelLoadError,
    QuestionError,
    RagError,
)
from rag.index.base import DocumentViews, Store
from rag.index.embedding import Embedder
from rag.index.faiss.store import IndexStore
from rag.ingest.pipeline import IngestReport, ProgressFn, remove
from rag.ingest.uploads import StoredUpload, safe_upload_name, store_upload
from rag.setup.config import Settings
from rag.setup.wiring import build_assistant, build_embedder, build_generator, open_index, run_ingest

log = logging.getLogger(__name__)


class UploadTooLargeError(RagError):
    """An uploaded file is over the configured size limit."""


def vietnamese_error(error: Exception) -> str:
    """One readable Vietnamese line for the chat; the technical detail stays in the log."""
    detail = str(error)
    if isinstance(error, QuestionError):
        if "empty" in detail:
            return "Câu hỏi đang trống: hãy nhập một câu hỏi."
        numbers = re.findall(r"\d+", detail)
        if "characters" in detail and len(numbers) >= 2:
            return f"Câu hỏi quá dài: {numbers[0]} ký tự, tối đa {numbers[1]}. Hãy rút gọn câu hỏi."
        if "sentences is out of range" in detail and len(numbers) >= 3:
            return f"Bản tóm tắt có thể dài từ {numbers[1]} đến {numbers[2]} câu, không phải {numbers[0]} câu."
        return f"Không thể xử lý câu hỏi: {detail}"
    if isinstance(error, IndexNotFoundError):
        return "Chưa có chỉ mục tài liệu. Hãy tải tài liệu lên (mục Tài liệu) hoặc chạy `rag ingest <thư mục>`."
    if isinstance(error, IndexMismatchError):
        return f"Chỉ mục được tạo bằng mô hình khác với cấu hình hiện tại. Hãy chạy `rag ingest --rebuild`. ({detail})"
    if isinstance(error, IndexLockedError):
        return "Chỉ mục đang được cập nhật bởi một tiến trình khác. Hãy thử lại sau ít phút."
    if isinstance(error, ModelLoadError):
        return f"Không tải được mô hình. Hãy chạy `rag models install --force`. ({detail})"
    if isinstance(error, LoaderError):
        return f"Không đọc được tệp: {detail}"
    if isinstance(error, UploadTooLargeError):
        return detail
    return f"Đã xảy ra lỗi: {detail}"


class Backend(DocumentViews):
    """The shared models and the current (assistant, store) pair.

    Writers (upload, removal, corpus ingest) take turns on their own lock and build the new
    index and assistant aside; only the swap takes the state lock, so questions and page
    loads never wait for an ingest: they use the previous index until the new one is complete.
    """

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, generator: Generator | None = None):
        self.settings = settings
        self._state = threading.Lock()  # guards _assistant/_store: held for a swap or a first open only
        self._writes = threading.Lock()  # one index writer at a time in this process
        self.embedder = embedder or build_embedder(settings)
        self.generator = generator or build_generator(settings)
        self._assistant: Assistant | None = None
        self._store: Store | None = None

    def _open(self) -> tuple[Assistant, Store]:
        store = open_index(self.settings)
        assistant = build_assistant(self.settings, embedder=self.embedder, generator=self.generator, store=store)
        return assistant, store

    def _current(self) -> tuple[Assistant, Store]:
        with self._state:
            if self._assistant is None or self._store is None:
                self._assistant, self._store = self._open()
            return self._assistant, self._store

    def assistant(self) -> Assistant:
        return self._current()[0]

    def _swap_in(self) -> None:
        """Open the index just written (outside the state lock), then make it the current one."""
        fresh = self._open() if IndexStore.exists(self.settings.index) else (None, None)
        with self._state:
            self._assistant, self._store = fresh

    def store(self) -> Store | None:
        if not IndexStore.exists(self.settings.index):
            return None
        return self._current()[1]

    def ingest_uploads(
        self, files: list[Path], progress: ProgressFn | None = None
    ) -> tuple[IngestReport, list[StoredUpload]]:
        """Keep uploaded files in the uploads folder (never over another file) and index them."""
        limit = self.settings.max_upload_mb * 1024 * 1024
        for file in files:
            size = file.stat().st_size
            if size > limit:
                raise UploadTooLargeError(
                    f"Tệp {safe_upload_name(file.name)} quá lớn ({size / 2**20:.1f} MB, "
                    f"giới hạn {self.settings.max_upload_mb} MB). Tăng giới hạn bằng RAG_MAX_UPLOAD_MB nếu cần."
                )
        with self._writes:
            stored = [store_upload(file, self.settings.uploads) for file in files]
            report = run_ingest(self.settings, [s.path for s in stored], embedder=self.embedder, progress=progress)
            self._swap_in()
        return report, stored

    def ingest_corpus(self, progress: ProgressFn | None = None) -> IngestReport:
        with self._writes:
            report = run_ingest(self.settings, [self.settings.corpus], embedder=self.embedder, progress=progress)
            self._swap_in()
        return report

    def remove(self, source: str) -> bool:
        with self._writes:
            removed = remove([source], index=self.settings.index)
            self._swap_in()
        return bool(removed)
