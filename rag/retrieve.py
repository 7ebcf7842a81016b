"""Retrieval: query -> ranked passages, dense (FAISS), lexical (BM25) or both fused.

Depends on the Embedder protocol, not on a concrete model. A query typed without diacritics
is matched against the folded BM25 field, and (optionally) given its marks back from the
collection's own spellings before it is embedded, since the embedder was trained on accented
text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import ConfigError
from rag.lexical import has_diacritics
from rag.types import Chunk, Hit
from rag.vietnamese import nfc

if TYPE_CHECKING:
    from rag.embedding import Embedder
    from rag.store import IndexStore

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class RetrievalSettings:
    """How dense and lexical rankings are combined (reciprocal rank fusion)."""

    mode: str = "hybrid"
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    candidates: int = 50  # taken from each ranking before fusion
    restore_diacritics: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"retrieval mode {self.mode!r} is unknown: use one of {', '.join(MODES)}")
        if self.rrf_k < 0 or self.candidates < 1:
            raise ConfigError(f"rrf_k={self.rrf_k} must be >= 0 and candidates={self.candidates} >= 1")


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
        return _ranked(self._store.search(vector, k))


class HybridRetriever:
    """Dense + BM25 fused by weighted reciprocal rank: score = sum_i w_i / (rrf_k + rank_i)."""

    def __init__(self, store: IndexStore, embedder: Embedder, settings: RetrievalSettings | None = None) -> None:
        store.check_compatible(embedder.model_id, store.dim)
        self._store = store
        self._embedder = embedder
        self._s = settings or RetrievalSettings()

    @property
    def store(self) -> IndexStore:
        return self._store

    def dense_query(self, query: str) -> str:
        """The text embedded for a query: with restored diacritics when it was typed without."""
        query = nfc(query)
        if self._s.restore_diacritics and not has_diacritics(query):
            return self._store.lexical.restore_diacritics(query)
        return query

    def search(self, query: str, k: int) -> list[Hit]:
        query = nfc(query)
        if self._s.mode == "lexical":
            return _ranked(self._store.search_lexical(query, k))
        dense = self._store.search(self._embedder.embed_query(self.dense_query(query)), max(k, self._s.candidates))
        if self._s.mode == "dense":
            return _ranked(dense[:k])
        lexical = self._store.search_lexical(query, max(k, self._s.candidates))
        return _ranked(fuse([dense, lexical], [self._s.dense_weight, self._s.lexical_weight], self._s.rrf_k)[:k])


def fuse(rankings: list[list[tuple[Chunk, float]]], weights: list[float], rrf_k: int) -> list[tuple[Chunk, float]]:
    """Weighted reciprocal rank fusion; ties keep the order of the first ranking."""
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (chunk, _score) in enumerate(ranking, start=1):
            scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + weight / (rrf_k + rank)
            chunks.setdefault(chunk.chunk_id, chunk)
    order = sorted(scores, key=lambda cid: -scores[cid])
    return [(chunks[cid], scores[cid]) for cid in order]


def _ranked(pairs: list[tuple[Chunk, float]]) -> list[Hit]:
    return [Hit(chunk, score, rank) for rank, (chunk, score) in enumerate(pairs, start=1)]
