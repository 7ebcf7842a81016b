"""rag serve over raw HTTP: the answers, the extra fields, documents, retrieval and every error shape."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rag.cli.serve import check_exposure, is_loopback
from rag.errors import ConfigError
from rag.server.app import create_app
from rag.server.service import Service, document_id
from tests.fakes import HashEmbedder
from tests.serving import ANSWER, QUESTION, KeyedGenerator, make_settings

RECORD_FIELDS = {"question", "answer", "citations", "invalid_markers", "retrieved", "timings", "usage", "outcome"}
RECORD_FIELDS |= {"refused", "refusal_reason", "read_as", "sentences", "short_answer"}


def ask(client: TestClient, content: str, **body: object):  # noqa: ANN201 - httpx.Response
    return client.post(
        "/v1/chat/completions", json={"model": "rag-vi", "messages": [{"role": "user", "content": content}]} | body
    )


def test_models_lists_the_assistant(client: TestClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [{"id": "rag-vi", "object": "model", "created": 0, "owned_by": "rag-vi"}],
    }


def test_chat_completion_carries_the_checked_answer_and_the_record_fields(client: TestClient) -> None:
    response = ask(client, QUESTION)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "rag-vi"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": ANSWER, "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert set(body) - {"id", "object", "created", "model", "choices"} == RECORD_FIELDS
    assert (body["answer"], body["outcome"], body["refusal_reason"]) == (ANSWER, "answered", None)
    [citation] = body["citations"]
    assert {k: citation[k] for k in ("marker", "source", "text", "start", "end", "page", "location")} == {
        "marker": 1,
        "source": str(Path(client.app.state.service.settings.index).parent / "docs" / "ha-noi.txt"),
        "text": "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.",
        "start": 0,
        "end": 49,
        "page": None,
        "location": "",
    }
    assert [(s["text"], s["cited"], s["status"], s["supported_by"]) for s in body["sentences"]] == [
        ("Thủ đô của Việt Nam là Hà Nội.", [1], "supported", 1)
    ]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == 9  # words of the scripted reply, marker included


def test_same_record_as_rag_ask_json(client: TestClient) -> None:
    """One serializer: the API's extra fields are rag ask --json's, less its id."""
    from rag.answer.record import answer_record

    body = ask(client, QUESTION).json()
    answer = client.app.state.service.assistant().ask(QUESTION)
    record = answer_record(answer)
    for key in ("answer", "citations", "sentences", "outcome", "refusal_reason", "invalid_markers", "read_as"):
        assert body[key] == record[key], key
    assert [r["chunk_id"] for r in body["retrieved"]] == [r["chunk_id"] for r in record["retrieved"]]


def sse(response) -> list[dict | str]:  # noqa: ANN001 - httpx.Response
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_streaming_sends_openai_chunks_and_the_checked_answer_last(client: TestClient) -> None:
    body = {"model": "rag-vi", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == ANSWER
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert [c["marker"] for c in last["citations"]] == [1]
    assert (last["answer"], last["outcome"]) == (ANSWER, "answered")
    assert all("citations" not in c for c in chunks[:-1])


def test_streamed_text_ends_with_the_checked_answer_when_the_check_changes_it(
    client: TestClient, generator: KeyedGenerator
) -> None:
    generator._replies["Thủ đô"] = "Thủ đô của Việt Nam là Hà Nội"  # no marker: the check adds [1] and a stop
    body = {"model": "rag-vi", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        chunks = sse(response)[:-1]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["answer"] == "Thủ đô của Việt Nam là Hà Nội [1]."
    assert text == "Thủ đô của Việt Nam là Hà Nội [1]."


def test_follow_up_is_rewritten_with_the_conversation(client: TestClient, generator: KeyedGenerator) -> None:
    generator._replies = {
        "Câu hỏi tiếp theo": "Huế là cố đô của triều nào?",
        "cố đô": "Huế là cố đô của triều Nguyễn [1].",
    }
    messages = [
        {"role": "system", "content": "Bạn là trợ lý."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "Còn cố đô thì sao?"},
    ]
    body = client.post("/v1/chat/completions", json={"model": "rag-vi", "messages": messages}).json()
    condense = generator.prompts[0]
    assert QUESTION in condense[-1].content and "Còn cố đô thì sao?" in condense[-1].content
    assert body["question"] == "Huế là cố đô của triều nào?"
    assert body["choices"][0]["message"]["content"] == "Huế là cố đô của triều Nguyễn [1]."


def test_max_tokens_and_temperature_reach_the_model(client: TestClient, service: Service) -> None:
    seen = []
    real = service._generator.stream

    def spy(messages, *, max_tokens=384, temperature=0.0):  # noqa: ANN001, ANN202
        seen.append((max_tokens, temperature))
        return real(messages, max_tokens=max_tokens, temperature=temperature)

    service._generator.stream = spy
    assert ask(client, QUESTION, max_tokens=50, temperature=0.7).status_code == 200
    assert seen == [(50, 0.7)]


def test_embeddings_are_the_embedders_vectors(client: TestClient) -> None:
    embedder = HashEmbedder()
    body = client.post("/v1/embeddings", json={"input": ["Hà Nội", "Huế"]}).json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(got, embedder.embed_passages(["Hà Nội", "Huế"]), rtol=1e-6)
    assert body["model"] == "hash-embedder"
    one = client.post("/v1/embeddings", json={"input": "Hà Nội", "encoding_format": "base64", "input_type": "query"})
    vector = np.frombuffer(base64.b64decode(one.json()["data"][0]["embedding"]), dtype=np.float32)
    np.testing.assert_array_equal(vector, embedder.embed_query("Hà Nội"))


def test_retrieve_returns_ranked_passages_with_scores(client: TestClient) -> None:
    body = client.post("/v1/retrieve", json={"query": "cầu Rồng sông Hàn", "k": 2}).json()
    assert [p["rank"] for p in body["data"]] == [1, 2]
    assert body["data"][0]["source"].endswith("da-nang.txt")
    assert body["data"][0]["score"] >= body["data"][1]["score"]
    assert set(body["data"][0]) == {
        "rank",
        "source",
        "title",
        "chunk_id",
        "text",
        "start",
        "end",
        "page",
        "page_end",
        "location",
        "score",
    }


def test_uploaded_document_is_answerable_at_once_then_deleted(client: TestClient) -> None:
    text = "Lý Thái Tổ\nNăm 1010, Lý Thái Tổ dời đô từ Hoa Lư về Thăng Long.\n".encode()
    response = client.post("/v1/documents", files={"file": ("ly-thai-to.txt", text, "text/plain")})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert (doc["object"], doc["filename"], doc["title"], doc["chunks"], doc["bytes"]) == (
        "document",
        "ly-thai-to.txt",
        "Lý Thái Tổ",
        1,
        len(text),
    )
    assert doc["id"] == document_id(doc["source"])
    listed = client.get("/v1/documents").json()["data"]
    assert sorted(d["filename"] for d in listed) == ["da-nang.txt", "ha-noi.txt", "hue.txt", "ly-thai-to.txt"]
    body = ask(client, "Lý Thái Tổ dời đô về đâu?").json()
    assert body["choices"][0]["message"]["content"] == "Lý Thái Tổ dời đô về Thăng Long năm 1010 [1]."
    assert body["citations"][0]["source"] == doc["source"]
    deleted = client.delete(f"/v1/documents/{doc['id']}")
    assert deleted.json() == {"id": doc["id"], "object": "document", "deleted": True}
    assert "ly-thai-to.txt" not in [d["filename"] for d in client.get("/v1/documents").json()["data"]]
    gone = client.delete(f"/v1/documents/{doc['id']}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "document_not_found")


def error_of(response) -> tuple[int, str, str]:  # noqa: ANN001
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return response.status_code, error["type"], error["code"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"model": "rag-vi", "messages": [{"role": "user", "content": "   "}]}, (400, "empty_question")),
        ({"model": "rag-vi", "messages": [{"role": "user", "content": "á" * 2001}]}, (400, "question_too_long")),
        ({"model": "rag-vi", "messages": [{"role": "system", "content": "Xin chào"}]}, (400, "no_user_message")),
        ({"model": "rag-vi", "messages": []}, (400, "no_user_message")),
        ({"model": "rag-vi"}, (400, "invalid_request")),
        (
            {"model": "rag-vi", "messages": [{"role": "user", "content": "Hà Nội?"}], "max_tokens": 0},
            (400, "invalid_request"),
        ),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hà Nội?"}]}, (404, "model_not_found")),
    ],
)
def test_bad_chat_requests_get_openai_errors(client: TestClient, body: dict, expected: tuple[int, str]) -> None:
    status, kind, code = error_of(client.post("/v1/chat/completions", json=body))
    assert (status, code) == expected
    assert kind == "invalid_request_error"
    assert ask(client, QUESTION).status_code == 200  # the server keeps serving


def test_invalid_json_and_unknown_routes(client: TestClient) -> None:
    bad = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert error_of(bad)[::2] == (400, "invalid_request")
    assert error_of(client.get("/v1/nothing-here"))[::2] == (404, "not_found")
    assert error_of(client.post("/v1/embeddings", json={"input": ""}))[::2] == (400, "empty_input")
    assert error_of(client.post("/v1/retrieve", json={"query": "Huế", "k": 0}))[::2] == (400, "invalid_request")


def test_embedding_inputs_are_checked_before_the_model_is_asked() -> None:
    from rag.server.errors import ApiError
    from rag.server.routes import MAX_EMBEDDING_INPUTS, embedding_texts
    from rag.server.wire import EmbeddingsRequest

    assert embedding_texts(EmbeddingsRequest(input="Hà Nội")) == ["Hà Nội"]
    assert embedding_texts(EmbeddingsRequest(input=["Huế", "Đà Nẵng"])) == ["Huế", "Đà Nẵng"]
    for bad, code in (([], "empty_input"), (["Huế", "  "], "empty_input"), (["x"] * 2049, "too_many_inputs")):
        with pytest.raises(ApiError) as raised:
            embedding_texts(EmbeddingsRequest(input=bad))
        assert (raised.value.status, raised.value.code) == (400, code)
    assert str(raised.value) == f"input has 2049 strings, the limit is {MAX_EMBEDDING_INPUTS}"


def test_upload_over_the_limit_is_413_and_keeps_nothing(tmp_path: Path, service: Service) -> None:
    service.settings = service.settings.replace(max_upload_mb=1)
    client = TestClient(create_app(service))
    big = b"a" * (2 * 2**20)
    status, _, code = error_of(client.post("/v1/documents", files={"file": ("big.txt", big, "text/plain")}))
    assert (status, code) == (413, "file_too_large")
    assert not (service.settings.uploads / "big.txt").exists()
    assert len(client.get("/v1/documents").json()["data"]) == 3


def test_unreadable_upload_is_400(client: TestClient) -> None:
    response = client.post("/v1/documents", files={"file": ("scan.pdf", b"%PDF-1.4 not really", "application/pdf")})
    assert error_of(response)[::2] == (400, "unreadable_file")
    assert "scan.pdf" in response.json()["error"]["message"]
    service = client.app.state.service
    assert not (service.settings.uploads / "scan.pdf").exists()  # nothing kept of a file that could not be read
    assert len(client.get("/v1/documents").json()["data"]) == 3
    missing = client.post("/v1/documents", files={"other": ("a.txt", b"x", "text/plain")})
    assert error_of(missing)[::2] == (400, "invalid_request")


def test_api_key_is_required_on_every_v1_route(service: Service) -> None:
    client = TestClient(create_app(service, api_key="bi-mat-42"))
    routes = [("get", "/v1/models"), ("post", "/v1/chat/completions"), ("get", "/v1/documents")]
    for method, path in [*routes, ("post", "/v1/summaries")]:
        assert error_of(getattr(client, method)(path))[:2] == (401, "authentication_error")
    wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert error_of(wrong) == (401, "authentication_error", "invalid_api_key")
    assert client.get("/v1/models", headers={"Authorization": "Bearer bi-mat-42"}).status_code == 200


def test_beyond_loopback_without_a_key_refuses_to_start() -> None:
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.168.1.5")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(ConfigError, match="RAG_API_KEY"):
        check_exposure("0.0.0.0", "")
    check_exposure("0.0.0.0", "k")
    check_exposure("127.0.0.1", "")


def test_503_while_the_models_load(settings, generator: KeyedGenerator) -> None:  # noqa: ANN001
    service = Service(settings, embedder=HashEmbedder(), generator=generator)  # load() not run yet
    client = TestClient(create_app(service))
    assert error_of(ask(client, QUESTION)) == (503, "service_unavailable_error", "model_loading")
    assert error_of(client.post("/v1/embeddings", json={"input": "Huế"}))[0] == 503
    assert client.get("/v1/models").status_code == 200
    service.load()
    assert ask(client, QUESTION).status_code == 200


def test_no_index_yet_is_404_and_an_upload_creates_it(tmp_path: Path, generator: KeyedGenerator) -> None:
    service = Service(make_settings(tmp_path), embedder=HashEmbedder(), generator=generator)
    service.load()
    client = TestClient(create_app(service))
    assert error_of(ask(client, QUESTION))[::2] == (404, "index_not_found")
    assert client.get("/v1/documents").json() == {"object": "list", "data": []}
    upload = client.post("/v1/documents", files={"file": ("ha-noi.txt", "Hà Nội là thủ đô của Việt Nam.".encode())})
    assert upload.status_code == 200
    assert ask(client, QUESTION).json()["choices"][0]["message"]["content"] == "Thủ đô của Việt Nam là Hà Nội [1]."


def test_concurrent_requests_each_get_their_own_answer(client: TestClient) -> None:
    questions = {
        QUESTION: ANSWER,
        "Huế là cố đô của triều nào?": "Huế là cố đô của triều Nguyễn [1].",
        "Đà Nẵng có cầu Rồng không?": "Đà Nẵng có cầu Rồng bắc qua sông Hàn [1].",
    }
    work = [q for q in questions for _ in range(4)]

    def one(question: str) -> tuple[str, str, str]:
        body = ask(client, question).json()
        return question, body["choices"][0]["message"]["content"], body["citations"][0]["source"]

    alone = {q: one(q) for q in questions}  # the oracle: each question asked on its own
    assert {q: text for q, (_, text, _) in alone.items()} == questions
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, work))
    assert results == [alone[q] for q in work]
    sources = {q: Path(s).name for q, _, s in results}
    assert sources == {
        QUESTION: "ha-noi.txt",
        "Huế là cố đô của triều nào?": "hue.txt",
        "Đà Nẵng có cầu Rồng không?": "da-nang.txt",
    }


def test_llm_server_down_is_502_naming_the_url(tmp_path: Path) -> None:
    from rag.answer.openai_generator import OpenAIGenerator
    from tests.serving import free_port, loaded_service

    url = f"http://127.0.0.1:{free_port()}/v1"
    service = loaded_service(tmp_path, OpenAIGenerator(url, timeout=5))  # loads: the LLM server may come later
    client = TestClient(create_app(service))
    status, kind, code = error_of(ask(client, QUESTION))
    assert (status, kind, code) == (502, "server_error", "llm_server_error")
    assert ask(client, QUESTION).json()["error"]["message"].startswith(f"LLM server {url}/models: cannot connect")
    assert client.post("/v1/retrieve", json={"query": "Huế", "k": 1}).status_code == 200  # retrieval needs no LLM
    streamed = ask(client, QUESTION, stream=True)  # the failure comes mid-stream: an error event, then [DONE]
    events = [line[len("data: ") :] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert json.loads(events[1])["error"]["code"] == "llm_server_error"
    assert events[2:] == ["[DONE]"]


def summarize(client: TestClient, **body: object):  # noqa: ANN201 - httpx.Response
    return client.post("/v1/summaries", json=body)


def test_a_documents_summary_by_its_id_or_file_name_is_cited_and_checked(client: TestClient) -> None:
    doc = next(d for d in client.get("/v1/documents").json()["data"] if d["filename"] == "ha-noi.txt")
    body = summarize(client, document=doc["id"]).json()
    assert (body["object"], body["document"], body["id"][:4]) == ("summary", doc["id"], "sum-")
    assert body["answer"] == "Hà Nội là thủ đô của Việt Nam từ năm 1976 [1]."
    assert [(c["marker"], c["source"]) for c in body["citations"]] == [(1, doc["source"])]
    assert [(s["status"], s["supported_by"], s["span"]) for s in body["sentences"]] == [("supported", 1, [7, 49])]
    assert set(body) - {"id", "object", "created", "document"} == RECORD_FIELDS  # as `rag summarize --json`
    again = summarize(client, document="ha-noi.txt").json()
    assert (again["document"], again["answer"]) == (doc["id"], body["answer"])


def test_a_topic_summary_cites_each_fact_to_its_own_document(client: TestClient) -> None:
    body = summarize(client, topic="sông").json()
    assert body["document"] is None
    sources = {c["marker"]: c["source"].rsplit("/", 1)[-1] for c in body["citations"]}
    cited = {s["text"]: sources[s["supported_by"]] for s in body["sentences"]}
    assert cited == {
        "Đà Nẵng có cầu Rồng bắc qua sông Hàn.": "da-nang.txt",
        "Huế là cố đô của triều Nguyễn, bên bờ sông Hương.": "hue.txt",
    }  # Hà Nội's sentence names no river: off topic


def test_a_summary_keeps_to_the_sentences_asked_for(client: TestClient) -> None:
    text = (
        "Hợp tác xã Hoa Sen\n\nHợp tác xã Hoa Sen được thành lập năm 2019 tại xã Tân Phú với 57 thành viên. "
        "Năm 2023, hợp tác xã trồng 120 héc-ta lúa hữu cơ và xuất khẩu lô gạo đầu tiên sang Nhật Bản.\n"
    ).encode()
    doc = client.post("/v1/documents", files={"file": ("hoa-sen.txt", text, "text/plain")}).json()
    assert len(summarize(client, document=doc["id"]).json()["sentences"]) == 2
    [only] = summarize(client, document=doc["id"], sentences=1).json()["sentences"]
    assert only["text"] == "Hợp tác xã Hoa Sen được thành lập năm 2019 tại xã Tân Phú với 57 thành viên."


def test_a_streamed_summary_sends_its_sentences_then_the_whole_summary(client: TestClient) -> None:
    response = summarize(client, document="hue.txt", stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    *chunks, whole = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"summary.chunk"}
    assert (
        "".join(c["delta"] for c in chunks)
        == whole["answer"]
        == "Huế là cố đô của triều Nguyễn, bên bờ sông Hương [1]."
    )
    assert whole["object"] == "summary" and whole["citations"][0]["source"].endswith("hue.txt")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, "nothing_to_summarize")),
        ({"topic": "   "}, (400, "nothing_to_summarize")),
        ({"document": "khong-co.txt"}, (404, "document_not_found")),
        ({"document": "hue.txt", "sentences": 0}, (400, "invalid_request")),
        ({"document": "hue.txt", "sentences": 41}, (400, "invalid_request")),
        ({"topic": "á" * 2001}, (400, "question_too_long")),
    ],
)
def test_bad_summary_requests_get_openai_errors(client: TestClient, body: dict, expected: tuple[int, str]) -> None:
    response = summarize(client, **body)
    assert error_of(response)[::2] == expected
    if expected[1] == "document_not_found":
        assert "GET /v1/documents lists them" in response.json()["error"]["message"]
    assert summarize(client, document="hue.txt").status_code == 200  # the server keeps serving
