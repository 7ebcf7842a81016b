"""What every request shares: the models, the index and the assistant built on them.

One Service serves the HTTP API and, with ``rag serve --ui``, the browser chat too (it offers the
methods ui.app.build_app calls on its backend), so the models are loaded once. Generation is
serialised inside the in-process LLM (or queued by the LLM server); index changes rebuild the
assistant under a lock and swap it in, so a question in flight keeps the state it started with.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.answer.generate import Generator
from rag.errors import IndexNotFoundError, LlmServerError, QuestionError, RagError
from rag.index.base import DocumentViews, Store
from rag.index.embedding import Embedder
from rag.index.faiss.store import IndexStore
from rag.ingest.pipeline import IngestReport, ProgressFn, remove
from rag.setup import wiring
from rag.setup.config import Settings
from rag.text.vietnamese import nfc
from rag.types import Message

log = logging.getLogger(__name__)


class NotReadyError(RagError):
    """The models are still loading (or failed to load)."""


class UploadTooLargeError(RagError):
    """An uploaded file is over max_upload_mb."""


def document_id(source: str) -> str:
    """A stable, URL-safe id for an indexed source path."""
    return "doc-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def upload_name(filename: str | None) -> str:
    """The file name an upload is kept under: its last path part, NFC; QuestionError when unusable."""
    name = nfc(Path((filename or "").replace("\\", "/")).name).strip()
    if not name or name.startswith("."):
        raise QuestionError(f"upload file name {filename!r} is not usable: send the file with a name like report.pdf")
    return name


class Service(DocumentViews):
    """Models and index for all requests; ``load()`` (or ``start_loading()``) must finish before answering."""

    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, generator: Generator | None = None
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._generator = generator
        self._lock = threading.RLock()
        self._assistant: Assistant | None = None
        self._store: Store | None = None  # the store the assistant was built on
        self._ready = threading.Event()
        self._failure: RagError | None = None

    # --- loading ----------------------------------------------------------------------------

    def load(self, progress: ProgressFn | None = None) -> None:
        """Load the models (and build the index from the corpus when there is none yet)."""
        try:
            if self._embedder is None:
                self._embedder = wiring.build_embedder(self.settings)
            if self._generator is None:
                self._generator = wiring.build_generator(self.settings)
            self._embedder.embed_query("khởi động")  # loads the weights now rather than on the first question
            try:
                self._generator.count_prompt_tokens([Message("user", "khởi động")])  # loads the GGUF / asks the server
            except LlmServerError as e:  # the LLM server may start later: each question tries again (502 until then)
                log.warning("%s", e)
            if not IndexStore.exists(self.settings.index) and self.settings.corpus.is_dir():
                self.ingest_corpus(progress=progress)
            elif IndexStore.exists(self.settings.index):
                self.assistant()
        except RagError as e:
            self._failure = e
            log.error("rag serve: the models did not load: %s", e)
            raise
        finally:
            self._ready.set()

    def start_loading(self, progress: ProgressFn | None = None) -> threading.Thread:
        """load() in a background thread: the server answers 503 until it is done."""

        def run() -> None:
            try:
                self.load(progress)
            except RagError:
                pass  # kept in self._failure and reported by every request (503)

        thread = threading.Thread(target=run, name="rag-load", daemon=True)
        thread.start()
        return thread

    def require_ready(self) -> None:
        if not self._ready.is_set():
            raise NotReadyError("the models are still loading: retry in a few seconds")
        if self._failure is not None:
            raise NotReadyError(f"the models failed to load: {self._failure}")

    @property
    def embedder(self) -> Embedder:
        self.require_ready()
        assert self._embedder is not None
        return self._embedder

    # --- the index (the methods ui.app.build_app calls on its backend) -------------------------

    def assistant(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                if self._embedder is None or self._generator is None:
                    raise NotReadyError("the models are still loading: retry in a few seconds")
                if not IndexStore.exists(self.settings.index):
                    raise IndexNotFoundError(
                        f"no index at {self.settings.index}: upload a document (POST /v1/documents) "
                        f"or run `rag ingest <folder> --index {self.settings.index}`"
                    )
                self._store = wiring.open_index(self.settings)
                self._assistant = wiring.build_assistant(
                    self.settings, embedder=self._embedder, generator=self._generator, store=self._store
                )
            return self._assistant

    def current(self) -> tuple[Assistant, Store]:
        """The assistant and the store it was built on, read together (an upload may swap both at any time)."""
        with self._lock:
            assistant = self.assistant()
            assert self._store is not None
            return assistant, self._store

    def _reload(self) -> None:
        with self._lock:
            self._assistant = None
            if IndexStore.exists(self.settings.index):
                self.assistant()

    def store(self) -> Store | None:
        if not IndexStore.exists(self.settings.index):
            return None
        with self._lock:  # re-entrant: assistant() opens the store with the assistant
            self.assistant()
            return self._store

    def _check_size(self, name: str, size: int) -> None:
        limit = self.settings.max_upload_mb * 2**20
        if size > limit:
            raise UploadTooLargeError(
                f"{name} is {size / 2**20:.1f} MB, over the {self.settings.max_upload_mb} MB limit "
                "(raise it with RAG_MAX_UPLOAD_MB)"
            )

    def add_file(self, filename: str | None, data: bytes) -> tuple[str, IngestReport]:
        """Keep an uploaded file in the uploads folder and index it now; (its source, the ingest report)."""
        name = upload_name(filename)
        self._check_size(name, len(data))
        self.settings.uploads.mkdir(parents=True, exist_ok=True)
        target = self.settings.uploads / name
        with self._lock:
            previous = target.read_bytes() if target.is_file() else None
            target.write_bytes(data)
            report = wiring.run_ingest(self.settings, [target], embedder=self._embedder)
            if str(target) in dict(report.failed):  # unreadable: keep the uploads folder as it was
                if previous is None:
                    target.unlink()
                else:
                    target.write_bytes(previous)
            self._reload()
        return str(target), report

    def ingest_uploads(self, files: list[Path], progress: ProgressFn | None = None) -> IngestReport:
        """Copy files (the chat's uploads) into the uploads folder and index them."""
        for file in files:
            self._check_size(file.name, file.stat().st_size)
        self.settings.uploads.mkdir(parents=True, exist_ok=True)
        targets = [self.settings.uploads / upload_name(f.name) for f in files]
        with self._lock:
            for file, target in zip(files, targets, strict=True):
                target.write_bytes(file.read_bytes())
            report = wiring.run_ingest(self.settings, targets, embedder=self._embedder, progress=progress)
            self._reload()
        return report

    def ingest_corpus(self, progress: ProgressFn | None = None) -> IngestReport:
        with self._lock:
            report = wiring.run_ingest(
                self.settings, [self.settings.corpus], embedder=self._embedder, progress=progress
            )
            self._reload()
        return report

    def remove(self, source: str) -> bool:
        with self._lock:
            removed = remove([source], index=self.settings.index)
            self._reload()
        return bool(removed)
