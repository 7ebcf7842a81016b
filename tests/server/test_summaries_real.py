"""POST /v1/summaries with the real models over corpus/, served by a real uvicorn (model tier)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from rag.server.app import create_app
from rag.server.service import Service
from rag.setup.config import Settings
from tests.conftest import CORPUS
from tests.serving import LiveServer

pytestmark = pytest.mark.models


def _post(url: str, body: dict) -> str:
    request = urllib.request.Request(
        f"{url}/v1/summaries", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read().decode()


def test_the_2016_reports_summary_and_a_topic_summary_over_http(
    tmp_path: Path,
    real_embedder,
    real_generator,  # noqa: ANN001 - the session's real models
) -> None:
    settings = Settings(index=tmp_path / "index", corpus=CORPUS, uploads=tmp_path / "uploads", cache_dir=tmp_path)
    service = Service(settings, embedder=real_embedder, generator=real_generator)
    service.load()  # no index yet: built from corpus/
    with LiveServer(create_app(service)) as server:
        body = json.loads(_post(server.url, {"document": "tuyen-giao-khoi-trung-uong-2016.txt", "sentences": 5}))
        assert body["object"] == "summary" and len(body["sentences"]) == 5
        assert body["answer"].startswith("Ngày 20/12/2016, tại Hà Nội, Đảng ủy Khối tổ chức Hội nghị tổng kết")
        assert {s["status"] for s in body["sentences"]} == {"supported"}
        assert {c["source"].rsplit("/", 1)[-1] for c in body["citations"]} == {"tuyen-giao-khoi-trung-uong-2016.txt"}

        events = [line[6:] for line in _post(server.url, {"topic": "nước nặng", "stream": True}).splitlines() if line]
        assert events[-1] == "[DONE]"
        *chunks, whole = [json.loads(e) for e in events[:-1]]
        assert "".join(c["delta"] for c in chunks) == whole["answer"]
        assert [s["text"] for s in whole["sentences"]] == [  # the sentences on heavy water, not all on water
            'Bên cạnh nước "thông thường" còn có nước nặng và nước siêu nặng.',
            "Nước nặng có tính chất vật lý và hóa học khác với nước thường.",
        ]
        assert {s["status"] for s in whole["sentences"]} == {"supported"}
        assert all(c["source"].endswith("nuoc.md") for c in whole["citations"])
