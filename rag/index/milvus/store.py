"""The index in Milvus (a Milvus Lite file or a server): chunks, vectors and BM25 postings in one collection.

One row per chunk: its integer id (primary key), the unit vector (``dense``), the chunk's fields
(text, offsets, location, pages), the terms of our four lexical fields (syllables, syllable
pairs, folded syllables, folded pairs; rag/index/lexical.py) as space-separated words, and one
sparse vector ``lexical`` of their BM25 term weights, keyed by crc32 of (field, term).

Why our sparse vectors and not Milvus's BM25 function, and how a lexical query is scored
exactly: rag/index/milvus/scoring.py.

The index folder keeps ``manifest.json`` (store, URI, collection, embedder, chunking) and the
catalog (rag/index/milvus/catalog.py: document records, next id, term statistics), whose
transaction is the commit point of a save. Chunks are written to Milvus as they are added,
with fresh ids at or above the committed ``next_id``, so searches of other processes (which
filter ``id < next_id``) never see them before the commit; the next writer deletes such rows
left by a crashed run before it writes any. Removals are filtered out of this store's searches at
once and deleted in Milvus after the commit. ``--rebuild`` fills a new collection and catalog
(the next generation) and switches the manifest to them only when they are complete.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError, IndexMismatchError, StoreUnavailableError
from rag.index import files
from rag.index.base import MANIFEST, DocumentRecord, check_vectors
from rag.index.faiss.vector_index import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE, default_nlist
from rag.index.files import require_index
from rag.index.lexical import FIELDS, bm25_idf, field_terms, field_weights, sentence_coverage
from rag.index.milvus import collection, connection, scoring
from rag.index.milvus import rows as layout
from rag.index.milvus.catalog import Catalog
from rag.index.restorer import restorer
from rag.text.chunking import passage_text
from rag.text.vietnamese import has_diacritics
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MAX_TOP_K = 16_384  # Milvus's limit for one search
INSERT_BATCH = 512
CANDIDATE_FIELDS = FIELDS  # the fields of the sparse vector Milvus searches for candidates
CANDIDATES_PER_HIT = 8  # candidates Milvus returns for each hit asked for, scored exactly here


class MilvusStore:
    """Chunks of one index in a Milvus collection; implements rag.index.base.Store."""

    def __init__(
        self,
        path: Path,
        *,
        model_id: str,
        dim: int,
        chunking: dict[str, int],
        uri: str = "",
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        nprobe: int = DEFAULT_NPROBE,
    ) -> None:
        connection.check_uri(uri)
        self.path = Path(path)
        self.model_id, self.dim, self.chunking = model_id, dim, dict(chunking)
        self.uri = uri or connection.DEFAULT_LITE_FILE
        self.ann_threshold, self.nprobe = ann_threshold, nprobe
        self.documents: dict[str, DocumentRecord] = {}
        self._created = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._generation = 0  # of the collection and catalog in use; 0 until the first save of a new store
        self._collection = ""
        self._next_id = self._committed_next_id = 0
        self._n_chunks = 0
        self._dense_index = "FLAT"
        self._pending: set[int] = set()  # committed removals not yet deleted in Milvus
        self._tombstones: set[int] = set()  # committed chunk ids removed since the last save
        self._unsaved: set[int] = set()  # ids inserted into Milvus since the last save
        self._df_delta: Counter[tuple[str, str]] = Counter()
        self._tokens: Counter[str] = Counter()  # live number of terms per field (BM25's document lengths)
        self._touched: set[str] = set()
        self._saved_records: dict[str, tuple[Any, ...]] = {}
        self._client: Any = None
        self._catalog: Catalog | None = None
        self._restorer = None
        self._prepared = False  # whether this session has cleared rows a crashed writer left
        self.candidate_fields = tuple(CANDIDATE_FIELDS)  # recorded in the manifest when the collection is made

    # ---------------------------------------------------------------- opening
    @classmethod
    def load(
        cls, path: Path, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, nprobe: int = DEFAULT_NPROBE
    ) -> MilvusStore:
        path = Path(path)
        require_index(path)
        manifest = files.read_json(path / MANIFEST)
        if manifest.get("store") != "milvus" or manifest.get("format_version") != collection.FORMAT_VERSION:
            raise IndexMismatchError(
                f"index {path} is not a format-{collection.FORMAT_VERSION} Milvus index: "
                "run `rag ingest --rebuild --store milvus`"
            )
        milvus = manifest["milvus"]
        store = cls(
            path,
            model_id=manifest["embedder"]["model_id"],
            dim=int(manifest["embedder"]["dim"]),
            chunking=manifest.get("chunking", {}),
            uri=milvus["uri"],
            ann_threshold=ann_threshold,
            nprobe=nprobe,
        )
        store._created = manifest.get("created", store._created)
        store._generation, store._collection = int(milvus["generation"]), milvus["collection"]
        store._dense_index = milvus.get("dense_index", "FLAT")
        store.candidate_fields = tuple(milvus.get("candidate_fields", FIELDS))
        catalog_path = path / milvus["catalog"]
        if not catalog_path.is_file():
            raise IndexCorruptError(f"catalog {catalog_path} is missing: run `rag ingest --rebuild`")
        store._catalog = Catalog(catalog_path)
        meta = store._catalog.meta()
        store._next_id = store._committed_next_id = int(meta.get("next_id", 0))
        store._n_chunks = int(meta.get("n_chunks", 0))
        store._pending = set(meta.get("pending_deletes", []))
        store._tokens = Counter(meta.get("field_tokens", {}))
        store.documents = store._catalog.documents()
        store._saved_records = {s: r.fields() for s, r in store.documents.items()}
        client = store._milvus()
        if not client.has_collection(store._collection):
            raise IndexCorruptError(
                f"Milvus at {store._resolved_uri()} has no collection {store._collection} for index {path}: "
                "run `rag ingest --rebuild`"
            )
        store._call("load the collection", client.load_collection, store._collection)
        return store

    def check_compatible(self, model_id: str, dim: int | None = None) -> None:
        dim = self.dim if dim is None else dim
        if model_id != self.model_id or dim != self.dim:
            raise IndexMismatchError(
                f"index {self.path} was built with {self.model_id} (dim {self.dim}), settings ask for "
                f"{model_id} (dim {dim}): run `rag ingest --rebuild --index {self.path}` "
                "or choose the embedder the index was built with"
            )

    def _resolved_uri(self) -> str:
        return connection.resolve(self.uri, self.path)

    def _milvus(self) -> Any:
        if self._client is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._client = connection.connect(self._resolved_uri())
        return self._client

    def close(self) -> None:
        """Let go of Milvus (and of the Lite file, for other processes); the store can reconnect later."""
        if self._client is not None:
            connection.disconnect(self._client, self._resolved_uri())
            self._client = None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A Milvus call whose failure names the URI and collection (the connection can drop at any time)."""
        from pymilvus.exceptions import MilvusException

        try:
            return fn(*args, **kwargs)
        except MilvusException as e:
            raise StoreUnavailableError(
                f"Milvus at {self._resolved_uri()} failed to {what} in collection {self._collection} "
                f"({connection._reason(e)}): check the server, or rebuild with `rag ingest --rebuild`"
            ) from e

    # ---------------------------------------------------------------- content
    def __len__(self) -> int:
        return self._n_chunks

    def _live_filter(self) -> str:
        dead = self._pending | self._tombstones
        expr = f"id < {self._next_id}"
        return f"{expr} and id not in [{','.join(map(str, sorted(dead)))}]" if dead else expr

    def chunks(self) -> list[Chunk]:
        """All chunks in insertion order."""
        ids = sorted(i for record in self.documents.values() for i in record.ids)
        return self._get(ids)

    def chunks_of(self, source: str) -> list[Chunk]:
        record = self.documents.get(source)
        return self._get(record.ids) if record else []

    def _get(self, ids: list[int]) -> list[Chunk]:
        if not ids or not self._collection:
            return []
        rows: dict[int, Chunk] = {}
        for start in range(0, len(ids), 4096):
            batch = ids[start : start + 4096]
            found = self._call(
                "read chunks", self._milvus().get, self._collection, ids=batch, output_fields=list(layout.CHUNK_FIELDS)
            )
            rows.update((int(row["id"]), layout.chunk(row)) for row in found)
        missing = [i for i in ids if i not in rows]
        if missing:  # removed by a writer that committed after this store was opened
            log.info("index %s: %d chunks were removed since it was opened", self.path, len(missing))
        return [rows[i] for i in ids if i in rows]

    def vectors_of(self, source: str) -> np.ndarray:
        """The stored vectors of a document's chunks, in the order of chunks_of."""
        import numpy as np

        record = self.documents.get(source)
        if record is None or not record.ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        found = self._call(
            "read vectors", self._milvus().get, self._collection, ids=record.ids, output_fields=["dense"]
        )
        by_id = {int(row["id"]): row["dense"] for row in found}
        return np.asarray([by_id[i] for i in record.ids], dtype=np.float32)

    def add(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: np.ndarray,
        *,
        size: int | None = None,
        mtime_ns: int | None = None,
    ) -> None:
        """Add (or replace) a document; its rows go to Milvus now, invisible to others until save()."""
        import numpy as np

        check_vectors(chunks, vectors, self.dim)
        self.remove(doc.source)
        self._ensure_collection()
        ids = list(range(self._next_id, self._next_id + len(chunks)))
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = []
        for i, chunk, vector in zip(ids, chunks, vectors, strict=True):
            terms = field_terms(passage_text(chunk))
            for name, words in terms.items():
                self._df_delta.update((name, t) for t in set(words))
                self._tokens[name] += len(words)
            self._n_chunks += 1
            rows.append(layout.row(i, chunk, vector, terms, self.candidate_fields))
        for start in range(0, len(rows), INSERT_BATCH):
            self._call("insert chunks", self._milvus().insert, self._collection, rows[start : start + INSERT_BATCH])
        self._next_id += len(chunks)
        self._unsaved.update(ids)
        self.documents[doc.source] = DocumentRecord(doc.sha256, doc.title, ids, size, mtime_ns)
        self._touched.add(doc.source)
        self._restorer = None

    def remove(self, source: str) -> bool:
        """Drop a document's chunks from this store's searches now, and from Milvus at save()."""
        record = self.documents.pop(source, None)
        if record is None:
            return False
        self._touched.add(source)
        if record.ids:
            self._ensure_collection()
            fields = list(FIELDS)
            found = self._call(
                "read chunks", self._milvus().get, self._collection, ids=record.ids, output_fields=fields
            )
            self._n_chunks -= len(found)
            for row in found:
                for name in FIELDS:
                    words = row[name].split()
                    self._df_delta.subtract((name, t) for t in set(words))
                    self._tokens[name] -= len(words)
        fresh = [i for i in record.ids if i in self._unsaved]
        if fresh:  # never committed: nobody else can see them, delete now
            self._call("delete chunks", self._milvus().delete, self._collection, ids=fresh)
            self._unsaved.difference_update(fresh)
        self._tombstones.update(i for i in record.ids if i < self._committed_next_id)
        self._restorer = None
        return True

    # ---------------------------------------------------------------- search
    def search(self, query: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by inner product with a unit query vector, best first."""
        import numpy as np

        if not self._n_chunks or k <= 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise IndexMismatchError(
                f"index {self.path} holds vectors of dim {self.dim} ({self.model_id}), the query has dim "
                f"{q.shape[0]}: run `rag ingest --rebuild --index {self.path}` or use the index's embedder"
            )
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._dense_index != "FLAT":
            params["params"] = {"nprobe": self.nprobe}
        found = self._call(
            "search",
            self._milvus().search,
            self._collection,
            data=[q.tolist()],
            anns_field="dense",
            limit=min(k, self._n_chunks, MAX_TOP_K),
            filter=self._live_filter(),
            output_fields=list(layout.CHUNK_FIELDS),
            search_params=params,
        )
        return [(layout.chunk(hit["entity"]), float(hit["distance"])) for hit in found[0]]

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by our BM25 fields with LexicalIndex's weights: Milvus finds candidates by sparse
        inner product, which are then scored exactly with the collection's current statistics."""
        if not self._n_chunks or k <= 0:
            return []
        terms = field_terms(query)
        weights = {name: w for name, w in field_weights(query).items() if w and terms[name]}
        # the candidates' vector: the query's own fields among those the rows carry
        fields = {*weights, *(name for name in self.candidate_fields if not weights.keys() & self.candidate_fields)}
        idf = {name: self._idf(name, set(terms[name])) for name in fields if terms[name]}
        used = [name for name in self.candidate_fields if name in idf]
        sparse = {layout.key_of(name, t): weights.get(name, 1.0) * v for name in used for t, v in idf[name].items()}
        if not sparse or not weights:
            return []
        found = self._call(
            "search",
            self._milvus().search,
            self._collection,
            data=[sparse],
            anns_field="lexical",
            limit=min(MAX_TOP_K, max(CANDIDATES_PER_HIT * k, 200), self._n_chunks),
            filter=self._live_filter(),
            output_fields=[*layout.CHUNK_FIELDS, *weights],
            search_params={"metric_type": "IP"},
        )
        return scoring.rescore(found[0], weights, idf, self._avgdl(), k)

    def _avgdl(self) -> dict[str, float]:
        n = max(self._n_chunks, 1)
        return {name: self._tokens[name] / n for name in FIELDS}

    def coverage(self, query: str, texts: list[str]) -> list[float]:
        return sentence_coverage(query, texts, self._idf)

    def _idf(self, name: str, terms: set[str]) -> dict[str, float]:
        saved = self._catalog.df(name, terms) if self._catalog else {}
        return {t: bm25_idf(self._n_chunks, saved.get(t, 0) + self._df_delta[(name, t)]) for t in terms}

    def restore_diacritics(self, query: str) -> str:
        if has_diacritics(query):
            return query
        if self._restorer is None:
            df = Counter(self._catalog.spellings() if self._catalog else {})
            df.update({t: n for (name, t), n in self._df_delta.items() if name in ("exact", "exact_bigram")})
            self._restorer = restorer({t: n for t, n in df.items() if n > 0})
        return self._restorer.restore(query)

    # ---------------------------------------------------------------- saving
    def save(self) -> None:
        """Commit: one catalog transaction (records, next id, term counts), then Milvus deletes what it removed."""
        changed = self._touched | {s for s, r in self.documents.items() if self._saved_records.get(s) != r.fields()}
        first = self._catalog is None
        if not first and not (changed or self._unsaved or self._tombstones or self._pending):
            return
        self._ensure_collection()
        self._maybe_switch_to_ann()
        catalog = self._catalog or Catalog(self.path / collection.catalog_name(self._generation))
        pending = sorted(self._pending | self._tombstones)
        catalog.commit(
            meta={
                "next_id": self._next_id,
                "n_chunks": self._n_chunks,
                "field_tokens": dict(self._tokens),
                "pending_deletes": pending,
            },
            documents={s: self.documents[s] for s in changed if s in self.documents},
            removed=[s for s in changed if s not in self.documents],
            df_delta=dict(self._df_delta),
        )
        self._catalog = catalog
        self._committed_next_id = self._next_id
        self._saved_records = {s: r.fields() for s, r in self.documents.items()}
        self._unsaved.clear()
        self._df_delta.clear()
        self._touched.clear()
        previous = self._write_manifest()
        if pending:
            self._call("delete chunks", self._milvus().delete, self._collection, ids=pending)
            catalog.set_meta(pending_deletes=[])
        # sealed segments: durable, and searched through cached indexes (Milvus Lite rebuilds the
        # sparse index of unflushed rows on every search)
        self._call("flush", self._milvus().flush, self._collection)
        self._pending, self._tombstones = set(), set()
        if first and previous is not None:
            collection.drop_generation(self._milvus, self._call, self.path, previous, self._resolved_uri())

    def _ensure_collection(self) -> None:
        """Before the first write: a loaded store deletes the rows a crashed writer left (ids from the
        committed next_id on, which this session is about to hand out again); a new store creates its
        collection, the next generation after any it replaces."""
        if self._collection:
            if not self._prepared:
                expr = f"id >= {self._committed_next_id}"
                self._call("delete chunks", self._milvus().delete, self._collection, filter=expr)
                self._prepared = True
            return
        self._prepared = True
        self._generation = collection.next_generation(self.path)
        self._collection = connection.collection_name(self.path, self._generation)
        collection.create(self._milvus(), self._call, self.path, self._generation, self._collection, self.dim)

    def _maybe_switch_to_ann(self) -> None:
        """From ann_threshold chunks on, the dense field gets an IVF-SQ8 index like the FAISS store's."""
        if self._dense_index != "FLAT" or self._next_id < self.ann_threshold:
            return
        nlist = default_nlist(self._n_chunks)
        log.info("index %s reached %d chunks: building IVF_SQ8 (nlist %d) in Milvus", self.path, self._n_chunks, nlist)
        collection.switch_to_ivf(self._milvus(), self._call, self._collection, nlist)
        self._dense_index = "IVF_SQ8"

    def _write_manifest(self) -> tuple[str, int, str] | None:
        """The manifest names this generation; returns the (uri, generation, collection) it named before, if other."""
        milvus = {"uri": self.uri, "collection": self._collection, "generation": self._generation}
        milvus |= {"catalog": collection.catalog_name(self._generation), "dense_index": self._dense_index}
        milvus["candidate_fields"] = list(self.candidate_fields)
        fields = {"embedder": {"model_id": self.model_id, "dim": self.dim}, "chunking": self.chunking, "milvus": milvus}
        fields |= {"created": self._created, "n_chunks": self._n_chunks, "n_documents": len(self.documents)}
        return collection.write_manifest(self.path, self._generation, fields)
