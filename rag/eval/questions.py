"""Evaluation questions shaped like MLQA-vi: id, question, gold answers, and the article they come from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.text.loaders import read_jsonl
from rag.text.vietnamese import fold_diacritics, nfc


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None = None
    title: str | None = None


def load_questions(path: Path, *, limit: int | None = None, strip_diacritics: bool = False) -> list[Question]:
    """Read `id`, `question`, `answers` (and optional `doc_id`) per JSONL line."""
    if not path.is_file():
        raise ConfigError(f"questions file {path} does not exist")

    def parse(data: dict[str, Any], line_no: int) -> Question:
        answers = data["answers"]
        answers = [answers] if isinstance(answers, str) else list(answers)
        text = nfc(str(data["question"]))
        return Question(
            id=str(data.get("id", line_no)),
            question=fold_diacritics(text) if strip_diacritics else text,
            answers=tuple(nfc(str(a)) for a in answers),
            doc_id=None if data.get("doc_id") is None else str(data["doc_id"]),
            title=None if data.get("title") is None else nfc(str(data["title"])),
        )

    questions: list[Question] = []
    for question in read_jsonl(path, parse, error=ConfigError, problem="needs JSON with 'question' and 'answers'"):
        questions.append(question)
        if limit and len(questions) >= limit:
            break
    return questions
