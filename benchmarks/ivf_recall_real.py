"""IVF recall against exact search on real embeddings: the vectors of an existing index and
real questions embedded with the index's embedder (synthetic data flatters IVF).

    python benchmarks/ivf_recall_real.py indexes/mlqa ../shared/eval/mlqa_vi_dev/questions.jsonl
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    import numpy as np

    from rag.eval.questions import load_questions
    from rag.index import vector_index
    from rag.index.faiss.store import IndexStore
    from rag.setup.config import load_settings
    from rag.setup.wiring import apply_runtime_policy, build_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("questions", type=Path)
    args = parser.parse_args()
    settings = load_settings()
    apply_runtime_policy(settings)
    store = IndexStore.load(args.index)
    vectors, ids = vector_index.exact_contents(store._index)  # noqa: SLF001 - a benchmark looks inside
    embedder = build_embedder(settings)
    queries = np.stack([embedder.embed_query(q.question) for q in load_questions(args.questions)])
    _, truth = store._index.search(queries, 10)  # noqa: SLF001
    print(f"# {len(ids):,} real vectors from {args.index}, {len(queries)} real queries, cpu={os.cpu_count()}")
    for nlist in (64, 256):
        ivf = vector_index.build_ivf(vectors, ids, nlist=nlist)
        for nprobe in (4, 8, 16, 32, 64):
            if nprobe > nlist:
                continue
            ivf.nprobe = nprobe
            _, got = ivf.search(queries, 10)
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
            print(f"nlist {nlist:4d} nprobe {nprobe:3d} ({nprobe / nlist:6.1%} of lists)  recall@10 {recall:.3f}")


if __name__ == "__main__":
    main()
