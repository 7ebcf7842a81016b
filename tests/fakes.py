"""Deterministic stand-ins that really behave, for the fast test tier."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.answer.completion import LENGTH, STOP, CallState, Completion, exclusive
from rag.errors import ModelLoadError
from rag.index.faiss.store import IndexStore
from rag.retrieval.retriever import DenseRetriever
from rag.text.chunking import ChunkSettings, chunk_document, passage_text
from rag.text.vietnamese import nfc
from rag.types import Document, Message, Usage

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Bag of words hashed into a fixed space (sha256-seeded), L2-normalised.

    A query sharing words with a chunk retrieves it; tokens are whitespace words.
    """

    def __init__(self, dim: int = 64, model_id: str = "hash-embedder") -> None:
        self._dim = dim
        self._model_id = model_id
        self.passage_calls = 0
        self.passages_embedded = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for word in _WORD.findall(nfc(text).lower()):
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            v += np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls += 1
        self.passages_embedded += len(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class ScriptedGenerator:
    """Replays scripted replies piece by piece and records the prompts it received.

    A reply's tokens are its words: usage counts them, and a reply of max_tokens words or more
    is cut there with finish_reason "length", as a real model stops at its token limit. With
    n_ctx, a prompt of n_ctx words or more is refused as LlamaCppGenerator refuses it.
    """

    def __init__(self, replies: Sequence[str], *, piece_chars: int = 3, n_ctx: int | None = None) -> None:
        self._replies = list(replies)
        self._piece_chars = piece_chars
        self._n_ctx = n_ctx
        self.prompts: list[list[Message]] = []
        self.completions: list[Completion] = []

    @property
    def model_id(self) -> str:
        return "scripted"

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 384, temperature: float = 0.0) -> Completion:
        self.prompts.append(list(messages))
        prompt_tokens = self.count_prompt_tokens(messages)
        if self._n_ctx is not None and prompt_tokens >= self._n_ctx:
            return Completion(_refusal(prompt_tokens, self._n_ctx))
        reply = self._replies.pop(0)
        words = reply.split()
        if len(words) >= max_tokens:
            reply = reply[: _word_end(reply, max_tokens)]

        def pieces(state: CallState) -> Iterator[str]:
            for i in range(0, len(reply), self._piece_chars):
                piece = reply[i : i + self._piece_chars]
                state.usage = Usage(prompt_tokens, len(reply[: i + len(piece)].split()))
                yield piece
            state.usage = Usage(prompt_tokens, len(reply.split()))
            state.finish_reason = LENGTH if len(words) >= max_tokens else STOP

        completion = Completion(pieces)
        self.completions.append(completion)
        return completion


def _refusal(prompt_tokens: int, n_ctx: int):  # noqa: ANN202 - a Completion's produce function
    def refuse(state: CallState) -> Iterator[str]:
        raise ModelLoadError(f"prompt of {prompt_tokens} tokens fills the context of {n_ctx}: lower k or raise n_ctx")
        yield ""  # a generator, raising on first read like the real model

    return refuse


def _word_end(text: str, n: int) -> int:
    """Where the n-th whitespace word of text ends."""
    return [m.end() for m in _WORD_RUN.finditer(text)][n - 1]


_WORD_RUN = re.compile(r"\S+")


class ThreadedGenerator:
    """One shared model that generates one reply at a time, like LlamaCppGenerator: exclusive() and a lock.

    replies maps a phrase of the question (found in the prompt) to the reply; each word is one
    token, produced after `delay` seconds. Records what was produced per call and whether two
    calls ever generated at once.
    """

    def __init__(self, replies: dict[str, str], *, delay: float = 0.002) -> None:
        import threading

        self._replies = dict(replies)
        self._delay = delay
        self.lock = threading.Lock()
        self._busy = 0
        self.overlapped = False
        self.produced: list[int] = []  # tokens produced by each call that started, in start order
        self.usage_of: dict[str, Usage] = {}  # reply -> the usage its call reported

    @property
    def model_id(self) -> str:
        return "threaded"

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages)

    def reply_for(self, messages: Sequence[Message]) -> str:
        prompt = messages[-1].content
        found = [reply for phrase, reply in self._replies.items() if phrase in prompt]
        assert len(found) == 1, f"no single scripted reply for {prompt[-120:]!r}"
        return found[0]

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 384, temperature: float = 0.0) -> Completion:
        import time

        words = self.reply_for(messages).split(" ")
        prompt_tokens = self.count_prompt_tokens(messages)

        def produce(state: CallState) -> Iterator[str]:
            self._busy += 1
            self.overlapped |= self._busy > 1
            call = len(self.produced)
            self.produced.append(0)
            try:
                for n, word in enumerate(words[:max_tokens], start=1):
                    if state.stopped.is_set():
                        return
                    time.sleep(self._delay)
                    self.produced[call] = n
                    state.usage = Usage(prompt_tokens, n)
                    yield word if n == 1 else " " + word
                state.finish_reason = LENGTH if len(words) >= max_tokens else STOP
                self.usage_of[" ".join(words)] = state.usage
            finally:
                self._busy -= 1

        return exclusive(self.lock, produce)


class CliFakes:
    """Fake models behind rag.setup.wiring for CLI tests: the replies the next generator gives, and
    the generators built so far."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.generators: list[ScriptedGenerator] = []


def fake_cli_environment(tmp_path, monkeypatch) -> CliFakes:  # noqa: ANN001 - pytest's Path and MonkeyPatch
    """A clean environment in tmp_path (no RAG_* settings, cwd there) with fake models in rag.setup.wiring."""
    import os

    import rag.setup.wiring

    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    # main() sets these process-wide; registering them here makes monkeypatch restore them afterwards
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    state = CliFakes()

    def build_generator(settings):  # noqa: ANN001, ANN202
        generator = ScriptedGenerator(list(state.replies))
        state.generators.append(generator)
        return generator

    monkeypatch.setattr(rag.setup.wiring, "build_embedder", lambda settings: HashEmbedder())
    monkeypatch.setattr(rag.setup.wiring, "build_generator", build_generator)
    return state


def run_cli(*argv: str) -> tuple[int, str, str]:
    """rag.cli.main.main with captured output: (exit code, stdout, stderr)."""
    import io

    from rag.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def dense_retriever(docs: Sequence[Document], folder: Path) -> DenseRetriever:
    """An in-memory index of docs (default chunking, HashEmbedder) behind a DenseRetriever."""
    embedder = HashEmbedder()
    store = IndexStore(folder, model_id=embedder.model_id, dim=embedder.dim, chunking={})
    for doc in docs:
        chunks = chunk_document(doc, count_tokens=embedder.count_tokens, settings=ChunkSettings())
        store.add(doc, chunks, embedder.embed_passages([passage_text(c) for c in chunks]))
    return DenseRetriever(store, embedder)


def make_assistant(retriever, generator, builder, **options):  # noqa: ANN001, ANN201 - test wiring
    """An Assistant from loose options: AnswerSettings fields go into its settings (whole passages, no prompt
    budget, every passage shown and the model's phrase kept as written unless given, as the fast tests were
    written), the rest
    (grounding, spell) as they are."""
    from dataclasses import fields

    from rag.answer.assistant import Assistant
    from rag.answer.settings import AnswerSettings

    names = {f.name for f in fields(AnswerSettings)}
    answer = {"prompt_chars": 0, "prompt_passages": 0, "answer_prompt_tokens": None, "answer_form": "phrase"} | {
        k: v for k, v in options.items() if k in names
    }
    rest = {k: v for k, v in options.items() if k not in names}
    return Assistant(retriever, generator, builder, settings=AnswerSettings(**answer), **rest)
