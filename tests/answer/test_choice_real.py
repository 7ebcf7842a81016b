"""Model tier: the real model's likelihood prefers the passage's year to a wrong one, and scoring reuses the
prompt's KV cache without changing the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.prompting import PromptTemplates
from rag.types import Message

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[2]
TRAN = "Nhà Trần là một triều đại quân chủ cai trị nước Đại Việt từ năm 1226 đến năm 1400."


def _messages(question: str) -> list[Message]:
    t = PromptTemplates.load(REPO / "prompts")
    fenced = t.fill("passage", number="1", title="Nhà Trần", text=TRAN)
    return [
        Message("system", t.fill("answer_system")),
        Message("user", t.fill("answer_user", passages=fenced, question=question)),
    ]


def test_the_scorer_prefers_the_passages_year_to_a_wrong_one(real_generator) -> None:  # noqa: ANN001
    messages = _messages("Nhà Trần được thành lập vào năm nào?")
    right, wrong, late = real_generator.score(messages, ["Năm 1226 [1].", "Năm 1262 [1].", "Năm 1400 [1]."])
    assert right[1] == wrong[1] == late[1]  # same template, same number of tokens (the end of turn included)
    assert right[0] > wrong[0] + 1.0
    assert right[0] > late[0]
    assert right[0] < 0.0


def test_scores_do_not_depend_on_what_the_cache_held(real_generator) -> None:  # noqa: ANN001
    messages = _messages("Nhà Trần được thành lập vào năm nào?")
    first = real_generator.score(messages, ["Năm 1226 [1]."])
    real_generator.stream(_messages("Nhà Trần cai trị nước nào?"), max_tokens=8).text()  # another prompt in the cache
    again = real_generator.score(messages, ["Năm 1226 [1].", "Năm 1226 [1]."])
    assert again[0][1] == again[1][1] == first[0][1]
    assert again[0][0] == pytest.approx(first[0][0], abs=1e-3)
    assert again[1][0] == pytest.approx(first[0][0], abs=1e-3)
