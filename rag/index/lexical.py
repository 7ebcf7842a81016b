"""BM25 over Vietnamese syllables and syllable bigrams, with a diacritics-folded twin.

Vietnamese writes one syllable per space-separated token and most words are two syllables, so
syllable unigrams + bigrams capture words without a segmenter and without any stemming
("dày" and "dài" stay different terms). Unigrams and bigrams are separate BM25 fields, summed
with a lower weight on bigrams (measured on MLQA-vi: merging them into one field lowers R@5
from 0.751 to 0.722). Each chunk is indexed as written (lower-cased NFC) and folded (tone and
vowel marks stripped, đ→d), so a query typed without diacritics ("thu tuc dang ky") matches
the folded fields. The folded field's vocabulary also tells, for
each unaccented syllable pair, which accented spelling the collection uses most, which lets
``restore_diacritics`` put the marks back on such a query for the dense retriever.

Term counts are kept per chunk id, so adding or removing documents touches only their rows;
BM25 weights are recomputed (vectorised) on the first search after a change.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.index.restorer import Restorer, restorer
from rag.text.vietnamese import fold_diacritics, has_diacritics, nfc, passage_sentences

if TYPE_CHECKING:
    import numpy as np

_TOKEN = re.compile(r"\w+")
FIELDS = ("exact", "exact_bigram", "folded", "folded_bigram")


def syllables(text: str) -> list[str]:
    """Lower-cased NFC syllables (letters/digits runs); punctuation dropped."""
    return _TOKEN.findall(nfc(text).lower())


def bigrams(tokens: list[str]) -> list[str]:
    """Adjacent pairs joined by '_' (the convention of Vietnamese word segmenters)."""
    return [f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False)]


class _Field:
    """Term counts of one field for every chunk, and the BM25 matrix built from them."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # chunk id -> (term ids, counts)
        self._matrix = None  # csc (n_rows x n_terms) of BM25 weights
        self._row_ids: np.ndarray | None = None
        self._idf: np.ndarray | None = None

    def add(self, chunk_id: int, words: list[str]) -> None:
        import numpy as np

        counts = Counter(words)
        vocab = self.vocab
        found = [vocab.get(t, -1) for t in counts]
        if -1 in found:  # new terms get the next ids, in order of first occurrence
            found = [vocab.setdefault(t, len(vocab)) if i < 0 else i for t, i in zip(counts, found, strict=True)]
        ids = np.array(found, dtype=np.int32)
        self.rows[chunk_id] = (ids, np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        self._matrix = None

    def remove(self, chunk_id: int) -> None:
        if self.rows.pop(chunk_id, None) is not None:
            self._matrix = None

    def _build(self, k1: float, b: float) -> None:
        import numpy as np
        from scipy import sparse

        row_ids = np.fromiter(self.rows.keys(), dtype=np.int64, count=len(self.rows))
        lengths = np.array([len(v[0]) for v in self.rows.values()], dtype=np.int64)
        cols = np.concatenate([v[0] for v in self.rows.values()]) if self.rows else np.zeros(0, np.int32)
        tf = np.concatenate([v[1] for v in self.rows.values()]) if self.rows else np.zeros(0, np.float32)
        rows = np.repeat(np.arange(len(row_ids)), lengths)
        n_docs = max(len(row_ids), 1)
        doc_len = np.bincount(rows, weights=tf, minlength=len(row_ids)).astype(np.float32)
        avg_len = float(doc_len.mean()) if len(doc_len) else 1.0
        df = np.bincount(cols, minlength=len(self.vocab)).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = k1 * (1 - b + b * doc_len[rows] / max(avg_len, 1e-9))
        weights = idf[cols] * tf * (k1 + 1) / (tf + norm)
        self._matrix = sparse.csc_matrix((weights, (rows, cols)), shape=(len(row_ids), len(self.vocab)))
        self._row_ids = row_ids
        self._idf = idf

    def idf(self, terms: set[str], k1: float, b: float) -> dict[str, float]:
        """BM25 idf of each term (a term the collection lacks gets the idf of a term seen in no chunk)."""
        if self._matrix is None:
            self._build(k1, b)
        unseen = math.log1p((len(self.rows) + 0.5) / 0.5)
        return {t: float(self._idf[self.vocab[t]]) if t in self.vocab else unseen for t in terms}

    def scores(self, query_terms: list[str], k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores) for every chunk; zero where no term matches."""
        import numpy as np

        if self._matrix is None:
            self._build(k1, b)
        cols = sorted({self.vocab[t] for t in query_terms if t in self.vocab})
        if not cols:
            return self._row_ids, np.zeros(len(self._row_ids), dtype=np.float32)
        return self._row_ids, np.asarray(self._matrix[:, cols].sum(axis=1)).ravel()

    def document_frequency(self) -> dict[str, int]:
        import numpy as np

        cols = np.concatenate([v[0] for v in self.rows.values()]) if self.rows else np.zeros(0, np.int32)
        df = np.bincount(cols, minlength=len(self.vocab))
        return {t: int(df[i]) for t, i in self.vocab.items()}


class LexicalIndex:
    """BM25 (k1, b) over syllable unigram and bigram fields, as written and folded.

    An accented query scores ``exact + bigram_weight * exact_bigram + folded_weight * folded``;
    a query without any diacritics scores ``folded + bigram_weight * folded_bigram``.
    """

    def __init__(
        self, *, k1: float = 1.2, b: float = 0.75, bigram_weight: float = 0.3, folded_weight: float = 0.3
    ) -> None:
        self.k1, self.b = k1, b
        self.bigram_weight, self.folded_weight = bigram_weight, folded_weight
        self._fields = {name: _Field() for name in FIELDS}
        self._restorer: Restorer | None = None

    def __len__(self) -> int:
        return len(self._fields["exact"].rows)

    def add(self, chunk_id: int, text: str) -> None:
        for name, words in _field_terms(syllables(text)).items():
            self._fields[name].add(chunk_id, words)
        self._restorer = None

    def remove(self, chunk_id: int) -> None:
        for f in self._fields.values():
            f.remove(chunk_id)
        self._restorer = None

    def row_ids(self) -> list[int]:
        return list(self._fields["exact"].rows)

    def params(self) -> dict[str, float]:
        return {"k1": self.k1, "b": self.b, "bigram_weight": self.bigram_weight, "folded_weight": self.folded_weight}

    def field_rows(self, name: str, ids: list[int]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(vocabulary in term-id order, term ids, counts, terms per row) of one field's rows of ids, in that order."""
        import numpy as np

        f = self._fields[name]
        rows = [f.rows[i] for i in ids]
        terms = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
        counts = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        return list(f.vocab), terms, counts, lengths

    def field_weights(self, query: str) -> dict[str, float]:
        return field_weights(query, bigram_weight=self.bigram_weight, folded_weight=self.folded_weight)

    def search(self, query: str, k: int, *, weights: dict[str, float] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, score) with a positive score, best first."""
        import numpy as np

        if not len(self) or k <= 0:
            return []
        query_terms = _field_terms(syllables(query))
        ids, total = None, None
        for name, weight in (weights or self.field_weights(query)).items():
            if weight:
                ids, scores = self._fields[name].scores(query_terms[name], self.k1, self.b)
                total = weight * scores if total is None else total + weight * scores
        if total is None:
            return []
        k = min(k, len(total))
        top = np.argpartition(-total, k - 1)[:k]
        top = top[np.argsort(-total[top], kind="stable")]
        return [(int(ids[i]), float(total[i])) for i in top if total[i] > 0]

    def coverage(self, query: str, texts: list[str], *, bigram_weight: float = 0.5) -> list[float]:
        """For each text, the idf-weighted share of the query's syllables (and syllable pairs) found
        together in its best single sentence, in [0, 1] (see ``sentence_coverage``)."""
        k1, b = self.k1, self.b
        return sentence_coverage(
            query, texts, lambda name, terms: self._fields[name].idf(terms, k1, b), bigram_weight=bigram_weight
        )

    def restore_diacritics(self, query: str) -> str:
        """Put marks back on an unaccented query using the collection's own spellings."""
        if has_diacritics(query):
            return query
        if self._restorer is None:
            df = self._fields["exact"].document_frequency()
            df.update(self._fields["exact_bigram"].document_frequency())
            # terms of removed chunks stay in the vocabulary with a count of 0: not spellings any more
            self._restorer = restorer({term: n for term, n in df.items() if n})
        return self._restorer.restore(query)

    # ---------------------------------------------------------------- persistence
    def save(self, path: Path, ids: Iterable[int] | None = None) -> None:
        """One .npz with the rows of ids (every row when None) and just the vocabulary they use.

        The store writes one such file per segment: a delta segment holds only the chunks added
        since the last save, so its size does not depend on the size of the index.
        """
        import numpy as np

        arrays: dict[str, np.ndarray] = {}
        for name, f in self._fields.items():
            chosen = list(f.rows) if ids is None else [i for i in ids if i in f.rows]
            rows = [f.rows[i] for i in chosen]
            terms = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
            # the file's own vocabulary: the terms its rows use, in global order (bincount: linear time)
            present = np.bincount(terms, minlength=len(f.vocab)) > 0
            used = np.flatnonzero(present)
            local_id = (np.cumsum(present) - 1).astype(np.int32)
            vocab = list(f.vocab)  # dict order is term-id order: ids are handed out as len(vocab)
            arrays[f"{name}_ids"] = np.array(chosen, dtype=np.int64)
            arrays[f"{name}_lengths"] = np.array([len(r[0]) for r in rows], dtype=np.int64)
            arrays[f"{name}_terms"] = local_id[terms]
            arrays[f"{name}_counts"] = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
            words = [vocab[t] for t in used.tolist()]
            arrays[f"{name}_vocab"] = np.frombuffer(json.dumps(words, ensure_ascii=False).encode(), dtype=np.uint8)
        arrays["params"] = np.array([self.k1, self.b, self.bigram_weight, self.folded_weight], dtype=np.float64)
        with path.open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path, *, skip: Collection[int] = ()) -> LexicalIndex:
        """The index saved in path, without the rows of the chunk ids in skip."""
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            k1, b, bigram_weight, folded_weight = data["params"].tolist()
        index = cls(k1=k1, b=b, bigram_weight=bigram_weight, folded_weight=folded_weight)
        index.add_saved(path, skip=skip)
        return index

    def add_saved(self, path: Path, *, skip: Collection[int] = ()) -> None:
        """Add the rows saved in path (a whole index or one segment), mapping its vocabulary onto this one's."""
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            for name, f in self._fields.items():
                words = json.loads(data[f"{name}_vocab"].tobytes().decode())
                if not f.vocab:  # the first file read: its term ids are kept as they are
                    f.vocab = {t: i for i, t in enumerate(words)}
                    terms = data[f"{name}_terms"]
                else:
                    vocab = f.vocab
                    mapping = np.fromiter((vocab.setdefault(t, len(vocab)) for t in words), np.int32, len(words))
                    terms = mapping[data[f"{name}_terms"]]
                counts = data[f"{name}_counts"]
                ids = data[f"{name}_ids"].tolist()
                ends = np.cumsum(data[f"{name}_lengths"]).tolist()
                starts = [0, *ends[:-1]] if ends else []
                # slicing in a comprehension is several times faster than np.split on 10^5 rows
                rows = f.rows
                for i, start, end in zip(ids, starts, ends, strict=True):
                    if i not in skip:
                        rows[i] = (terms[start:end], counts[start:end])
                f._matrix = None
        self._restorer = None


IdfFn = Callable[[str, set[str]], dict[str, float]]


def field_weights(query: str, *, bigram_weight: float = 0.3, folded_weight: float = 0.3) -> dict[str, float]:
    """The BM25 fields a query is scored on, with their weights: as written (plus folded) when it has
    diacritics, folded only when typed without."""
    if has_diacritics(query):
        return {"exact": 1.0, "exact_bigram": bigram_weight, "folded": folded_weight}
    return {"folded": 1.0, "folded_bigram": bigram_weight}


def bm25_idf(n_chunks: int, df: int) -> float:
    """The idf of BM25 as LexicalIndex (and Milvus's BM25 function) computes it."""
    return math.log1p((n_chunks - df + 0.5) / (df + 0.5))


def sentence_coverage(query: str, texts: list[str], idf: IdfFn, *, bigram_weight: float = 0.5) -> list[float]:
    """For each text, the idf-weighted share of the query's syllables (and syllable pairs) found
    together in its best single sentence, in [0, 1]; idf(field, terms) gives the collection's idf.

    Questions are usually answered by one sentence, so a passage holding all the rare query
    words in one sentence beats one that scatters them; on MLQA-vi this lifts recall@5 of the
    fused ranking (see RetrievalSettings.coverage_weight). Unaccented queries are compared folded.
    """
    folded = not has_diacritics(query)
    words = syllables(query)
    if folded:
        words = [fold_diacritics(w) for w in words]
    unigram_field, bigram_field = ("folded", "folded_bigram") if folded else ("exact", "exact_bigram")
    query_unigrams, query_bigrams = set(words), set(bigrams(words))
    weights = idf(unigram_field, query_unigrams)
    weights.update(idf(bigram_field, query_bigrams))
    total = sum(weights[t] for t in query_unigrams) + bigram_weight * sum(weights[t] for t in query_bigrams)
    if not total:
        return [0.0] * len(texts)
    out = []
    for text in texts:
        best = 0.0
        for start, end in passage_sentences(text):
            tokens = syllables(text[start:end])
            if folded:
                tokens = [fold_diacritics(t) for t in tokens]
            found = sum(weights[t] for t in query_unigrams.intersection(tokens))
            found += bigram_weight * sum(weights[t] for t in query_bigrams.intersection(bigrams(tokens)))
            best = max(best, found)
        out.append(best / total)
    return out


def field_terms(text: str) -> dict[str, list[str]]:
    """The terms of each BM25 field (FIELDS) of a text, as LexicalIndex indexes them."""
    return _field_terms(syllables(text))


@functools.lru_cache(maxsize=1 << 20)
def fold_syllable(syllable: str) -> str:
    """fold_diacritics of one syllable, cached: a collection repeats a few tens of thousands of syllables."""
    return fold_diacritics(syllable)


def _field_terms(tokens: list[str]) -> dict[str, list[str]]:
    folded = [fold_syllable(t) for t in tokens]
    return {"exact": tokens, "exact_bigram": bigrams(tokens), "folded": folded, "folded_bigram": bigrams(folded)}
