"""OpenAIGenerator against real loopback servers: our own rag serve as the LLM, and servers that fail."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import rag.setup.wiring
from rag.answer.openai_generator import OpenAIGenerator, _read_events
from rag.errors import ConfigError, LlmServerError
from rag.server.app import create_app
from rag.types import Message, Usage
from tests.fakes import fake_cli_environment, run_cli
from tests.serving import ANSWER, QUESTION, LiveServer, free_port, keyed_generator, loaded_service

MESSAGES = [Message("system", "Trả lời bằng tiếng Việt."), Message("user", f"Câu hỏi: {QUESTION}")]


@pytest.fixture
def rag_serve(tmp_path: Path) -> Iterator[str]:
    """Our own OpenAI-compatible server (over the fake models) as the LLM."""
    with LiveServer(create_app(loaded_service(tmp_path, keyed_generator()), api_key="k")) as server:
        yield f"{server.url}/v1"


def test_streams_from_an_openai_compatible_server(rag_serve: str) -> None:
    llm = OpenAIGenerator(rag_serve, api_key="k", timeout=10)
    assert llm.model_id == "rag-vi"  # the server's first model
    pieces = list(llm.stream(MESSAGES, max_tokens=64))
    assert "".join(pieces) == ANSWER
    assert len(pieces) > 1  # streamed, not one block
    assert llm.info().flavour == "other"
    assert llm.info().language_guard.startswith("stop at the first CJK character and retry")


def test_usage_is_per_call(rag_serve: str) -> None:
    llm = OpenAIGenerator(rag_serve, api_key="k", timeout=10)
    items = list(llm.complete(MESSAGES, max_tokens=64))
    assert isinstance(items[-1], Usage)
    assert "".join(i for i in items if isinstance(i, str)) == ANSWER
    assert items[-1].completion_tokens == 9  # the fake model's words, as rag serve reports them
    assert not hasattr(llm, "last_usage")  # usage belongs to the call, never to the shared instance


def test_prompt_size_is_estimated_without_a_tokenize_endpoint(rag_serve: str) -> None:
    llm = OpenAIGenerator(rag_serve, api_key="k", timeout=10)
    # (3 + 5 per message) + characters / 2.5, rounded up per message
    assert llm.count_prompt_tokens(MESSAGES) == 3 + (5 + 10) + (5 + 19)  # 24 and 46 characters


def test_wrong_key_is_one_clear_line(rag_serve: str) -> None:
    with pytest.raises(LlmServerError, match=r"^LLM server http://127\.0\.0\.1:\d+/v1/models refused the API key"):
        OpenAIGenerator(rag_serve, api_key="wrong", timeout=10).info()


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LlmServerError) as caught:
        list(OpenAIGenerator(url, timeout=5).stream(MESSAGES))
    assert str(caught.value).startswith(f"LLM server {url}/models: cannot connect")
    assert str(caught.value).endswith("start it or fix llm_url")


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="give the server's base URL"):
        OpenAIGenerator("127.0.0.1:8080")


class Scripted(BaseHTTPRequestHandler):
    """A server that lists one model and answers chat completions as told (status, body)."""

    status = 200
    body = b""
    drops = 0  # chat requests answered by closing the connection without a response (a dropped keep-alive)
    chats = 0

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._send(200, json.dumps({"object": "list", "data": [{"id": "m1", "object": "model"}]}).encode())

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/chat/completions"):
            type(self).chats += 1
            if type(self).drops > 0:
                type(self).drops -= 1
                self.close_connection = True
                return
            self._send(self.status, self.body, "text/event-stream" if self.status == 200 else "application/json")
        else:
            self._send(404, b'{"error": "not found"}')


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[Scripted]]]:
    handler = type("Handler", (Scripted,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def test_a_500_is_one_line_with_the_servers_message(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.status, handler.body = 500, b'{"error": {"message": "CUDA out of memory", "type": "server_error"}}'
    with pytest.raises(LlmServerError) as caught:
        list(OpenAIGenerator(url, timeout=5).stream(MESSAGES))
    assert str(caught.value) == f"LLM server {url}/chat/completions answered HTTP 500: CUDA out of memory"


def test_a_server_that_returns_nothing(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.status, handler.body = 200, b""
    with pytest.raises(LlmServerError) as caught:
        list(OpenAIGenerator(url, timeout=5).stream(MESSAGES))
    assert str(caught.value) == (
        f"LLM server {url}/chat/completions ended the reply without any completion event, as servers do for a "
        "prompt over their context size: lower k or prompt_chars, or start the server with a larger n_ctx"
    )


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        with pytest.raises(LlmServerError) as caught:
            OpenAIGenerator(url, timeout=0.3).info()
    assert str(caught.value) == f"LLM server {url}/models: no answer within 0.3 s; raise llm_timeout or check it"


def test_sse_parsing_counts_tokens_without_usage() -> None:
    lines = [
        'data: {"choices": [{"delta": {"role": "assistant"}}]}',
        "",
        'data: {"choices": [{"delta": {"content": "Hà"}}]}',
        'data: {"choices": [{"delta": {"content": " Nội"}, "finish_reason": "length"}]}',
        "data: [DONE]",
    ]
    assert list(_read_events("u", iter(lines), max_tokens=7)) == ["Hà", " Nội", Usage(0, 7)]  # cut at the limit
    assert list(_read_events("u", iter(lines[:3] + lines[4:]), max_tokens=7)) == ["Hà", Usage(0, -1)]  # unknown
    with pytest.raises(LlmServerError, match="failed while answering: slot busy"):
        list(_read_events("u", iter(['data: {"error": {"message": "slot busy"}}']), max_tokens=7))


def test_rag_ask_with_an_unreachable_llm_url_prints_one_line(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    real_build_generator = rag.setup.wiring.build_generator
    fake_cli_environment(tmp_path, monkeypatch)
    monkeypatch.setattr(rag.setup.wiring, "build_generator", real_build_generator)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ha-noi.txt").write_text("Hà Nội là thủ đô của Việt Nam từ năm 1976.\n", encoding="utf-8")
    assert run_cli("ingest", "docs", "--index", "idx")[0] == 0
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, out, err = run_cli("ask", QUESTION, "--index", "idx", "--llm-url", url)
    assert (code, out) == (1, "")
    assert err.startswith(f"rag: error: LLM server {url}/models: cannot connect")
    assert err.count("\n") == 1 and "Traceback" not in err


SSE = (
    'data: {"choices": [{"delta": {"content": "Hà Nội"}, "finish_reason": null}]}\n\n'
    'data: {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}'
    "\n\ndata: [DONE]\n\n"
).encode()


def test_a_dropped_connection_before_any_response_is_sent_again_once(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.body, handler.drops = SSE, 1
    reply = OpenAIGenerator(url, timeout=5).stream(MESSAGES)
    assert (reply.text(), reply.usage, handler.chats) == ("Hà Nội", Usage(9, 2), 2)


def test_a_connection_dropped_twice_is_one_line_naming_the_url(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.body, handler.drops = SSE, 2
    with pytest.raises(LlmServerError) as caught:
        OpenAIGenerator(url, timeout=5).stream(MESSAGES).text()
    failed = f"LLM server {url}/chat/completions: the connection failed (RemoteProtocolError"
    assert str(caught.value).startswith(failed)
    assert handler.chats == 2


def test_a_grammar_for_a_server_that_is_not_llama_cpp_is_a_config_error_naming_the_fix(rag_serve: str) -> None:
    llm = OpenAIGenerator(rag_serve, api_key="k", timeout=10)
    with pytest.raises(ConfigError, match=r"takes no GBNF grammar, so copy_span needs .* \(or set copy_span = off\)"):
        llm.stream(MESSAGES, max_tokens=8, grammar='root ::= "Hà Nội [1]."').text()
    assert llm.stream(MESSAGES, max_tokens=64).text() == ANSWER  # and without one it answers as before
    assert llm.accepts_grammar() is False  # so quote_first decodes its reply freely there (rag.answer.quoting)
