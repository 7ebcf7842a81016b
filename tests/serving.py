"""Helpers for tests of rag serve and of LLM servers: a keyed generator, a live uvicorn, a small index."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer.completion import STOP, CallState, Completion
from rag.server.service import Service
from rag.setup import wiring
from rag.setup.config import Settings
from rag.types import Message, Usage
from tests.fakes import HashEmbedder

FILES = {
    "ha-noi.txt": "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.\n",
    "hue.txt": "Huế\nHuế là cố đô của triều Nguyễn, bên bờ sông Hương.\n",
    "da-nang.txt": "Đà Nẵng\nĐà Nẵng có cầu Rồng bắc qua sông Hàn.\n",
}
QUESTION = "Thủ đô của Việt Nam là thành phố nào?"
ANSWER = "Thủ đô của Việt Nam là Hà Nội [1]."


class KeyedGenerator:
    """Answers by the first key found in the question of the last prompt message; records every prompt.

    Safe to share between threads (no state per call but the recorded prompts): the answer of a
    request depends only on its own prompt, so concurrent requests can be told apart.
    """

    def __init__(self, replies: dict[str, str], *, default: str = "Tôi không biết.", piece_chars: int = 4) -> None:
        self._replies = replies
        self._default = default
        self._piece_chars = piece_chars
        self.prompts: list[list[Message]] = []

    @property
    def model_id(self) -> str:
        return "keyed"

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages)

    def reply_to(self, messages: Sequence[Message]) -> str:
        """Keyed on the question line of the prompt (answer or follow-up rewrite), not on the passages."""
        lines = [ln for ln in messages[-1].content.splitlines() if ln.startswith(("Câu hỏi:", "Câu hỏi tiếp theo:"))]
        text = lines[-1] if lines else messages[-1].content
        return next((reply for key, reply in self._replies.items() if key in text), self._default)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 384, temperature: float = 0.0) -> Completion:
        self.prompts.append(list(messages))
        reply = self.reply_to(messages)

        def pieces(state: CallState) -> Iterator[str]:
            state.usage = Usage(self.count_prompt_tokens(messages), len(reply.split()))
            for i in range(0, len(reply), self._piece_chars):
                time.sleep(0.001)  # lets concurrent requests interleave
                yield reply[i : i + self._piece_chars]
            state.finish_reason = STOP

        return Completion(pieces)


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def make_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(
        index=tmp_path / "idx",
        corpus=tmp_path / "no-corpus",
        uploads=tmp_path / "uploads",
        cache_dir=tmp_path / "cache",
        answerability_threshold=0.0,
    ).replace(**changes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served by a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def keyed_generator() -> KeyedGenerator:
    return KeyedGenerator(
        {
            "Thủ đô": ANSWER,
            "cố đô": "Huế là cố đô của triều Nguyễn [1].",
            "cầu Rồng": "Đà Nẵng có cầu Rồng bắc qua sông Hàn [1].",
            "Lý Thái Tổ": "Lý Thái Tổ dời đô về Thăng Long năm 1010 [1].",
        }
    )


def loaded_service(tmp_path: Path, generator: object) -> Service:
    """A loaded Service over the three documents of FILES, with the hashing embedder."""
    settings = make_settings(tmp_path)
    wiring.run_ingest(settings, [write_docs(tmp_path / "docs")], embedder=HashEmbedder())
    service = Service(settings, embedder=HashEmbedder(), generator=generator)
    service.load()
    return service
