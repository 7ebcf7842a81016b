"""rag serve --ui: the browser chat and the API in one process, on one Service (one set of models)."""

from __future__ import annotations

import httpx

from rag.cli.serve import mount_ui
from rag.server.app import create_app
from rag.server.service import Service
from tests.serving import ANSWER, QUESTION, LiveServer


def test_the_chat_is_mounted_beside_v1_on_the_same_service(service: Service) -> None:
    app = create_app(service)
    mount_ui(app, service)
    with LiveServer(app) as server:  # a real uvicorn, lifespan included (Gradio starts its queue there)
        client = httpx.Client(base_url=server.url, timeout=10)
        _check_page_and_api(client)


def _check_page_and_api(client: httpx.Client) -> None:
    assert client.get("/").status_code == 200
    config = client.get("/config").json()  # the page's Gradio config: the chat's own title and elements
    assert config["title"] == "Hỏi đáp tài liệu tiếng Việt"
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"rag-chat", "rag-question", "rag-upload", "rag-docs"} <= ids
    assert client.get("/v1/models").json()["data"][0]["id"] == "rag-vi"
    body = client.post(
        "/v1/chat/completions", json={"model": "rag-vi", "messages": [{"role": "user", "content": QUESTION}]}
    )
    assert body.json()["choices"][0]["message"]["content"] == ANSWER


def test_the_service_offers_what_the_chat_calls_on_its_backend(service: Service) -> None:
    """rag.ui.app.build_app's backend methods, answered from the same index as the API."""
    labels = [label for label, _ in service.documents()]
    assert [label.split(" — ")[0] for label in labels] == ["Đà Nẵng", "Hà Nội", "Huế"]
    source = service.documents()[1][1]
    assert service.title_of(source) == "Hà Nội"
    assert [c.text for c in service.chunks_of(source)] == ["Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976."]
