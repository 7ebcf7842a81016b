"""The chat's login is real: a launched Gradio server (fake models) refuses the API and uploads without it."""

from __future__ import annotations

import socket

import httpx
import pytest
from rag.ui.app import build_app
from rag.ui.backend import Backend

from rag.setup.config import Settings
from tests.fakes import HashEmbedder, ScriptedGenerator


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("login")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "ha-noi.txt").write_text("Hà Nội là thủ đô của Việt Nam.", encoding="utf-8")
    settings = Settings(index=tmp / "index", corpus=corpus, uploads=tmp / "uploads", cache_dir=tmp / "cache")
    backend = Backend(settings, embedder=HashEmbedder(), generator=ScriptedGenerator([]))
    backend.ingest_corpus()
    app = build_app(backend)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(
        server_name="127.0.0.1", server_port=port, auth=("rag", "mật-khẩu"), prevent_thread_lock=True, quiet=True
    )
    yield f"http://127.0.0.1:{port}", tmp
    app.close()


def test_without_login_the_config_and_uploads_are_refused(served) -> None:  # noqa: ANN001
    url, tmp = served
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/config").status_code == 401
        upload = http.post("/gradio_api/upload", files={"files": ("x.txt", "Tài liệu lạ".encode())})
        assert upload.status_code == 401
        assert http.post("/login", data={"username": "rag", "password": "sai"}).status_code == 400
    assert not (tmp / "uploads").exists()


def test_with_the_password_the_page_is_served(served) -> None:  # noqa: ANN001
    url, _ = served
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.post("/login", data={"username": "rag", "password": "mật-khẩu"}).status_code == 200
        config = http.get("/config")
        assert config.status_code == 200
        assert config.json()["title"] == "Hỏi đáp tài liệu tiếng Việt"
