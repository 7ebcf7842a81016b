"""What all browser sessions share: the models, the index and the assistant built on them.

Generation is serialised inside the LLM wrapper; index changes (upload, removal) rebuild the
assistant under a lock and swap it in, so a question in flight keeps the state it started with.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.errors import (
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    LoaderError,
    ModelLoadError,
    QuestionError,
    RagError,
)
from rag.index.store import IndexStore
from rag.ingest.pipeline import IngestReport, ProgressFn, remove
from rag.setup.config import Settings
from rag.setup.wiring import build_assistant, build_embedder, build_generator, run_ingest
from rag.types import Chunk

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


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self.embedder = build_embedder(settings)
        self.generator = build_generator(settings)
        self._assistant: Assistant | None = None

    def assistant(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                self._assistant = build_assistant(self.settings, embedder=self.embedder, generator=self.generator)
            return self._assistant

    def _reload(self) -> None:
        with self._lock:
            self._assistant = None
            if IndexStore.exists(self.settings.index):
                self.assistant()

    def store(self) -> IndexStore | None:
        if not IndexStore.exists(self.settings.index):
            return None
        return self.assistant().retriever.store  # type: ignore[attr-defined]

    def documents(self) -> list[tuple[str, str]]:
        """(label, source) of every indexed document, sorted by source."""
        store = self.store()
        if store is None:
            return []
        return [(f"{rec.title} — {src}", src) for src, rec in sorted(store.documents.items())]

    def chunks_of(self, source: str) -> list[Chunk]:
        store = self.store()
        return store.chunks_of(source) if store else []

    def title_of(self, source: str) -> str:
        store = self.store()
        record = store.documents.get(source) if store else None
        return record.title if record else Path(source).stem

    def ingest_uploads(self, files: list[Path], progress: ProgressFn | None = None) -> IngestReport:
        """Copy uploaded files into the uploads folder and index them."""
        limit = self.settings.max_upload_mb * 1024 * 1024
        for file in files:
            size = file.stat().st_size
            if size > limit:
                raise UploadTooLargeError(
                    f"Tệp {file.name} quá lớn ({size / 2**20:.1f} MB, giới hạn {self.settings.max_upload_mb} MB). "
                    "Tăng giới hạn bằng RAG_MAX_UPLOAD_MB nếu cần."
                )
        self.settings.uploads.mkdir(parents=True, exist_ok=True)
        targets = []
        for file in files:
            target = self.settings.uploads / file.name
            shutil.copyfile(file, target)
            targets.append(target)
        with self._lock:
            report = run_ingest(self.settings, targets, embedder=self.embedder, progress=progress)
            self._reload()
        return report

    def ingest_corpus(self, progress: ProgressFn | None = None) -> IngestReport:
        with self._lock:
            report = run_ingest(self.settings, [self.settings.corpus], embedder=self.embedder, progress=progress)
            self._reload()
        return report

    def remove(self, source: str) -> bool:
        with self._lock:
            removed = remove([source], index=self.settings.index)
            self._reload()
        return bool(removed)
