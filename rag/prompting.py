"""Builds chat prompts from prompts/*: numbered passages within a token budget.

Templates are files (``string.Template``, ``$name`` placeholders), versioned like code; see
prompts/README.md for the list.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.types import Chunk, Hit, Message

TEMPLATE_NAMES = (
    "answer_system",
    "answer_user",
    "passage",
    "condense_system",
    "condense_user",
    "summary_system",
    "summary_user",
    "combine_user",
)

TokenCounter = Callable[[list[Message]], int]


@dataclass(frozen=True)
class PromptTemplates:
    templates: dict[str, string.Template]

    @classmethod
    def load(cls, folder: Path) -> PromptTemplates:
        folder = Path(folder)
        loaded = {}
        for name in TEMPLATE_NAMES:
            path = folder / f"{name}.txt"
            if not path.is_file():
                raise ConfigError(f"prompt template {path} is missing: restore prompts/ or set RAG_PROMPTS_DIR")
            loaded[name] = string.Template(path.read_text(encoding="utf-8").strip())
        return cls(loaded)

    def fill(self, name: str, **values: str) -> str:
        return self.templates[name].substitute(**values)


@dataclass(frozen=True)
class Prompt:
    messages: list[Message]
    hits: list[Hit]  # the passages in the prompt; hits[i] is marker [i + 1]
    prompt_tokens: int


class PromptBuilder:
    """Numbers passages and drops the weakest ones until the prompt fits the budget."""

    def __init__(self, templates: PromptTemplates, *, max_prompt_tokens: int) -> None:
        self._t = templates
        self.max_prompt_tokens = max_prompt_tokens

    def build(self, question: str, hits: Sequence[Hit], count_tokens: TokenCounter) -> Prompt:
        """The answer prompt: passages [1]..[n] (best first), then the question."""
        kept = list(hits)
        while True:
            passages = self.passages([h.chunk for h in kept], range(1, len(kept) + 1))
            user = self._t.fill("answer_user", passages=passages, question=question)
            messages = [Message("system", self._t.fill("answer_system")), Message("user", user)]
            n = count_tokens(messages)
            if n <= self.max_prompt_tokens or not kept:
                return Prompt(messages, kept, n)
            kept.pop()  # hits are best-first: drop the weakest

    def passages(self, chunks: Sequence[Chunk], numbers: Sequence[int]) -> str:
        return "\n\n".join(
            self._t.fill("passage", number=str(n), title=c.title, text=c.text.strip())
            for c, n in zip(chunks, numbers, strict=True)
        )

    def condense(self, history: Sequence[tuple[str, str]], question: str) -> list[Message]:
        """Messages asking the model to rewrite a follow-up into a standalone question."""
        lines = []
        for asked, answered in history:
            lines.append(f"Người dùng: {asked}")
            lines.append(f"Trợ lý: {answered}")
        user = self._t.fill("condense_user", history="\n".join(lines), question=question)
        return [Message("system", self._t.fill("condense_system")), Message("user", user)]

    def summary(self, topic: str, chunks: Sequence[Chunk], numbers: Sequence[int]) -> list[Message]:
        user = self._t.fill("summary_user", passages=self.passages(chunks, numbers), topic=topic)
        return [Message("system", self._t.fill("summary_system")), Message("user", user)]

    def combine(self, topic: str, partials: Sequence[str]) -> list[Message]:
        user = self._t.fill("combine_user", partials="\n\n".join(partials), topic=topic)
        return [Message("system", self._t.fill("summary_system")), Message("user", user)]
