"""The FAISS index type, chosen by collection size.

Below ``ann_threshold`` vectors the index is exact (``IndexIDMap2(IndexFlatIP)``): a query
scans every vector, which is ~1 ms per 10,000 chunks on 2 cores and never misses. From the
threshold on, the store switches to ``IndexIVFScalarQuantizer`` (inverted lists, 8-bit
scalar-quantised vectors, inner product): 4x less memory and a query scans only ``nprobe``
of ``nlist`` lists. ``benchmarks/bench_scale.py`` measures its latency, memory and recall
against exact search on a 1,000,000-vector synthetic collection.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_ANN_THRESHOLD = 200_000
DEFAULT_NPROBE = 128


def new_exact(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def is_approximate(index: Any) -> bool:
    import faiss

    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def describe(index: Any) -> str:
    import faiss

    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexIVF):
        return f"IndexIVFScalarQuantizer(nlist={inner.nlist}, SQ8, nprobe={inner.nprobe})"
    return "IndexIDMap2(IndexFlatIP)"


def set_nprobe(index: Any, nprobe: int) -> None:
    import faiss

    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexIVF):
        inner.nprobe = min(nprobe, inner.nlist)


def exact_contents(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, ids) held by an exact IndexIDMap2(IndexFlatIP)."""
    import faiss
    import numpy as np

    idmap = faiss.downcast_index(index)
    ids = faiss.vector_to_array(idmap.id_map).astype(np.int64)
    vectors = idmap.index.reconstruct_n(0, idmap.ntotal) if idmap.ntotal else np.zeros((0, idmap.d), np.float32)
    return np.ascontiguousarray(vectors, dtype=np.float32), ids


def default_nlist(n: int) -> int:
    """About 4*sqrt(n) lists, a power of two: 4,096 for a million vectors."""
    return max(64, 2 ** round(math.log2(4 * math.sqrt(max(n, 1)))))


def build_ivf(vectors: np.ndarray, ids: np.ndarray, *, nlist: int | None = None, nprobe: int = DEFAULT_NPROBE) -> Any:
    """Train an IVF-SQ8 inner-product index on (a sample of) vectors and add them all with their ids."""
    import faiss
    import numpy as np

    n, dim = vectors.shape
    nlist = nlist or default_nlist(n)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample_size = min(n, 64 * nlist)
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(n, size=sample_size, replace=False)] if sample_size < n else vectors
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    index.nprobe = min(nprobe, nlist)
    return index
