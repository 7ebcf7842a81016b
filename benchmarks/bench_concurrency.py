"""Load test: N browser sessions ask N different questions about corpus/ at once while one more uploads a document.

Real models and a real `rag ui` server (with a login), driven through Gradio's own client, one
Client (one browser session) per user. Each question is first asked alone, one after another,
then all N at the same moment while the (N+1)-th session uploads a new document. Every answer
must hold its own expected fact and cite a passage of its own source file; the upload must be
answerable afterwards. Prints time to first token and total time, p50 and p95, alone and under
load, and their ratio (same run, same server).

    flock /tmp/rag-heavy.lock python benchmarks/bench_concurrency.py [--sessions 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "rag", "bench-concurrency-7d1f"

# (question, any of these must be in the answer, file the cited passage must come from)
QUESTIONS = [
    ("Góc liên kết của phân tử nước là bao nhiêu độ?", ("104,45",), "nuoc.md"),
    ("An Dương Vương giao cho tướng nào xây thành Cổ Loa?", ("Cao Lỗ",), "an-duong-vuong.md"),
    ("Tên thật của An Dương Vương là gì?", ("Thục Phán",), "an-duong-vuong.md"),
    ("Nước có khối lượng riêng lớn nhất ở nhiệt độ nào?", ("4 °C", "4°C", "4 độ"), "nuoc.md"),
    (
        "Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?",
        ("04 lớp", "4 lớp"),
        "tuyen-giao-dang-uy-khoi-tinh-2021.txt",
    ),
    (
        "Hội nghị tổng kết công tác tuyên giáo năm 2016 được tổ chức ở đâu?",
        ("Hà Nội",),
        "tuyen-giao-khoi-trung-uong-2016.txt",
    ),
    ("Khối núi chính thuộc Trường Sơn Nam là khối núi nào?", ("Ngọc Linh",), "day-truong-son.md"),
    ("Bao nhiêu phần trăm lượng nước trên Trái Đất là nước ngọt?", ("2,6",), "nuoc.md"),
]
WARM_UP = ("Dãy Trường Sơn dài khoảng bao nhiêu ki-lô-mét?", ("1.100", "1100"), "day-truong-son.md")  # not timed
UPLOAD_NAME = "hồ-ba-bể.md"
UPLOAD_TEXT = """# Hồ Ba Bể

Hồ Ba Bể là hồ nước ngọt tự nhiên lớn nhất Việt Nam, nằm ở huyện Ba Bể, tỉnh Bắc Kạn.
Hồ có diện tích mặt nước khoảng 500 héc-ta và độ sâu lớn nhất khoảng 35 mét.
Năm 2011, hồ Ba Bể được công nhận là khu Ramsar thứ ba của Việt Nam.
"""
UPLOAD_QUESTION = ("Hồ Ba Bể được công nhận là khu Ramsar vào năm nào?", ("2011",), UPLOAD_NAME)


@dataclass
class Result:
    question: str
    ttft_s: float | None = None
    total_s: float = 0.0
    answer: str = ""
    cited_files: list[str] = field(default_factory=list)
    error: str | None = None
    right: bool = False  # expected fact in the answer and a passage of its own file cited


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, port: int) -> subprocess.Popen:
    """`rag ui` on loopback with a login, its own index (built from corpus/ at start) and uploads folder."""
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        RAG_INDEX=str(tmp / "index"),
        RAG_UPLOADS=str(tmp / "uploads"),
        RAG_UI_PASSWORD=PASSWORD,
        GRADIO_ANALYTICS_ENABLED="False",
    )
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ui", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=log
    )
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rag ui exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError("rag ui did not start within 600 s")


def client(url: str):  # noqa: ANN201 - gradio_client.Client
    from gradio_client import Client

    return Client(url, auth=(USER, PASSWORD), verbose=False, download_files=False)


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _content(message: dict) -> str:
    """A chat message's HTML: Gradio 6 sends content as a list of parts ({"type": "text", "text": ...})."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def ask(session, question: str, expected: tuple[str, ...], source: str, *, max_tokens: int) -> Result:  # noqa: ANN001
    """One question in one session, timed from submit to the first answer text and to the final answer."""
    result = Result(question)
    started = time.perf_counter()
    try:
        job = session.submit(question, 4, max_tokens, api_name="/ask")
        for chat, _sources, _ in job:
            last = _content(chat[-1]) if chat and chat[-1]["role"] == "assistant" else ""
            if result.ttft_s is None and _text(last).replace("▌", "").strip():
                result.ttft_s = time.perf_counter() - started
        chat, sources, _ = job.result()
        result.total_s = time.perf_counter() - started
    except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
        result.error = f"{type(e).__name__}: {e}"
        result.total_s = time.perf_counter() - started
        return result
    answer_html = _content(chat[-1])
    result.answer = _text(answer_html)
    cited = set(re.findall(r'href="#(src-\d+-\d+)"', answer_html))
    for card in re.finditer(r'<div class="rag-src rag-cited" id="(src-\d+-\d+)">(.*?)</div></div>', sources, re.S):
        if card.group(1) in cited:
            name = re.search(r'rag-src-loc"> · (.*?) · ', card.group(2))
            result.cited_files.append(html.unescape(name.group(1)) if name else "?")
    result.right = any(e in result.answer for e in expected) and source in result.cited_files
    if "rag-error" in answer_html:
        result.error = result.answer
    return result


def upload(session, path: Path) -> tuple[float, str]:  # noqa: ANN001
    from gradio_client import handle_file

    started = time.perf_counter()
    status, _ = session.predict([handle_file(str(path))], api_name="/upload")
    return time.perf_counter() - started, _text(status)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q * (len(ordered) - 1)
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(results: list[Result]) -> dict[str, float]:
    ttft = [r.ttft_s for r in results if r.ttft_s is not None]
    total = [r.total_s for r in results]
    return {
        "ttft_p50_s": percentile(ttft, 0.5),
        "ttft_p95_s": percentile(ttft, 0.95),
        "total_p50_s": percentile(total, 0.5),
        "total_p95_s": percentile(total, 0.95),
    }


def run(sessions: int, max_tokens: int) -> dict:
    questions = QUESTIONS[:sessions]
    with tempfile.TemporaryDirectory(prefix="rag-bench-conc-") as folder:
        tmp = Path(folder)
        port = free_port()
        started = time.perf_counter()
        server = start_server(tmp, port)
        startup_s = time.perf_counter() - started
        url = f"http://127.0.0.1:{port}/"
        try:
            # every question in a session of its own (a second question in one session is a follow-up)
            ask(client(url), *WARM_UP, max_tokens=max_tokens)  # first prompt, caches; not counted
            alone = [ask(client(url), *q, max_tokens=max_tokens) for q in questions]
            users = [client(url) for _ in range(sessions + 1)]

            document = tmp / "incoming" / UPLOAD_NAME
            document.parent.mkdir()
            document.write_text(UPLOAD_TEXT, encoding="utf-8")
            loaded: list[Result | None] = [None] * sessions
            upload_result: dict[str, object] = {}
            barrier = threading.Barrier(sessions + 1)

            def tab(i: int) -> None:
                barrier.wait()
                loaded[i] = ask(users[i], *questions[i], max_tokens=max_tokens)

            def uploader() -> None:
                barrier.wait()
                try:
                    upload_result["seconds"], upload_result["status"] = upload(users[sessions], document)
                except Exception as e:  # noqa: BLE001 - reported
                    upload_result["error"] = f"{type(e).__name__}: {e}"

            threads = [threading.Thread(target=tab, args=(i,)) for i in range(sessions)]
            threads.append(threading.Thread(target=uploader))
            load_started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            load_wall_s = time.perf_counter() - load_started
            after = ask(client(url), *UPLOAD_QUESTION, max_tokens=max_tokens)
        finally:
            server.terminate()
            server.wait(timeout=60)
    under = [r for r in loaded if r is not None]
    report = {
        "sessions": sessions,
        "max_tokens": max_tokens,
        "server_start_s": startup_s,
        "alone": summary(alone),
        "under_load": summary(under),
        "load_wall_s": load_wall_s,
        "upload": upload_result,
        "upload_answered_after": asdict(after),
        "results_alone": [asdict(r) for r in alone],
        "results_under_load": [asdict(r) for r in under],
        "right_under_load": sum(r.right for r in under),
        "errors_under_load": [r.error for r in under if r.error],
    }
    report["ratio"] = {k: report["under_load"][k] / report["alone"][k] for k in report["alone"]}
    return report


def print_report(report: dict) -> None:
    n = report["sessions"]
    print(
        f"{n} sessions ask at once while 1 uploads ({report['max_tokens']} max tokens; server start "
        f"{report['server_start_s']:.0f} s with corpus ingest)"
    )
    print(f"{'':18} {'TTFT p50':>9} {'TTFT p95':>9} {'total p50':>10} {'total p95':>10}")
    for name in ("alone", "under_load", "ratio"):
        row = report[name]
        unit = "x" if name == "ratio" else "s"
        print(f"{name:18} " + " ".join(f"{row[k]:>8.2f}{unit}" for k in row))
    print(
        f"load wall time {report['load_wall_s']:.1f} s; right answers under load {report['right_under_load']}/{n}; "
        f"errors {len(report['errors_under_load'])}"
    )
    upload = report["upload"]
    print(f"upload: {upload.get('seconds', float('nan')):.1f} s, {upload.get('status') or upload.get('error')}")
    after = report["upload_answered_after"]
    print(f"uploaded document answered afterwards: {after['right']} ({after['answer'][:80]!r})")
    for r in report["results_under_load"]:
        mark = "ok " if r["right"] else "BAD"
        print(
            f"  {mark} ttft {r['ttft_s'] or float('nan'):6.1f} s total {r['total_s']:6.1f} s  {r['question'][:50]}"
            f" -> {r['answer'][:60]!r} {r['cited_files']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help=f"questions at once, 1..{len(QUESTIONS)}")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args()
    if not 1 <= args.sessions <= len(QUESTIONS):
        parser.error(f"--sessions must be 1..{len(QUESTIONS)}")
    report = run(args.sessions, args.max_tokens)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    ok = report["right_under_load"] == args.sessions and not report["errors_under_load"]
    return 0 if ok and report["upload_answered_after"]["right"] else 1


if __name__ == "__main__":
    sys.exit(main())
