#!/usr/bin/env python
"""Measure ingestion on the viwiki corpus with the real default embedder; nothing is hard-coded.

Exports ``../shared/eval/viwiki_corpus/docs.jsonl`` (625 articles, or the first ``--limit``) to one
.txt file per article in a temporary folder, then measures:

1. a full ingest: files/s, chunks/s, peak RSS (``resource.getrusage``) before and after;
2. a re-run with nothing changed; 3. after changing one file; 4. after deleting one (``--prune``);
5. ``rag remove`` of one file; and the store's own load time at this size (the part of an
   incremental run that grows with the index; a save writes only a delta segment) and the time of
   a full rewrite (``save(compact=True)``, what every save cost before store format 2).

The exported files get an mtime a minute in the past, like files a user has not just edited, so
unchanged files are recognised by size and mtime without being hashed.

    PYTHONPATH=. python benchmarks/bench_ingest.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.index.faiss.store import IndexStore
from rag.ingest.pipeline import ingest, remove
from rag.ingest.progress import ProgressBar
from rag.setup import wiring
from rag.setup.config import load_settings
from rag.text.chunking import passage_text
from rag.text.loaders import export_jsonl_documents

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "eval" / "viwiki_corpus" / "docs.jsonl"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="ingest only the first N articles (default: all 625)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="docs.jsonl with doc_id, title, text")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    settings = load_settings()
    wiring.apply_runtime_policy(settings)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        lines = args.corpus.read_text(encoding="utf-8").splitlines()
        lines = lines[: args.limit] if args.limit else lines
        (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        files = export_jsonl_documents(tmp_path / "docs.jsonl", tmp_path / "docs")
        past = time.time() - 60
        for f in files:
            os.utime(f, (past, past))
        results["files"] = len(files)
        results["corpus_mb"] = round(sum(f.stat().st_size for f in files) / 2**20, 2)

        embedder = wiring.build_embedder(settings)
        # the model loads on first use: load it here, outside the ingest timings
        _, load_s = _timed(lambda: embedder.embed_passages(["khởi động"]))
        results["embedder"] = {"model_id": embedder.model_id, "load_and_first_call_s": round(load_s, 2)}
        results["peak_rss_mib_before_ingest"] = round(_peak_rss_mib(), 1)
        index = tmp_path / "index"
        docs = tmp_path / "docs"

        def run(**options: Any) -> Any:
            return ingest(
                [docs],
                index=index,
                embedder=embedder,
                chunking=wiring.chunk_settings(settings),
                progress=ProgressBar(sys.stderr),
                **options,
            )

        full = run()
        results["full"] = {
            "seconds": round(full.seconds, 2),
            "files_per_s": round(full.files_per_second, 2),
            "chunks": full.chunks_embedded,
            "chunks_per_s": round(full.chunks_per_second, 2),
            "failed": len(full.failed),
            "peak_rss_mib_after": round(_peak_rss_mib(), 1),
        }
        unchanged = run()
        results["no_change_s"] = round(unchanged.seconds, 3)

        changed = files[len(files) // 2]
        with changed.open("a", encoding="utf-8") as handle:
            handle.write("\nĐoạn mới thêm vào để đo lần nạp tăng dần.\n")
        one = run()
        assert one.updated == [str(changed)], one.to_dict()
        # the unavoidable part of that run: embedding the changed file's chunks, measured alone
        passages = [passage_text(c) for c in IndexStore.load(index).chunks_of(str(changed))]
        _, embed_only_s = _timed(lambda: embedder.embed_passages(passages))
        results["change_one_file"] = {
            "seconds": round(one.seconds, 3),
            "chunks_embedded": one.chunks_embedded,
            "embedding_those_chunks_alone_s": round(embed_only_s, 3),
        }

        deleted = files[len(files) // 3]
        deleted.unlink()
        pruned = run(prune=True)
        assert pruned.removed == [str(deleted)], pruned.to_dict()
        results["delete_one_file_prune_s"] = round(pruned.seconds, 3)

        target = str(files[len(files) // 4])
        removed, remove_s = _timed(lambda: remove([target], index=index))
        assert removed == [target]
        results["rag_remove_one_s"] = round(remove_s, 3)

        store, store_load_s = _timed(lambda: IndexStore.load(index))
        _, compact_s = _timed(lambda: store.save(compact=True))
        results["store_at_this_size"] = {
            "chunks": len(store),
            "load_s": round(store_load_s, 3),
            "full_rewrite_save_s": round(compact_s, 3),
            "bytes_on_disk": sum(p.stat().st_size for p in index.iterdir()),
        }
        results["ratios"] = {
            "change_one_vs_full": round(one.seconds / full.seconds, 4),
            "change_one_vs_embedding_its_chunks": round(one.seconds / embed_only_s, 3),
            "delete_one_vs_full": round(pruned.seconds / full.seconds, 4),
        }
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for key, value in results.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
