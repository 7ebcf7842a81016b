"""Model tier: a real `rag ui` (with a login) and Gradio's client: 3 sessions ask at once while a 4th uploads.

A smaller run of benchmarks/bench_concurrency.py (the 8-session load test); here only correctness
is asserted: each answer holds its own fact and cites its own source, nothing errs, and the
uploaded document is answerable once indexed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.models


def test_three_sessions_and_an_upload_at_once_each_get_their_own_answer(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "benchmarks/bench_concurrency.py", "--sessions", "3", "--max-tokens", "96",
         "--json", str(report_path)],
        cwd=REPO, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert report_path.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    under = report["results_under_load"]
    assert [r["error"] for r in under] == [None, None, None]
    expected = {
        "Góc liên kết của phân tử nước là bao nhiêu độ?": ("104,45", "nuoc.md"),
        "An Dương Vương giao cho tướng nào xây thành Cổ Loa?": ("Cao Lỗ", "an-duong-vuong.md"),
        "Tên thật của An Dương Vương là gì?": ("Thục Phán", "an-duong-vuong.md"),
    }
    for result in under:
        fact, source = expected[result["question"]]
        assert fact in result["answer"], result
        assert source in result["cited_files"], result
    assert report["upload"]["status"].startswith("Đã thêm 1")
    assert "2011" in report["upload_answered_after"]["answer"]
    assert run.returncode == 0
