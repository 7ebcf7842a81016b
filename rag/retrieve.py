"""Retrieval: query -> ranked passages. Depends on the Embedder protocol, not a concrete model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.types import Hit
from rag.vietnamese import nfc

if TYPE_CHECKING:
    from rag.embedding import Embedder
    from rag.store import IndexStore


class DenseRetriever:
    """Nearest passages by cosine similarity of embeddings in the FAISS index."""

    def __init__(self, store: IndexStore, embedder: Embedder) -> None:
        store.check_compatible(embedder.model_id, store.dim)
        self._store = store
        self._embedder = embedder

    @property
    def store(self) -> IndexStore:
        return self._store

    def search(self, query: str, k: int) -> list[Hit]:
        vector = self._embedder.embed_query(nfc(query))
        return [Hit(chunk, score, rank) for rank, (chunk, score) in enumerate(self._store.search(vector, k), start=1)]
