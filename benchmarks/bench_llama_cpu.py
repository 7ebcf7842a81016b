"""Prefill and decode speed of the default GGUF with llama.cpp's extra weight buffers on and off.

Each configuration runs in its own child process, so a crash (the AMX kernel's segfault,
llama.cpp#20824) is recorded as a result instead of ending the benchmark:

    python benchmarks/bench_llama_cpu.py                       # the installed llama-cpp-python
    python benchmarks/bench_llama_cpu.py --build noamx=/tmp/lcp-noamx   # plus a second build on PYTHONPATH

A second build is made with e.g.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AMX_INT8=OFF ..." \
        pip install --no-deps --target /tmp/lcp-noamx llama-cpp-python
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPT_WORDS = "Ban Tuyên giáo Đảng ủy Khối đã mở 04 lớp bồi dưỡng đối tượng kết nạp Đảng, có 386 học viên. "


def child(extra_buffers: bool, prompt_tokens: int, decode_tokens: int, threads: int) -> None:
    """Runs in the child: load, prefill one prompt, decode greedily; print one JSON line."""
    import llama_cpp

    from rag.answer.llama_cpu import llama_build_features, model_params_override
    from rag.setup import config, models

    path = models.llm_path(config.load_settings().cache_dir)
    with model_params_override(use_extra_bufts=extra_buffers):
        llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False
        )
    tokens = llm.tokenize((PROMPT_WORDS * 40).encode("utf-8"), add_bos=False)[:prompt_tokens]
    best_prefill, best_decode = 0.0, 0.0
    for _ in range(2):  # the second run is warm
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prefill = len(tokens) / (time.perf_counter() - started)
        started = time.perf_counter()
        produced = 0
        for _token in llm.generate([], temp=0.0, top_k=1, reset=False):
            produced += 1
            if produced >= decode_tokens:
                break
        decode = produced / (time.perf_counter() - started)
        best_prefill, best_decode = max(best_prefill, prefill), max(best_decode, decode)
    features = llama_build_features()
    print(json.dumps({"prefill_tps": best_prefill, "decode_tps": best_decode, "amx_build": features.get("AMX_INT8")}))


def run(build: str, pythonpath: str | None, extra_buffers: bool, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, str(REPO)) if p)
    cmd = [sys.executable, __file__, "--child", "--extra-buffers", "on" if extra_buffers else "off"]
    cmd += ["--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens)]
    cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    row = {"build": build, "extra_buffers": "on" if extra_buffers else "off"}
    if proc.returncode != 0:
        crash = -proc.returncode if proc.returncode < 0 else None
        row["result"] = f"crashed ({signal.Signals(crash).name})" if crash else f"exit {proc.returncode}"
        return row
    row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    row["result"] = "ok"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--extra-buffers", choices=["on", "off"], default="off", help=argparse.SUPPRESS)
    parser.add_argument("--build", action="append", default=[], help="NAME=PYTHONPATH of another llama-cpp-python")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.child:
        child(args.extra_buffers == "on", args.prompt_tokens, args.decode_tokens, args.threads)
        return
    from rag.answer.llama_cpu import cpu_info

    model, flags = cpu_info()
    amx = sorted(f for f in flags if f.startswith("amx"))
    print(f"CPU: {model}; AMX flags: {' '.join(amx) or 'none'}; {args.threads} threads")
    print(f"prompt {args.prompt_tokens} tokens, decode {args.decode_tokens} tokens, best of 2 runs each\n")
    builds = [("installed", None)] + [tuple(b.split("=", 1)) for b in args.build]
    print(f"| build | AMX kernel | extra buffers | result | prefill tok/s | decode tok/s |\n|{'---|' * 6}")
    for name, path in builds:
        for extra in (True, False):
            row = run(name, path, extra, args)
            pre = f"{row['prefill_tps']:.1f}" if "prefill_tps" in row else "-"
            dec = f"{row['decode_tps']:.1f}" if "decode_tps" in row else "-"
            amx_build = "?" if row["result"] != "ok" else ("yes" if row.get("amx_build") == "1" else "no")
            print(f"| {name} | {amx_build} | {row['extra_buffers']} | {row['result']} | {pre} | {dec} |", flush=True)


if __name__ == "__main__":
    main()
