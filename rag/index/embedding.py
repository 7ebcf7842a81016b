"""Embedder protocol and the sentence-transformers implementation."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit-length float32 vectors; queries and passages may be encoded differently."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """A SentenceTransformer loaded from a local folder (or a hub name when online).

    Query/passage prefixes come from the model's own ``prompts`` (e5: ``query: ``/``passage: ``).
    One instance serves chat queries and upload ingest at once: a Hugging Face fast tokenizer
    raises "Already borrowed" when two threads use it together, so every use takes a lock, one
    batch at a time, and a query waits at most one ingest batch.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        model_id: str | None = None,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        self._model_ref = str(model)
        looks_local = Path(self._model_ref).exists() or self._model_ref.startswith((".", "/", "~"))
        if looks_local and not (Path(self._model_ref).expanduser() / "modules.json").exists():
            raise ModelLoadError(
                f"{self._model_ref} is not a sentence-transformers folder (no modules.json): "
                "pass a model folder, or run `rag models install` for the default"
            )
        self._model_id = model_id or self._model_ref
        self._batch_size = batch_size
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()  # loading
        self._use = threading.Lock()  # tokenizer and forward pass: one thread at a time

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        model = self._load()
        return int(model.get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self._load().max_seq_length)

    def _load(self):  # noqa: ANN202 - returns a SentenceTransformer
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def _build(self):  # noqa: ANN202
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        if self._threads > 0:
            torch.set_num_threads(self._threads)
        local = Path(self._model_ref).expanduser()
        try:
            model = SentenceTransformer(
                str(local) if local.exists() else self._model_ref,
                device="cpu",
                local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1",
            )
        except Exception as e:  # noqa: BLE001 - any load failure becomes one clear message
            raise ModelLoadError(
                f"cannot load embedding model {self._model_ref}: {e}. For the default model run "
                "`rag models install --force`; a hub name needs internet (unset HF_HUB_OFFLINE)"
            ) from e
        model.eval()
        return model

    def _prompt(self, name: str) -> str:
        prompts = getattr(self._load(), "prompts", {}) or {}
        return prompts.get(name) or prompts.get("document" if name == "passage" else name, "")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self._prompt("passage"))

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self._prompt("query"))[0]

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        import numpy as np

        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # longest first, as sentence-transformers batches, but one batch per lock hold
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            with self._use:
                encoded = model.encode(
                    [prefix + texts[i] for i in batch],
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            vectors[batch] = encoded
        return vectors

    def count_tokens(self, text: str) -> int:
        """Content tokens of text (no special tokens, no prefix)."""
        tokenizer = self._load().tokenizer
        with self._use:
            return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
