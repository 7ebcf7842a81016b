"""The Milvus store's lexical query: candidates from Milvus by sparse inner product, then exact BM25.

Why our sparse vectors and not Milvus's BM25 function: its analyzers cannot make syllable pairs
or fold diacritics (Milvus Lite 3.2 has the ``standard`` and ``jieba`` tokenizers only), and
fed our own terms, Milvus Lite's BM25 still scores each segment with that segment's statistics
(a TODO in milvus_lite/engine/collection.py) and counts deleted rows: on the contract suite's
seven chunks its field scores were 0.1-1.7% off ours (3.2691 for 3.2582), and the error grows
with segments and deletes. So a lexical query is one sparse inner-product search for
candidates -- query weights field weight x idf (exact, from the catalog), row weights BM25's
saturated term frequency without the length norm, which would need a collection mean that
changes after the row is written -- and the candidates' stored terms are then scored exactly
with the collection's current statistics: the same BM25 as LexicalIndex, fields and weights
included. With 8 candidates per hit asked for, the top 50 of 80 MLQA questions (40 accented,
40 unaccented) missed 0 of 4,000 chunks LexicalIndex ranks there (4 per hit: 12; candidates from
the folded field alone: 96 at 8 per hit, 38 at 16).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rag.index.milvus import rows as layout
from rag.types import Chunk


def rescore(
    hits: list[dict[str, Any]],
    weights: dict[str, float],
    idf: dict[str, dict[str, float]],
    avgdl: dict[str, float],
    k: int,
) -> list[tuple[Chunk, float]]:
    """The top k of Milvus's candidates by BM25 over their stored terms, with the collection's current
    idf and average lengths (LexicalIndex's scores); ties by chunk id."""
    scored = []
    for hit in hits:
        entity, score = hit["entity"], 0.0
        for name, weight in weights.items():
            words = entity[name].split()
            counts = Counter(words)
            field_idf = idf[name]
            score += weight * sum(
                v * layout.tf_norm(counts[t], len(words), avgdl[name]) for t, v in field_idf.items() if t in counts
            )
        if score > 0:
            scored.append((score, int(hit["id"]), entity))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(layout.chunk(entity), score) for score, _, entity in scored[:k]]
