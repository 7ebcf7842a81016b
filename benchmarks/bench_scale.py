"""Dense retrieval at scale: exact vs IVF-SQ8 on a synthetic collection of unit vectors.

Measures, in one run on this machine: build time, index memory, single-query latency
(median / p95) and recall@10 of the approximate index against exact search, for several
nprobe values. The collection is clustered (a mixture of Gaussians around random centres,
normalised), which is closer to real embeddings than uniform noise.

    python benchmarks/bench_scale.py                 # 1,000,000 x 384
    python benchmarks/bench_scale.py --n 200000      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time

import numpy as np


def synthetic(n: int, dim: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2048, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        block = centres[rng.integers(0, len(centres), m)] + noise * rng.standard_normal((m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def latencies(search, queries: np.ndarray) -> list[float]:  # noqa: ANN001 - a faiss search function
    times = []
    for q in queries:
        t = time.perf_counter()
        search(q.reshape(1, -1), 10)
        times.append((time.perf_counter() - t) * 1000)
    return times


def index_bytes(index) -> int:  # noqa: ANN001
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def main() -> None:
    import faiss

    from rag.index import vector_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--noise", type=float, default=1.0, help="spread around the 2,048 centres (larger: harder, less clustered)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    print(f"# bench_scale  {time.strftime('%Y-%m-%d %H:%M')}  cpu={os.cpu_count()}  {platform.processor() or ''}")
    print(
        f"# faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}, n={args.n:,}, dim={args.dim}, "
        f"noise={args.noise}"
    )
    t = time.perf_counter()
    vectors = synthetic(args.n, args.dim, args.noise)
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(args.n, args.queries, replace=False)] + 0.05 * rng.standard_normal(
        (args.queries, args.dim)
    ).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.arange(args.n, dtype=np.int64)
    print(f"generated in {time.perf_counter() - t:.1f} s")

    results: dict[str, object] = {"n": args.n, "dim": args.dim}
    t = time.perf_counter()
    exact = vector_index.new_exact(args.dim)
    exact.add_with_ids(vectors, ids)
    exact_build = time.perf_counter() - t
    exact_ms = latencies(exact.search, queries)
    _, truth = exact.search(queries, 10)
    exact_mem = index_bytes(exact) / 2**20
    print(
        f"exact  IndexFlatIP      build {exact_build:6.1f} s  memory {exact_mem:7.0f} MiB  "
        f"latency median {statistics.median(exact_ms):6.2f} ms  p95 {np.percentile(exact_ms, 95):6.2f} ms  "
        "recall@10 1.000"
    )
    results["exact"] = {
        "build_s": round(exact_build, 1),
        "memory_mib": round(exact_mem),
        "median_ms": round(statistics.median(exact_ms), 2),
        "p95_ms": round(float(np.percentile(exact_ms, 95)), 2),
    }
    del exact

    t = time.perf_counter()
    ivf = vector_index.build_ivf(vectors, ids)
    ivf_build = time.perf_counter() - t
    ivf_mem = index_bytes(ivf) / 2**20
    results["ivf"] = {"nlist": ivf.nlist, "build_s": round(ivf_build, 1), "memory_mib": round(ivf_mem), "nprobe": {}}
    for nprobe in (16, 64, 128, 256):
        ivf.nprobe = nprobe
        ms = latencies(ivf.search, queries)
        _, got = ivf.search(queries, 10)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)]))
        print(
            f"IVF{ivf.nlist},SQ8 nprobe {nprobe:3d} build {ivf_build:6.1f} s  memory {ivf_mem:7.0f} MiB  "
            f"latency median {statistics.median(ms):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms  "
            f"recall@10 {recall:.3f}  speed-up x{statistics.median(exact_ms) / statistics.median(ms):.1f}"
        )
        results["ivf"]["nprobe"][nprobe] = {  # type: ignore[index]
            "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "recall@10": round(recall, 4),
        }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak process memory {peak:.0f} MiB (includes the float32 source vectors, {vectors.nbytes / 2**20:.0f} MiB)")
    results["peak_rss_mib"] = round(peak)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
