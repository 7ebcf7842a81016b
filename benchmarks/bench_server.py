"""rag serve and LLM servers against the in-process pipeline, on the same questions, in one run.

1. time to first token and decode tokens/s of one answer: `rag ask` in-process (the Assistant)
   against `rag serve` streaming over HTTP (a child process on the same models);
2. the in-process model against the same GGUF behind llama-cpp-python's server (the same prompt
   through LlamaCppGenerator and OpenAIGenerator);
3. requests per minute through `rag serve` with 4 concurrent clients (non-streaming).

PYTHONPATH=. python benchmarks/bench_server.py [--clients 4] [--requests 8] [--max-tokens 96] [--json]
Run under `flock /tmp/rag-heavy.lock`; about 5 minutes on 2 cores. The index of corpus/ is built
in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?",
    "Nước nặng khác nước thường như thế nào?",
    "Sử cũ ghi thời gian An Dương Vương làm vua kéo dài bao lâu?",
    "Vì sao phân tử nước có tính lưỡng cực?",
]
WARM_UP = "Nước là gì?"
# a reply that runs to the token limit, for decode speed (answers to the questions are often a few tokens)
LONG_REPLY = "Hãy viết một đoạn văn khoảng 200 từ giới thiệu về thủ đô Hà Nội."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def decode_rate(tokens: int, first_s: float, total_s: float) -> float | None:
    """Tokens after the first, per second after the first token."""
    return (tokens - 1) / (total_s - first_s) if tokens > 1 and total_s > first_s else None


def aggregate(runs: list[dict]) -> dict:
    """Per-question runs and their summary: median time to first token, decode over all tokens after the first."""
    decoding = [r for r in runs if r["tokens"] > 1 and r["total_s"] > r["first_token_s"]]
    tokens = sum(r["tokens"] - 1 for r in decoding)
    seconds = sum(r["total_s"] - r["first_token_s"] for r in decoding)
    return {
        "runs": runs,
        "median_first_token_s": statistics.median(r["first_token_s"] for r in runs),
        "decode_tok_s": tokens / seconds if seconds else None,
        "decoded_tokens": tokens,
    }


def in_process(settings) -> dict:  # noqa: ANN001
    from rag.answer.record import answer_record
    from rag.setup.wiring import build_assistant, build_generator
    from rag.types import Message

    generator = build_generator(settings)
    list(generator.stream([Message("user", "Chào.")], max_tokens=2))  # load the model before timing
    assistant = build_assistant(settings, generator=generator)
    assistant.ask(WARM_UP)  # warm: embedder, retrieval, the system prompt in the KV cache
    runs = []
    for question in QUESTIONS:
        started = time.perf_counter()
        first = None
        answer = None
        for event in assistant.stream(question):
            if isinstance(event, str):
                first = first or time.perf_counter() - started
            else:
                answer = event
        total = time.perf_counter() - started
        runs.append(
            {"first_token_s": first, "total_s": total, "tokens": answer_record(answer)["usage"]["completion_tokens"]}
        )
    return aggregate(runs)


def serve(index: Path, port: int, log: Path) -> subprocess.Popen:
    import httpx

    env = os.environ | {"PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "rag.cli", "serve", "--index", str(index), "--port", str(port)]
    with log.open("w") as err:
        process = subprocess.Popen(argv, env=env, stderr=err, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    body = {"model": "rag-vi", "messages": [{"role": "user", "content": WARM_UP}]}
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=300).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.kill()
    raise RuntimeError(f"rag serve did not become ready in 300 s: {log.read_text()[-500:]}")


def stream_once(port: int, question: str, max_tokens: int | None = None) -> dict:
    import httpx

    body = {"model": "rag-vi", "stream": True, "messages": [{"role": "user", "content": question}]}
    if max_tokens:
        body["max_tokens"] = max_tokens
    started = time.perf_counter()
    first = None
    last = None
    with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=600) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.perf_counter() - started
            last = chunk
    total = time.perf_counter() - started
    return {"first_token_s": first, "total_s": total, "tokens": last["usage"]["completion_tokens"]}


def concurrent(port: int, clients: int, requests: int, max_tokens: int) -> dict:
    import httpx

    def one(i: int) -> float:
        body = {
            "model": "rag-vi",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": QUESTIONS[i % 4]}],
        }
        t = time.perf_counter()
        response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=900)
        response.raise_for_status()
        return time.perf_counter() - t

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": requests,
        "max_tokens": max_tokens,
        "wall_s": wall,
        "requests_per_minute": requests * 60 / wall,
        "median_latency_s": statistics.median(latencies),
    }


def generator_pair(settings, question: str, max_tokens: int) -> dict:  # noqa: ANN001
    """The same answer prompt through the in-process model and the same GGUF behind llama-cpp-python's server."""
    from rag.answer.generate import LlamaCppGenerator
    from rag.answer.llama_server import LlamaServer
    from rag.answer.openai_generator import OpenAIGenerator
    from rag.answer.prompting import PromptBuilder, PromptTemplates
    from rag.setup import models
    from rag.setup.wiring import build_assistant
    from rag.types import Message

    gguf = models.ensure_llm(settings.cache_dir)
    hits = build_assistant(settings, with_generator=False).retriever.search(question, settings.k)
    local = LlamaCppGenerator(gguf, n_ctx=settings.n_ctx, n_threads=settings.threads)
    builder = PromptBuilder(PromptTemplates.load(settings.prompts_dir), max_prompt_tokens=settings.n_ctx - max_tokens)
    messages = builder.build(
        question, hits, local.count_prompt_tokens, max_tokens=settings.answer_prompt_tokens
    ).messages

    long_reply = [messages[0], Message("user", LONG_REPLY)]

    def once(generator, prompt: list) -> dict:  # noqa: ANN001
        started = time.perf_counter()
        first = None
        completion = generator.stream(prompt, max_tokens=max_tokens)
        for _ in completion:
            first = first or time.perf_counter() - started
        total = time.perf_counter() - started
        tokens = completion.usage.completion_tokens
        return {
            "first_token_s": first,
            "total_s": total,
            "tokens": tokens,
            "decode_tok_s": decode_rate(tokens, first, total),
        }

    def timed(generator) -> dict:  # noqa: ANN001
        list(generator.stream([messages[0], Message("user", "Chào.")], max_tokens=4))  # load, cache the system prompt
        answer = once(generator, messages)  # time to first token on the real answer prompt
        long = once(generator, long_reply)  # decode speed on a reply that runs to max_tokens
        return {
            "answer_prompt_tokens": generator.count_prompt_tokens(messages),
            "first_token_s": answer["first_token_s"],
            "decode_tok_s": long["decode_tok_s"],
            "answer_prompt": answer,
            "long_reply": long,
        }

    result = {"in_process": timed(local)}
    del local
    with LlamaServer(gguf, port=free_port(), n_ctx=settings.n_ctx, threads=settings.threads) as url:
        remote = OpenAIGenerator(url, vocab_gguf=gguf, timeout=600)
        result["llama_cpp_server"] = timed(remote) | {"language_guard": remote.info().language_guard}
    return result


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=96, help="answer limit in the concurrency and generator runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from rag.setup.config import load_settings
    from rag.setup.wiring import apply_runtime_policy, run_ingest

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings().replace(index=Path(tmp) / "index")
        apply_runtime_policy(settings)
        note("building the corpus index ...")
        run_ingest(settings, [REPO / "corpus"])
        report: dict = {"cpus": os.cpu_count(), "load_avg_start": os.getloadavg(), "questions": QUESTIONS}

        def section(name: str, run) -> None:  # noqa: ANN001 - a failing section is reported, the others still run
            note(f"{name} ...")
            try:
                report[name] = run()
            except Exception as e:  # noqa: BLE001
                report[name] = {"error": f"{type(e).__name__}: {e}"}

        section("ask_in_process", lambda: in_process(settings))
        port = free_port()
        process = serve(settings.index, port, Path(tmp) / "serve.log")
        try:
            section("serve_streaming", lambda: aggregate([stream_once(port, q) for q in QUESTIONS]))
            section("serve_concurrent", lambda: concurrent(port, args.clients, args.requests, args.max_tokens))
        finally:
            process.terminate()
            process.wait()
        section("generators", lambda: generator_pair(settings, QUESTIONS[0], args.max_tokens))
        report["load_avg_end"] = os.getloadavg()
    ask, srv = report["ask_in_process"], report["serve_streaming"]
    gen = report["generators"]
    local, remote = gen.get("in_process", {}), gen.get("llama_cpp_server", {})
    report["ratios"] = {
        "serve_vs_ask_first_token": ratio(srv.get("median_first_token_s"), ask.get("median_first_token_s")),
        "serve_vs_ask_decode": ratio(srv.get("decode_tok_s"), ask.get("decode_tok_s")),
        "server_vs_in_process_first_token": ratio(remote.get("first_token_s"), local.get("first_token_s")),
        "server_vs_in_process_decode": ratio(remote.get("decode_tok_s"), local.get("decode_tok_s")),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    for key, value in report.items():
        print(f"{key:>18}: {json.dumps(value, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
