#!/usr/bin/env python
"""Measure the index store's load and incremental saves on synthetic collections; no embedding model.

For each size (default 10,000, 50,000 and 200,000 chunks) it builds a store of random unit
vectors (dim 384, like multilingual-e5-small) and short Vietnamese-like texts (~100 syllables
each, 10 chunks per document), saves it, then measures:

* ``full_save_s``: ``save(compact=True)``, which rewrites everything, as every save did before
  format 2 (the index is IVF-SQ8 from ``--ann-threshold`` chunks, 200,000 as in the app: pass a
  larger value to keep 200,000 exact and skip the IVF training);
* ``first_load_s``, ``load_s``: ``IndexStore.load`` of the saved base, twice (the files are in the
  page cache for both: they were just written);
* ``remove_one_*`` / ``add_one_*``: remove one document (10 chunks) from the loaded store, then
  save; add one, then save: the in-memory change and the save (one delta segment) timed apart,
  and the bytes each save wrote;
* ``rag_remove_one_s``: what ``rag remove FILE`` costs: load + remove + save;
* ``load_with_deltas_s``: load again, now of base + 2 deltas + tombstones.

Every number is measured in that run. Build time is not measured (it is mostly Python BM25
tokenisation of the synthetic texts).

    PYTHONPATH=. python benchmarks/bench_store.py [--sizes 10000 50000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.faiss.store import IndexStore
from rag.index.faiss.vector_index import DEFAULT_ANN_THRESHOLD
from rag.types import Chunk, Document

ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "s", "t"]
ONSETS += ["th", "tr", "v", "x"]
RIMES = ["a", "à", "á", "ả", "ã", "ạ", "an", "àn", "ang", "ánh", "ai", "ao", "âm", "ân", "ất", "e", "è", "ên", "ết"]
RIMES += ["i", "ì", "inh", "ính", "o", "ó", "ong", "ông", "ốc", "ơ", "ời", "u", "ú", "ung", "ư", "ừng", "ước", "ương"]


def _syllables(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """A vocabulary of Vietnamese-looking syllables and Zipf-like frequencies for it."""
    words = sorted({o + r for o in ONSETS for r in RIMES})
    rng.shuffle(words)
    p = 1.0 / np.arange(1, len(words) + 1)
    return words, p / p.sum()


def _document(n: int, rng: np.random.Generator, words: list[str], p: np.ndarray, dim: int) -> tuple:
    source = f"tai-lieu/{n:07d}.txt"
    doc = Document(source=source, title=f"Tài liệu {n}", text="", sha256=f"{n:064d}")
    picks = rng.choice(len(words), size=(10, 100), p=p)
    texts = [" ".join(words[w] for w in row) + "." for row in picks]
    chunks = [Chunk(f"{source}-{i:05d}", source, doc.title, t, 700 * i, 700 * i + 690) for i, t in enumerate(texts)]
    vectors = rng.standard_normal((10, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return doc, chunks, vectors


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _written(path: Path, before: dict[str, int]) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if before.get(p.name) != p.stat().st_mtime_ns)


def _snapshot(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in path.iterdir()}


def _build(folder: Path, size: int, words: list[str], p: np.ndarray, *, dim: int, ann_threshold: int) -> float:
    """Build and save the synthetic store; returns the time of a forced full rewrite of it."""
    chunking = {"max_tokens": 200, "overlap_tokens": 40}
    store = IndexStore(folder, model_id="synthetic", dim=dim, chunking=chunking, ann_threshold=ann_threshold)
    rng = np.random.default_rng(size)
    for n in range(size // 10):
        doc, chunks, vectors = _document(n, rng, words, p, dim)
        store.add(doc, chunks, vectors)
    store.save()
    return _timed(lambda: store.save(compact=True))[1]


def measure(size: int, folder: Path, *, dim: int, ann_threshold: int) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    words, p = _syllables(rng)
    n_docs = size // 10
    full_save_s = _build(folder, size, words, p, dim=dim, ann_threshold=ann_threshold)  # freed before the loads

    def load() -> IndexStore:
        return IndexStore.load(folder, ann_threshold=ann_threshold)

    _, first_load_s = _timed(load)
    store, load_s = _timed(load)
    out: dict[str, Any] = {
        "chunks": len(store),
        "faiss": json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["faiss"],
        "bytes_on_disk": sum(f.stat().st_size for f in folder.iterdir()),
        "full_save_s": round(full_save_s, 3),
        "first_load_s": round(first_load_s, 3),
        "load_s": round(load_s, 3),
    }
    before = _snapshot(folder)
    _, out["remove_one_in_memory_s"] = _timed(lambda: store.remove(f"tai-lieu/{n_docs // 2:07d}.txt"))
    _, out["remove_one_save_s"] = _timed(store.save)
    out["remove_one_bytes_written"] = _written(folder, before)
    before = _snapshot(folder)
    doc, chunks, vectors = _document(n_docs + 1, rng, words, p, dim)
    _, out["add_one_in_memory_s"] = _timed(lambda: store.add(doc, chunks, vectors))
    _, out["add_one_save_s"] = _timed(store.save)
    out["add_one_bytes_written"] = _written(folder, before)

    def rag_remove() -> None:
        loaded = load()
        loaded.remove(f"tai-lieu/{n_docs // 3:07d}.txt")
        loaded.save()

    _, out["rag_remove_one_s"] = _timed(rag_remove)
    loaded, out["load_with_deltas_s"] = _timed(load)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out["segments_now"] = [(s["kind"], s["chunks"], s["tombstones"]) for s in manifest["segments"]]
    for key, value in out.items():
        if key.endswith("_s"):
            out[key] = round(value, 3)
    assert len(loaded) == size - 10, len(loaded)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000], help="chunks per store")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--ann-threshold", type=int, default=DEFAULT_ANN_THRESHOLD)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "sizes": {},
    }
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            results["sizes"][size] = measure(size, Path(tmp) / "index", dim=args.dim, ann_threshold=args.ann_threshold)
        if not args.json:
            print(f"{size:>8} chunks: {results['sizes'][size]}", flush=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        print({k: v for k, v in results.items() if k != "sizes"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
