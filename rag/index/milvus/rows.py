"""The Milvus collection's schema and rows: chunk fields, vector, our lexical terms and their sparse weights."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

from rag.index.lexical import FIELDS
from rag.types import Chunk

CHUNK_FIELDS = ("chunk_id", "source", "title", "text", "start", "end", "n_tokens", "location", "page", "page_end")
MAX_VARCHAR = 65_535  # bytes, Milvus's limit for one VARCHAR value
K1, B = 1.2, 0.75  # LexicalIndex's BM25 parameters


def schema(client: Any, dim: int) -> tuple[Any, Any]:
    """The collection schema and indexes: exact inner product on the vectors, inverted lists on the sparse ones."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    for name in ("chunk_id", "source", "title", "text", "location"):
        schema.add_field(name, DataType.VARCHAR, max_length=MAX_VARCHAR)
    for name in ("start", "end", "n_tokens"):
        schema.add_field(name, DataType.INT64)
    for name in ("page", "page_end"):
        schema.add_field(name, DataType.INT64, nullable=True)
    for name in FIELDS:
        schema.add_field(name, DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    index.add_index("lexical", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return schema, index


def row(i: int, chunk: Chunk, vector: Any, terms: dict[str, list[str]], fields: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": i, "dense": vector.tolist(), "lexical": doc_weights(terms, fields)}
    for name in CHUNK_FIELDS:
        row[name] = getattr(chunk, name)
    for name, words in terms.items():
        row[name] = " ".join(words)
    for name in ("chunk_id", "source", "title", "text", "location", *FIELDS):
        if len(row[name].encode()) > MAX_VARCHAR:
            raise ValueError(
                f"chunk {chunk.chunk_id}: its {name} is over Milvus's {MAX_VARCHAR} bytes: use smaller chunks"
            )
    return row


def key_of(name: str, term: str) -> int:
    return zlib.crc32(f"{name}\x1f{term}".encode())


def tf_norm(tf: float, length: int, avgdl: float) -> float:
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / max(avgdl, 1e-9)))


def doc_weights(terms: dict[str, list[str]], fields: tuple[str, ...]) -> dict[int, float]:
    """BM25's saturated term frequency of each (field, term) of fields, without the length norm (b=0):
    it would need the collection's mean length, which changes after the row is written."""
    weights: dict[int, float] = {}
    for name in fields:
        for term, tf in Counter(terms[name]).items():
            key = key_of(name, term)
            weights[key] = weights.get(key, 0.0) + tf * (K1 + 1) / (tf + K1)
    return weights or {0: 0.0}


def chunk(entity: dict[str, Any]) -> Chunk:
    return Chunk(*(entity[name] for name in CHUNK_FIELDS))
