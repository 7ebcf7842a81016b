"""BM25 over the postings of several segments minus their dead rows, scored as LexicalIndex scores.

The FAISS store's lexical side at query time: the collection statistics (live rows, average
length, each query term's document frequency) are those of the live rows of all segments
together, so a base plus deltas plus tombstones ranks exactly as one fresh index would. Only the
query terms' postings are read; the per-row length normalisation is computed once per view.
"""

from __future__ import annotations

import math

import numpy as np

from rag.index.faiss.postings import Postings, freeze, length_norm, term_keys, term_weight
from rag.index.lexical import LexicalIndex, field_terms, field_weights, sentence_coverage
from rag.index.restorer import Restorer, question_prior, question_syllables
from rag.text.vietnamese import fold_diacritics, has_diacritics


class SegmentedBm25:
    """The lexical index of the live rows of [(postings, live mask or None)], read-only."""

    def __init__(self, sources: list[tuple[Postings, np.ndarray | None]], params: dict[str, float]) -> None:
        self._sources = sources
        self.k1, self.b = params["k1"], params["b"]
        self.bigram_weight, self.folded_weight = params["bigram_weight"], params["folded_weight"]
        self._n = sum(len(p) if live is None else int(live.sum()) for p, live in sources)
        self._norms: dict[str, list[np.ndarray]] = {}
        self._avg: dict[str, float] = {}
        self._dead_rows: dict[int, np.ndarray] = {}
        self._pairs: dict[str, int] = {}
        self._restorer = Restorer(self._candidates, self._pair)

    @classmethod
    def of(cls, saved: list[Postings], dead: set[int], memory: LexicalIndex) -> SegmentedBm25:
        """The view of saved segments minus the dead chunk ids, plus the rows still in memory."""
        dead_ids = np.fromiter(dead, dtype=np.int64, count=len(dead))
        sources: list[tuple[Postings, np.ndarray | None]] = [
            (p, ~np.isin(p.ids, dead_ids) if len(dead_ids) else None) for p in saved
        ]
        if len(memory):
            sources.append((freeze(memory), None))
        return cls(sources, memory.params())

    def __len__(self) -> int:
        return self._n

    def _avg_len(self, field: str) -> float:
        if field not in self._avg:
            lengths = [np.asarray(p.doc_len[field]) for p, _ in self._sources]
            live = [d if m is None else d[m] for d, (_, m) in zip(lengths, self._sources, strict=True)]
            self._avg[field] = float(np.concatenate(live).mean()) if self._n else 1.0
        return self._avg[field]

    def _norm(self, field: str) -> list[np.ndarray]:
        """Per source, BM25's length normalisation of every row (computed once per view)."""
        if field not in self._norms:
            avg = self._avg_len(field)
            self._norms[field] = [
                length_norm(np.asarray(p.doc_len[field]), avg, self.k1, self.b) for p, _ in self._sources
            ]
        return self._norms[field]

    def _saved_weights(self, field: str) -> bool:
        """Whether the one source's stored term weights are this view's: no other rows, none dead, same average."""
        if len(self._sources) != 1:
            return False
        postings, live = self._sources[0]
        return live is None and postings.avg_len.get(field) == self._avg_len(field)

    def _lookup(self, field: str, terms: list[str]) -> tuple[list[list[tuple]], np.ndarray]:
        """Per source, each term's (rows, tf, stored weights); and each term's live document frequency (float32)."""
        keys = term_keys(terms).tolist()
        found = [[p.postings(field, key) for key in keys] for p, _ in self._sources]
        df = np.zeros(len(terms), dtype=np.float32)
        for s, per_term in enumerate(found):
            df += [len(rows) - self._dead_in(s, rows) for rows, _, _ in per_term]
        return found, df

    def _dead_in(self, source: int, rows: np.ndarray) -> int:
        """How many of a term's rows (ascending) are dead: a binary search per dead row when they are few."""
        live = self._sources[source][1]
        if live is None or not len(rows):
            return 0
        if source not in self._dead_rows:
            self._dead_rows[source] = np.flatnonzero(~live).astype(np.int32)
        dead = self._dead_rows[source]
        if len(dead) * 8 > len(rows):
            return len(rows) - int(np.count_nonzero(live[rows]))
        at = np.minimum(np.searchsorted(rows, dead), len(rows) - 1)
        return int(np.count_nonzero(rows[at] == dead))

    def _idf(self, df: np.ndarray) -> np.ndarray:
        n_docs = max(self._n, 1)
        return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)

    def search(self, query: str, k: int, *, weights: dict[str, float] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, score) with a positive score, best first."""
        if not self._n or k <= 0:
            return []
        query_terms = field_terms(query)
        weights = weights or field_weights(query, bigram_weight=self.bigram_weight, folded_weight=self.folded_weight)
        weights = {name: weight for name, weight in weights.items() if weight}
        if not weights:
            return []
        rows: list[list[np.ndarray]] = [[] for _ in self._sources]
        scores: list[list[np.ndarray]] = [[] for _ in self._sources]
        for name, weight in weights.items():
            self._add_field(name, sorted(set(query_terms[name])), weight, rows, scores)
        totals = []
        for (postings, live), r, w in zip(self._sources, rows, scores, strict=True):
            total = np.bincount(np.concatenate(r), np.concatenate(w), len(postings)) if r else np.zeros(len(postings))
            if live is not None:
                total[~live] = 0
            totals.append(total)
        total = np.concatenate(totals)
        ids = np.concatenate([np.asarray(p.ids) for p, _ in self._sources])
        k = min(k, self._n)
        top = np.argpartition(-total, k - 1)[:k]
        top = top[np.lexsort((ids[top], -total[top]))]  # ties in chunk-id order
        return [(int(ids[i]), float(total[i])) for i in top if total[i] > 0]

    def _add_field(
        self, field: str, terms: list[str], weight: float, rows: list[list[np.ndarray]], scores: list[list[np.ndarray]]
    ) -> None:
        """Append, per source, each query term's postings and their weighted BM25 scores in one field."""
        found, df = self._lookup(field, terms)
        idf = self._idf(df) * np.float32(weight)
        saved = self._saved_weights(field)
        norms = None if saved else self._norm(field)
        for s, per_term in enumerate(found):
            for j, (r, tf, stored) in enumerate(per_term):
                if len(r):
                    rows[s].append(r)
                    scores[s].append(idf[j] * (stored if saved else term_weight(tf, norms[s][r], self.k1)))

    def idf(self, field: str, terms: set[str]) -> dict[str, float]:
        """BM25 idf of each term (a term the collection lacks gets the idf of a term seen in no chunk)."""
        ordered = sorted(terms)
        found, df = self._lookup(field, ordered)
        idf = self._idf(df)
        unseen = math.log1p((self._n + 0.5) / 0.5)
        known = [any(len(per_term[j][0]) for per_term in found) for j in range(len(ordered))]
        return {t: float(idf[j]) if known[j] else unseen for j, t in enumerate(ordered)}

    def coverage(self, query: str, texts: list[str], *, bigram_weight: float = 0.5) -> list[float]:
        return sentence_coverage(query, texts, self.idf, bigram_weight=bigram_weight)

    def restore_diacritics(self, query: str) -> str:
        """Put marks back on an unaccented query using the collection's own spellings."""
        return query if has_diacritics(query) else self._restorer.restore(query)

    def _live_postings(self, field: str, key: int) -> tuple[int, int]:
        """(live document frequency, smallest live chunk id) of a term over all sources."""
        df, first = 0, -1
        for postings, live in self._sources:
            rows, _, _ = postings.postings(field, key)
            if live is not None:
                rows = rows[live[rows]]
            if len(rows):
                df += len(rows)
                first = int(postings.ids[int(rows[0])]) if first < 0 else first
        return df, first

    def _candidates(self, word: str) -> list[tuple[str, int]] | None:
        """Up to 8 accented spellings of a folded syllable, most frequent first (ties: the first indexed)."""
        [folded_key] = term_keys([word]).tolist()
        spellings = {term: key for postings, _ in self._sources for term, key in postings.spellings(folded_key)}
        options = []
        for term, key in spellings.items():
            df, first = self._live_postings("exact", key)
            if df:
                options.append((df + question_prior(term), first, term))
        present = {term for _, _, term in options}
        for term in question_syllables():
            if term not in present and fold_diacritics(term) == word:
                options.append((question_prior(term), math.inf, term))
        options.sort(key=lambda x: (-x[0], x[1]))
        return [(term, count) for count, _, term in options[:8]] or None

    def _pair(self, pair: str) -> int:
        if pair not in self._pairs:
            [key] = term_keys([pair]).tolist()
            self._pairs[pair] = self._live_postings("exact_bigram", key)[0] + question_prior(pair)
        return self._pairs[pair]
