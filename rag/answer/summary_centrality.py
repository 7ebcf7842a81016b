"""How central each unit is to its document, by the product's embedding model (centroid, LexRank, title).

The fact keys (summary_units) see what a sentence states, not what the document is about: on a
long article, the sentences densest in figures and names outrank the one about the subject as a
whole ("Tính đến 2015 dân số của tỉnh đạt 1.266.228 người."). Classic extractive summarisers rank
by centrality instead; here it scales a unit's gain (summary_picks.Picks.gain). Three measures, each
over one document's units embedded as passages ("passage: " for e5, as the index embeds them):

* centroid: the cosine of a unit with the mean of its document's units;
* degree: how many of its document's other units it has a cosine of at least threshold with
  (LexRank's degree centrality);
* title: the cosine with the document's title embedded as a query ("query: Bình Thuận").

Each is scaled to 0..1 within its document (least central 0, most central 1), so a document whose
sentences all read alike still spreads them. Nothing is cached: a long document's ~300 units are
embedded once per summary.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from rag.answer.summary_units import Unit
from rag.errors import RagError

if TYPE_CHECKING:
    import numpy as np

    from rag.index.embedding import Embedder

KINDS = ("centroid", "degree", "title")


def centrality(
    units: Sequence[Unit],
    embedder: Embedder,
    *,
    kind: str = "centroid",
    threshold: float = 0.85,
    sources: Collection[str],
) -> dict[int, float]:
    """Each unit's centrality in its document, 0..1, by position; only the units of the documents in sources."""
    if kind not in KINDS:
        raise RagError(f"summary centrality {kind!r} is not one of {', '.join(KINDS)}: set centrality to one of them")
    by_source: dict[str, list[Unit]] = {}
    for unit in units:
        if unit.source in sources:
            by_source.setdefault(unit.source, []).append(unit)
    out: dict[int, float] = {}
    for group in by_source.values():
        vectors = embedder.embed_passages([u.text for u in group])
        centre = embedder.embed_query(group[0].title) if kind == "title" else None
        scores = _scores(vectors, kind=kind, threshold=threshold, centre=centre)
        out |= {u.position: float(s) for u, s in zip(group, scores, strict=True)}
    return out


def _scores(vectors: np.ndarray, *, kind: str, threshold: float, centre: np.ndarray | None) -> np.ndarray:
    """Raw centrality of each row of vectors (unit length), scaled to 0..1 (all 0 when they are all alike)."""
    import numpy as np

    if kind == "degree":
        similar = vectors @ vectors.T >= threshold
        raw = similar.sum(axis=1).astype(np.float64) - 1  # not itself
    else:
        if centre is None:
            centre = vectors.mean(axis=0)
        norm = float(np.linalg.norm(centre))
        raw = (vectors @ (centre / norm)).astype(np.float64) if norm else np.zeros(len(vectors))
    if len(raw) == 0 or float(raw.max() - raw.min()) < 1e-9:
        return np.zeros(len(raw))
    return (raw - raw.min()) / (raw.max() - raw.min())
