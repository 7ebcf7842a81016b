"""A segment's BM25 rows on disk: per field, each term's postings (rows, term counts), as mapped arrays.

Terms are kept as 64-bit keys (the first 8 bytes of their BLAKE2b digest), sorted, so a query term
is found by binary search in a mapped array and no vocabulary is ever loaded into Python: a
million chunks have tens of millions of distinct syllable pairs. (Two terms sharing a key would
merge; with 10^7 terms the chance is about 3 in a million.) The exact (accented) field also keeps
each term's spelling and an index from its folded form to its spellings, for the diacritics
restorer. Large segments split each field's terms into 16 partitions by the key's top bits, so
writing a merged base sorts one partition at a time.

Arrays of a segment file: ``ids`` (chunk id of each row, ascending); for each field F of
rag.index.lexical.FIELDS ``F.len`` (the row's number of terms, BM25's document length) and, per
partition p, ``F.p.keys`` (uint64, ascending), ``F.p.indptr`` (int64), ``F.p.rows`` (int32, ascending
within a term), ``F.p.tf`` (uint16); ``vocab.p.offsets`` / ``vocab.p.data`` (the exact field's
spellings, UTF-8, in key order); ``fold.keys`` / ``fold.indptr`` / ``fold.members`` (folded key ->
numbers of the exact terms with that folded form; a term's number counts through the partitions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError
from rag.index.faiss.arrays import ArrayWriter, open_arrays
from rag.index.lexical import FIELDS, LexicalIndex, fold_syllable

LARGE_FIELD = 8_000_000  # postings in a field above which a written segment is partitioned
PARTITIONS = 16
_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.uint16))


def length_norm(doc_len: np.ndarray, avg_len: float, k1: float, b: float) -> np.ndarray:
    """BM25's per-row length normalisation, k1 * (1 - b + b * len / average len), in float32."""
    return k1 * (1 - b + b * doc_len / max(avg_len, 1e-9))


def term_weight(tf: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """BM25's term-frequency part of a posting's score (times idf gives the score)."""
    tf = tf.astype(np.float32)
    return tf * (k1 + 1) / (tf + norm)


def term_keys(terms: Sequence[str]) -> np.ndarray:
    digest = hashlib.blake2b
    joined = b"".join(digest(t.encode(), digest_size=8).digest() for t in terms)
    return np.frombuffer(joined, dtype="<u8").astype(np.uint64)


def _bounds(p: int, partitions: int) -> tuple[int, int]:
    shift = 64 - (partitions.bit_length() - 1)
    return (p << shift, (p + 1) << shift) if partitions > 1 else (0, 1 << 64)


class Postings:
    """The BM25 rows of one segment (a mapped file, or arrays frozen from rows in memory)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], *, name: str = "memory") -> None:
        try:
            self.ids = arrays["ids"]
            self.params: dict[str, float] = meta["params"]
            self.partitions = int(meta["partitions"])
            self.doc_len = {f: arrays[f"{f}.len"] for f in FIELDS}
            self.avg_len: dict[str, float] = meta.get("avg_len", {})  # what the impacts were computed with
            self._impacts = {
                f: [arrays[f"{f}.{p}.impact"] for p in range(self.partitions)] if self.avg_len else None for f in FIELDS
            }
            self._parts = {
                f: [
                    tuple(arrays[f"{f}.{p}.{a}"] for a in ("keys", "indptr", "rows", "tf"))
                    for p in range(self.partitions)
                ]
                for f in FIELDS
            }
            self._vocab = [(arrays[f"vocab.{p}.offsets"], arrays[f"vocab.{p}.data"]) for p in range(self.partitions)]
            self._fold = (arrays["fold.keys"], arrays["fold.indptr"], arrays["fold.members"])
        except KeyError as e:
            raise IndexCorruptError(f"lexical file {name} lacks {e}: run `rag ingest --rebuild`") from e
        sizes = [len(parts[0]) for parts in self._parts["exact"]]
        self._number_base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._shift = 64 - (self.partitions.bit_length() - 1)

    @classmethod
    def open(cls, path: Path) -> Postings:
        arrays, meta = open_arrays(path)
        return cls(arrays, meta, name=str(path))

    def __len__(self) -> int:
        return len(self.ids)

    def _partition(self, key: int) -> int:
        return key >> self._shift if self.partitions > 1 else 0

    def find(self, field: str, key: int) -> tuple[int, int]:
        """(partition, index of the term) or (-1, -1) when the segment lacks the term."""
        p = self._partition(key)
        keys = self._parts[field][p][0]
        i = int(np.searchsorted(keys, np.uint64(key)))
        return (p, i) if i < len(keys) and int(keys[i]) == key else (-1, -1)

    def postings(self, field: str, key: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(rows, term counts, term weights at avg_len or None) of the term with this key; empty when absent."""
        p, i = self.find(field, key)
        if p < 0:
            return (*_EMPTY, None)
        _, indptr, rows, tf = self._parts[field][p]
        start, end = int(indptr[i]), int(indptr[i + 1])
        impacts = self._impacts[field]
        return rows[start:end], tf[start:end], impacts[p][start:end] if impacts else None

    def spellings(self, folded_key: int) -> list[tuple[str, int]]:
        """(spelling, key) of the exact terms whose folded form has this key."""
        keys, indptr, members = self._fold
        i = int(np.searchsorted(keys, np.uint64(folded_key)))
        if i >= len(keys) or int(keys[i]) != folded_key:
            return []
        out = []
        for number in members[int(indptr[i]) : int(indptr[i + 1])].tolist():
            p = int(np.searchsorted(self._number_base, number, side="right")) - 1
            local = number - int(self._number_base[p])
            offsets, data = self._vocab[p]
            term = bytes(data[int(offsets[local]) : int(offsets[local + 1])]).decode()
            out.append((term, int(self._parts["exact"][p][0][local])))
        return out

    def key_range(self, field: str, lo: int, hi: int, *, postings: bool = True) -> tuple[np.ndarray, ...]:
        """(keys, postings per key, rows, tf, term numbers) of the terms with lo <= key < hi
        (rows and tf left empty when postings is False)."""
        pieces = []
        for p, (keys, indptr, rows, tf) in enumerate(self._parts[field]):
            p_lo, p_hi = _bounds(p, self.partitions)
            if p_hi <= lo or p_lo >= hi:
                continue
            a = 0 if lo <= p_lo else int(np.searchsorted(keys, np.uint64(lo)))
            b = len(keys) if hi >= p_hi else int(np.searchsorted(keys, np.uint64(hi)))
            span = np.asarray(indptr[a : b + 1])
            first, last = int(span[0]), int(span[-1])
            numbers = np.arange(a, b, dtype=np.int64) + int(self._number_base[p]) if field == "exact" else _EMPTY[0]
            piece = (
                np.asarray(keys[a:b]),
                np.diff(span),
                *((rows[first:last], tf[first:last]) if postings else _EMPTY),
            )
            pieces.append((*piece, numbers))
        if not pieces:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64), *_EMPTY, np.zeros(0, np.int64)
        if len(pieces) == 1:
            return pieces[0]
        return tuple(np.concatenate([piece[j] for piece in pieces]) for j in range(5))

    def spelling(self, number: int) -> str:
        p = int(np.searchsorted(self._number_base, number, side="right")) - 1
        local = number - int(self._number_base[p])
        offsets, data = self._vocab[p]
        return bytes(data[int(offsets[local]) : int(offsets[local + 1])]).decode()


def freeze(lexical: LexicalIndex) -> Postings:
    """The rows of an in-memory LexicalIndex (ascending chunk id) as Postings, in memory."""
    ids = np.array(sorted(lexical.row_ids()), dtype=np.int64)
    arrays: dict[str, np.ndarray] = {"ids": ids}
    spellings: list[str] = []
    for name in FIELDS:
        vocab, terms, counts, lengths = lexical.field_rows(name, ids.tolist())
        rows = np.repeat(np.arange(len(ids), dtype=np.int32), lengths)
        arrays[f"{name}.len"] = np.bincount(rows, weights=counts, minlength=len(ids)).astype(np.float32)
        used = np.flatnonzero(np.bincount(terms, minlength=len(vocab)))
        words = [vocab[t] for t in used.tolist()]
        keys = term_keys(words)
        order = np.argsort(keys, kind="stable")
        rank = np.zeros(len(vocab), dtype=np.int64)
        rank[used[order]] = np.arange(len(used))
        position = rank[terms]
        perm = np.argsort(position, kind="stable")  # by term, then by row (rows ascend in the input)
        arrays[f"{name}.0.keys"] = keys[order]
        arrays[f"{name}.0.indptr"] = np.concatenate([[0], np.cumsum(np.bincount(position, minlength=len(used)))])
        arrays[f"{name}.0.rows"] = rows[perm]
        arrays[f"{name}.0.tf"] = np.minimum(counts[perm], 65535).astype(np.uint16)
        if name == "exact":
            spellings = [words[j] for j in order.tolist()]
    _add_vocab(arrays, [spellings])
    return Postings(arrays, {"params": lexical.params(), "partitions": 1})


def _add_vocab(arrays: dict[str, np.ndarray], spellings_by_partition: list[list[str]]) -> None:
    """The exact field's spellings per partition and the folded-form index over all of them."""
    folded: list[str] = []
    for p, spellings in enumerate(spellings_by_partition):
        encoded = [s.encode() for s in spellings]
        arrays[f"vocab.{p}.offsets"] = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64)
        arrays[f"vocab.{p}.data"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        folded.extend(fold_syllable(s) for s in spellings)
    keys = term_keys(folded)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])) if len(keys) else []
    arrays["fold.keys"] = sorted_keys[starts] if len(keys) else np.zeros(0, np.uint64)
    arrays["fold.indptr"] = np.concatenate([starts, [len(keys)]]).astype(np.int64)
    arrays["fold.members"] = order.astype(np.int64)


def write(path: Path, sources: list[tuple[Postings, np.ndarray]], params: dict[str, float]) -> None:
    """The live rows of each (postings, live mask), merged into one segment file (rows renumbered)."""
    remaps, start = [], 0
    for postings, live in sources:
        remap = np.full(len(postings), -1, dtype=np.int32)
        remap[live] = np.arange(start, start + int(live.sum()), dtype=np.int32)
        start += int(live.sum())
        remaps.append(remap)
    total = max(
        (sum(len(p._parts[f][q][2]) for p, _ in sources for q in range(p.partitions)) for f in FIELDS), default=0
    )
    partitions = PARTITIONS if total > LARGE_FIELD else 1
    writer = ArrayWriter(path)
    writer.add_parts("ids", np.int64, [np.asarray(p.ids)[live] for p, live in sources])
    spellings: list[list[str]] = []
    avg_len = {}
    for name in FIELDS:
        doc_len = np.concatenate([np.zeros(0, np.float32)] + [np.asarray(p.doc_len[name])[live] for p, live in sources])
        writer.add(f"{name}.len", doc_len)
        avg_len[name] = float(doc_len.mean()) if len(doc_len) else 1.0
        norm = length_norm(doc_len, avg_len[name], params["k1"], params["b"])
        for part in range(partitions):
            lo, hi = _bounds(part, partitions)
            ranges = [p.key_range(name, lo, hi) for p, _ in sources]
            words = _write_partition(writer, f"{name}.{part}", ranges, remaps, norm, params["k1"])
            if name == "exact":
                spellings.append(_spellings(words, sources, lo, hi))
    arrays: dict[str, np.ndarray] = {}
    _add_vocab(arrays, spellings)
    for key, array in arrays.items():
        writer.add(key, array)
    writer.close({"params": params, "partitions": partitions, "avg_len": avg_len})


def _write_partition(
    writer: ArrayWriter,
    prefix: str,
    ranges: list[tuple[np.ndarray, ...]],
    remaps: list[np.ndarray],
    norm: np.ndarray,
    k1: float,
) -> np.ndarray:
    """Merge one key range of every source (dead rows dropped) and write it, with each posting's
    term weight at the new segment's average length (norm: per new row); returns its keys."""
    keys, rows, tf = [], [], []
    for (k, counts, r, t, _), remap in zip(ranges, remaps, strict=True):
        new_rows = remap[np.asarray(r)]
        keep = new_rows >= 0
        keys.append(np.repeat(k, counts)[keep])
        rows.append(new_rows[keep])
        tf.append(np.asarray(t)[keep])
    key = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    order = np.argsort(key, kind="stable")  # sources are runs sorted by key: a merge; rows stay ascending
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, np.int64)
    unique = key[starts]
    writer.add(f"{prefix}.keys", unique)
    writer.add(f"{prefix}.indptr", np.concatenate([starts, [len(key)]]).astype(np.int64))
    rows_sorted = np.concatenate(rows)[order].astype(np.int32) if rows else np.zeros(0, np.int32)
    tf_sorted = np.concatenate(tf)[order].astype(np.uint16) if tf else np.zeros(0, np.uint16)
    writer.add(f"{prefix}.rows", rows_sorted)
    writer.add(f"{prefix}.tf", tf_sorted)
    writer.add(f"{prefix}.impact", term_weight(tf_sorted, norm[rows_sorted], k1))
    return unique


def _spellings(keys: np.ndarray, sources: list[tuple[Postings, np.ndarray]], lo: int, hi: int) -> list[str]:
    """The spelling of each exact-field key, from the first source that has it."""
    out: list[str | None] = [None] * len(keys)
    missing = np.ones(len(keys), dtype=bool)
    for postings, _ in sources:
        if not missing.any():
            break
        src_keys, _, _, _, numbers = postings.key_range("exact", lo, hi, postings=False)
        if not len(src_keys):
            continue
        at = np.minimum(np.searchsorted(src_keys, keys), len(src_keys) - 1)
        found = missing & (src_keys[at] == keys)
        for j in np.flatnonzero(found).tolist():
            out[j] = postings.spelling(int(numbers[at[j]]))
        missing &= ~found
    return [s or "" for s in out]
