"""End to end with the real models, through the CLI, in a process that records every socket event.

Proves: `rag ingest` + `rag ask` open no socket (even with HF_HUB_OFFLINE unset: the CLI enforces
it), the answer is the right fact in Vietnamese, and its citation points at the passage holding it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.text.vietnamese import is_vietnamese
from tests.conftest import CORPUS, REPO

pytestmark = pytest.mark.models

QUESTION = "Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?"

_RUNNER = r"""
import json, sys
events = []
def hook(event, args):
    if event.startswith("socket."):
        events.append(event + " " + repr(args)[:200])
sys.addaudithook(hook)
from rag.cli.main import main
codes = [main(["ingest", sys.argv[1], "--index", sys.argv[2]]),
         main(["ask", sys.argv[3], "--json", "--index", sys.argv[2]])]
print("AUDIT " + json.dumps({"codes": codes, "socket_events": events}))
"""


def test_ingest_and_ask_open_no_socket_and_cite_the_answer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    index = tmp_path / "index"
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, os.path.relpath(CORPUS, REPO), str(index), QUESTION],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    audit = json.loads(lines[-1].removeprefix("AUDIT "))
    assert audit["socket_events"] == []
    assert audit["codes"] == [0, 0]
    answer = json.loads(lines[-2])
    assert answer["question"] == QUESTION
    assert "04 lớp" in answer["answer"] or "4 lớp" in answer["answer"]
    assert is_vietnamese(answer["answer"])
    assert answer["invalid_markers"] == []
    assert len(answer["citations"]) >= 1
    first = answer["citations"][0]
    assert first["source"] == "corpus/tuyen-giao-dang-uy-khoi-tinh-2021.txt"
    assert "04 lớp bồi dưỡng đối tượng kết nạp Đảng" in first["text"]
    source_text = (REPO / first["source"]).read_text(encoding="utf-8")
    assert source_text[first["start"] : first["end"]] == first["text"]
    assert f"[{first['marker']}]" in answer["answer"]
    assert set(answer["timings"]) == {"retrieve_ms", "first_token_ms", "total_ms"}
    assert answer["usage"]["prompt_tokens"] > 100
