"""Builds the chat prompt: loads prompts/*, numbers the passages, fits a token budget."""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.types import Hit, Message

TEMPLATE_FILES = ("answer_system.txt", "answer_user.txt", "passage.txt")


@dataclass(frozen=True)
class PromptTemplates:
    system: string.Template
    user: string.Template
    passage: string.Template

    @classmethod
    def load(cls, folder: Path) -> PromptTemplates:
        folder = Path(folder)
        texts = []
        for name in TEMPLATE_FILES:
            path = folder / name
            if not path.is_file():
                raise ConfigError(f"prompt template {path} is missing: restore prompts/ or set RAG_PROMPTS_DIR")
            texts.append(string.Template(path.read_text(encoding="utf-8").strip()))
        return cls(*texts)


@dataclass(frozen=True)
class Prompt:
    messages: list[Message]
    hits: list[Hit]  # the passages in the prompt; hits[i] is marker [i + 1]
    prompt_tokens: int


class PromptBuilder:
    """Numbers passages [1]..[n] and drops the weakest ones until the prompt fits."""

    def __init__(self, templates: PromptTemplates, *, max_prompt_tokens: int) -> None:
        self._t = templates
        self._max_prompt_tokens = max_prompt_tokens

    def build(self, question: str, hits: Sequence[Hit], count_tokens: Callable[[list[Message]], int]) -> Prompt:
        kept = list(hits)
        while True:
            messages = self._messages(question, kept)
            n = count_tokens(messages)
            if n <= self._max_prompt_tokens or not kept:
                return Prompt(messages, kept, n)
            kept.pop()  # hits are best-first: drop the weakest

    def _messages(self, question: str, hits: Sequence[Hit]) -> list[Message]:
        passages = "\n\n".join(
            self._t.passage.substitute(number=i, title=hit.chunk.title, text=hit.chunk.text.strip())
            for i, hit in enumerate(hits, start=1)
        )
        user = self._t.user.substitute(passages=passages, question=question)
        return [Message("system", self._t.system.template), Message("user", user)]
