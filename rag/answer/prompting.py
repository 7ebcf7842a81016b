"""Builds chat prompts from prompts/*: numbered passages within a token budget.

Templates are files (``string.Template``, ``$name`` placeholders), versioned like code; see
prompts/README.md for the list.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.text.vietnamese import nfc
from rag.types import Chunk, Hit, Message

TEMPLATE_NAMES = (
    "answer_system",
    "answer_user",
    "passage",
    "condense_system",
    "condense_user",
    "summary_system",
    "summary_user",
    "vietnamese_only",
)
# Templates only an optional setting uses: a prompts folder written before them still loads, and the error
# comes when the setting asks for one (answer_copy: copy_span; answer_system_quote: quote_first).
OPTIONAL_TEMPLATES = ("answer_copy", "answer_system_quote")

# A document must not open or close a passage fence, nor smuggle in chat-template control
# tokens (the tokenizer would read "<|im_start|>" in a document as the real thing).
_FENCE = re.compile(r"<\s*(/?)\s*tài_liệu", re.IGNORECASE)
_CONTROL = re.compile(r"<\|")


def neutralise(text: str) -> str:
    """Document text made inert inside a prompt: fence tags and '<|' control openers are defused."""
    text = _FENCE.sub(lambda m: f"‹{m.group(1)}tài_liệu", nfc(text))
    return _CONTROL.sub("< |", text)


TokenCounter = Callable[[list[Message]], int]


@dataclass(frozen=True)
class PromptTemplates:
    templates: dict[str, string.Template]
    folder: Path | None = None

    @classmethod
    def load(cls, folder: Path) -> PromptTemplates:
        folder = Path(folder)
        loaded = {}
        for name in (*TEMPLATE_NAMES, *OPTIONAL_TEMPLATES):
            path = folder / f"{name}.txt"
            if not path.is_file():
                if name in OPTIONAL_TEMPLATES:
                    continue
                raise ConfigError(_missing(path))
            loaded[name] = string.Template(path.read_text(encoding="utf-8").strip())
        return cls(loaded, folder)

    def fill(self, name: str, **values: str) -> str:
        template = self.templates.get(name)
        if template is None:
            raise ConfigError(_missing((self.folder or Path("prompts")) / f"{name}.txt"))
        return template.substitute(**values)


def _missing(path: Path) -> str:
    return f"prompt template {path} is missing: restore prompts/ or set RAG_PROMPTS_DIR"


@dataclass(frozen=True)
class Prompt:
    messages: list[Message]
    hits: list[Hit]  # the passages in the prompt; hits[i] is marker [i + 1]
    prompt_tokens: int


def _untitled(text: str, title: str) -> str:
    """Passage text without a leading copy of its title (the fence already shows it)."""
    text = text.strip()
    if title and text.startswith(title + "\n"):
        return text[len(title) :].strip()
    return text


class PromptBuilder:
    """Numbers passages and drops the weakest ones until the prompt fits the budget."""

    def __init__(self, templates: PromptTemplates, *, max_prompt_tokens: int) -> None:
        self._t = templates
        self.max_prompt_tokens = max_prompt_tokens

    def build(
        self,
        question: str,
        hits: Sequence[Hit],
        count_tokens: TokenCounter,
        *,
        texts: Sequence[str] | None = None,
        max_tokens: int | None = None,
        system: str = "answer_system",
    ) -> Prompt:
        """The answer prompt: passages [1]..[n] (best first), then the question.

        texts: what to show of each passage (e.g. its selected sentences; default the whole
        chunk); an empty text leaves that passage out. Passages are dropped weakest first until
        the prompt fits max_tokens (default max_prompt_tokens). system: the system template's name
        (answer_system_quote: quote_first).
        """
        limit = min(max_tokens or self.max_prompt_tokens, self.max_prompt_tokens)
        shown = [t for t in (texts if texts is not None else [h.chunk.text for h in hits])]
        kept = [(h, t) for h, t in zip(hits, shown, strict=True) if t.strip()]
        while True:
            passages = self.passages([h.chunk for h, _ in kept], range(1, len(kept) + 1), [t for _, t in kept])
            user = self._t.fill("answer_user", passages=passages, question=question)
            messages = [Message("system", self._t.fill(system)), Message("user", user)]
            n = count_tokens(messages)
            if n <= limit or len(kept) <= 1:
                return Prompt(messages, [h for h, _ in kept], n)
            kept.pop()  # hits are best-first: drop the weakest

    def passages(self, chunks: Sequence[Chunk], numbers: Sequence[int], texts: Sequence[str] | None = None) -> str:
        """Each passage fenced as <tài_liệu số="n">, with fences and control tokens inside it defused."""
        shown = texts if texts is not None else [c.text for c in chunks]
        return "\n\n".join(
            self._t.fill("passage", number=str(n), title=neutralise(c.title), text=neutralise(_untitled(t, c.title)))
            for c, n, t in zip(chunks, numbers, shown, strict=True)
        )

    def vietnamese_only(self, messages: Sequence[Message], reply: str) -> list[Message]:
        """The same conversation, the off-language reply, and a request to answer again in Vietnamese."""
        return [*messages, Message("assistant", reply), Message("user", self._t.fill("vietnamese_only"))]

    def copy_request(self, messages: Sequence[Message], reply: str) -> list[Message]:
        """The same conversation, the reply that is no passage span, and a request to copy the answer verbatim."""
        return [*messages, Message("assistant", reply), Message("user", self._t.fill("answer_copy"))]

    def condense(self, history: Sequence[tuple[str, str]], question: str) -> list[Message]:
        """Messages asking the model to rewrite a follow-up into a standalone question."""
        lines = []
        for asked, answered in history:
            lines.append(f"Người dùng: {asked}")
            lines.append(f"Trợ lý: {answered}")
        user = self._t.fill("condense_user", history="\n".join(lines), question=question)
        return [Message("system", self._t.fill("condense_system")), Message("user", user)]

    def compress(self, sentence: str, *, title: str) -> list[Message]:
        """Messages asking the model to shorten one summary sentence, keeping its numbers and names."""
        user = self._t.fill("summary_user", sentence=neutralise(sentence), title=neutralise(title))
        return [Message("system", self._t.fill("summary_system")), Message("user", user)]


def first_shown(texts: Sequence[str], n: int, said: Sequence[bool] | None = None) -> list[str]:
    """The first n passage texts that are not empty and (said[i]) state something besides the question, the
    others emptied (the builder leaves an empty text's passage out); where none states anything, the first n
    not empty; n 0 keeps them all. On MLQA-vi's tuning half the model answered right more often from its best
    passage alone than from two to four (docs/answers.md): it mixes passages up."""
    if n <= 0:
        return list(texts)
    said = said if said is not None and any(s and t.strip() for s, t in zip(said, texts, strict=True)) else None
    shown: list[str] = []
    kept = 0
    for i, text in enumerate(texts):
        keep = kept < n and bool(text.strip()) and (said is None or said[i])
        kept += keep
        shown.append(text if keep else "")
    return shown
