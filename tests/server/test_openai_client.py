"""rag serve through the official `openai` package, over a real uvicorn on loopback."""

from __future__ import annotations

import openai
import pytest

from rag.server.app import create_app
from rag.server.service import Service
from tests.serving import ANSWER, QUESTION, LiveServer

KEY = "test-key-123"


@pytest.fixture(params=["", KEY], ids=["no-key", "key"])
def live(request: pytest.FixtureRequest, service: Service):  # noqa: ANN201
    with LiveServer(create_app(service, api_key=request.param)) as server:
        yield server, request.param


def client_for(live: tuple[LiveServer, str]) -> openai.OpenAI:
    server, key = live
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key or "unused", max_retries=0)


def test_models_and_chat_completion(live: tuple[LiveServer, str]) -> None:
    client = client_for(live)
    assert [m.id for m in client.models.list()] == ["rag-vi"]
    completion = client.chat.completions.create(model="rag-vi", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra
    assert [c["marker"] for c in extra["citations"]] == [1]
    assert extra["citations"][0]["source"].endswith("ha-noi.txt")
    assert (extra["refusal_reason"], extra["outcome"]) == (None, "answered")
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streaming(live: tuple[LiveServer, str]) -> None:
    client = client_for(live)
    stream = client.chat.completions.create(
        model="rag-vi", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == ANSWER
    last = chunks[-1].model_extra
    assert (last["answer"], [c["marker"] for c in last["citations"]]) == (ANSWER, [1])
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_embeddings_through_the_client(live: tuple[LiveServer, str]) -> None:
    from tests.fakes import HashEmbedder

    result = client_for(live).embeddings.create(model="rag-vi", input=["Hà Nội", "Huế"])  # the client asks for base64
    expected = HashEmbedder().embed_passages(["Hà Nội", "Huế"])
    assert [round(x, 5) for x in result.data[1].embedding[:4]] == [round(float(x), 5) for x in expected[1][:4]]
    assert len(result.data[0].embedding) == 64


def test_wrong_key_and_bad_request_raise_the_clients_errors(live: tuple[LiveServer, str]) -> None:
    server, key = live
    if key:
        wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            wrong.models.list()
        assert caught.value.status_code == 401
        assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(live).chat.completions.create(model="rag-vi", messages=[{"role": "user", "content": " "}])
    assert (caught.value.status_code, caught.value.code) == (400, "empty_question")


class OneAtATime:
    """Holds a lock while it generates, as the in-process model does, and streams slowly."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - a KeyedGenerator
        import threading

        self._inner = inner
        self._lock = threading.Lock()
        self.model_id = "one-at-a-time"

    def count_prompt_tokens(self, messages) -> int:  # noqa: ANN001
        return self._inner.count_prompt_tokens(messages)

    def stream(self, messages, *, max_tokens=384, temperature=0.0):  # noqa: ANN001, ANN201
        import time

        from rag.answer.completion import exclusive

        inner = self._inner

        def produce(state):  # noqa: ANN001, ANN202
            completion = inner.stream(messages, max_tokens=max_tokens, temperature=temperature)
            for piece in completion:
                time.sleep(0.05)
                state.usage = completion.usage
                if state.stopped.is_set():
                    return
                yield piece
            state.finish_reason = completion.finish_reason

        return exclusive(self._lock, produce)


def test_a_client_that_hangs_up_mid_stream_releases_the_model(tmp_path) -> None:  # noqa: ANN001
    import httpx

    from tests.serving import keyed_generator, loaded_service

    service = loaded_service(tmp_path, OneAtATime(keyed_generator()))
    with LiveServer(create_app(service)) as server:
        body = {"model": "rag-vi", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=10) as response:
            for line in response.iter_lines():
                if '"content": "Thủ' in line:
                    break  # hang up after the first piece
        reply = httpx.post(f"{server.url}/v1/chat/completions", json=body | {"stream": False}, timeout=10)
        assert reply.json()["choices"][0]["message"]["content"] == ANSWER
