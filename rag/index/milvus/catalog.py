"""The Milvus store's catalog: document records, next chunk id and term statistics in one SQLite file.

Milvus holds the chunks, their vectors and the BM25 postings; this file, in the index folder,
holds what Milvus cannot give back cheaply: each file's record (hash, title, chunk ids) for
incremental ingest, and the document frequency of every term of the four lexical fields, which
the sentence-coverage re-scoring and the restoration of unaccented queries need. A save is one
SQLite transaction, the store's commit point: chunk rows with ids at or above the committed
``next_id`` are invisible to searches and deleted by the next writer, and ``pending_deletes``
names committed removals not yet deleted in Milvus.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from rag.errors import IndexCorruptError
from rag.index.base import DocumentRecord
from rag.index.lexical import FIELDS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, title TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER, ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terms(field INTEGER, term TEXT, df INTEGER NOT NULL, PRIMARY KEY(field, term))
    WITHOUT ROWID;
"""


class Catalog:
    """One SQLite connection shared by the threads of a process (reads and writes serialised by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise IndexCorruptError(f"catalog {self.path} is unreadable ({e}): run `rag ingest --rebuild`") from e
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def meta(self) -> dict[str, object]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {key: json.loads(value) for key, value in rows}

    def documents(self) -> dict[str, DocumentRecord]:
        with self._lock:
            rows = self._db.execute("SELECT source, sha256, title, size, mtime_ns, ids FROM documents").fetchall()
        return {s: DocumentRecord(sha, title, json.loads(ids), size, mtime) for s, sha, title, size, mtime, ids in rows}

    def commit(
        self,
        *,
        meta: dict[str, object],
        documents: dict[str, DocumentRecord],
        removed: Iterable[str],
        df_delta: dict[tuple[str, str], int],
    ) -> None:
        """Everything a save changes, in one transaction."""
        field_no = {name: i for i, name in enumerate(FIELDS)}
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
                )
                db.executemany("DELETE FROM documents WHERE source = ?", [(s,) for s in removed])
                db.executemany(
                    "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                    [(s, r.sha256, r.title, r.size, r.mtime_ns, json.dumps(r.ids)) for s, r in documents.items()],
                )
                db.executemany(
                    "INSERT INTO terms VALUES (?, ?, ?) ON CONFLICT(field, term) DO UPDATE SET df = df + excluded.df",
                    [(field_no[f], t, n) for (f, t), n in df_delta.items() if n],
                )
                db.execute("DELETE FROM terms WHERE df <= 0")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def set_meta(self, **values: object) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()]
            )

    def df(self, field: str, terms: Iterable[str]) -> dict[str, int]:
        """Document frequency of each term of a field that the catalog knows."""
        terms = list(terms)
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        with self._lock:
            rows = self._db.execute(
                f"SELECT term, df FROM terms WHERE field = ? AND term IN ({marks})",  # noqa: S608 - placeholders only
                [FIELDS.index(field), *terms],
            ).fetchall()
        return dict(rows)

    def spellings(self) -> dict[str, int]:
        """Document frequency of every accented syllable and syllable pair (for the diacritics restorer)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT term, df FROM terms WHERE field IN (?, ?)",
                [FIELDS.index("exact"), FIELDS.index("exact_bigram")],
            ).fetchall()
        return dict(rows)
