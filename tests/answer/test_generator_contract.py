"""One contract for every Generator (rag.answer.generate.Generator), as STYLE.md asks of a protocol with
two implementations: the fast fake (ScriptedGenerator), the in-process LlamaCppGenerator and the
OpenAIGenerator against llama-cpp-python's own server (the last two in the model tier).

Oracles that hold for any model at temperature 0: a second call gives the same text; a reply cut at
max_tokens is a prefix of a longer one; usage is the call's own (prompt tokens as count_prompt_tokens
says); a closed stream lets the next call through long before the closed one could have finished.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import pytest

from rag.answer.completion import CANCELLED, LENGTH, STOP
from rag.errors import RagError
from rag.types import Message, Usage
from tests.fakes import ScriptedGenerator

SYSTEM = Message("system", "Bạn là trợ lý. Trả lời bằng tiếng Việt, ngắn gọn.")
CAPITAL = [SYSTEM, Message("user", "Thủ đô của Việt Nam là thành phố nào?")]
STORY = [SYSTEM, Message("user", "Kể một câu chuyện thật dài về Hà Nội, nhiều đoạn, mỗi đoạn một chủ đề.")]
TOO_LONG = [SYSTEM, Message("user", "Hà Nội " * 3000 + "là gì?")]  # over 4096 tokens (and words)
# the fake's reply to every prompt: Vietnamese, 24 words, so 4 and 7 cut it and 200 does not
REPLY = (
    "Thủ đô của Việt Nam là Hà Nội, thành phố nghìn năm văn hiến bên bờ sông Hồng, "
    "có Hồ Gươm, phố cổ và nhiều đền chùa."
)
FREED_WITHIN_S = 60.0  # the closed call asked for 2000 tokens: minutes on 2 cores, were the model still busy


@dataclass
class Case:
    generator: Any
    context_fix: str  # regex: the change that an over-long prompt's error names


# llama-cpp-python's server fails a streamed request whose prompt is over its n_ctx after the 200 header: the
# stream ends with no event, and OpenAIGenerator says what to lower.


@pytest.fixture(
    params=[
        "scripted",
        pytest.param("llama-cpp", marks=pytest.mark.models),
        pytest.param("openai-http", marks=pytest.mark.models),
    ]
)
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "scripted":
        return Case(ScriptedGenerator([REPLY] * 16, n_ctx=4096), r"lower k or raise n_ctx")
    if request.param == "llama-cpp":
        return Case(request.getfixturevalue("real_generator"), r"lower k or raise n_ctx")
    http_fix = r"lower k or prompt_chars, or start the server with a larger n_ctx"
    return Case(request.getfixturevalue("http_generator"), http_fix)


def test_streamed_pieces_join_to_the_text_of_the_same_call_made_again(case: Case) -> None:
    streamed = case.generator.stream(CAPITAL, max_tokens=32)
    pieces = list(streamed)
    whole = case.generator.stream(CAPITAL, max_tokens=32)
    assert "".join(pieces) == whole.text()
    assert len(pieces) > 1  # really streamed, not one block
    assert (streamed.usage, streamed.finish_reason) == (whole.usage, whole.finish_reason)


def test_usage_and_finish_reason_belong_to_each_call(case: Case) -> None:
    gen = case.generator
    cut, done = gen.stream(STORY, max_tokens=4), gen.stream(CAPITAL, max_tokens=200)  # both made before either runs
    done_text, cut_text = done.text(), cut.text()
    assert (cut.usage, cut.finish_reason) == (Usage(gen.count_prompt_tokens(STORY), 4), LENGTH)
    assert (done.usage.prompt_tokens, done.finish_reason) == (gen.count_prompt_tokens(CAPITAL), STOP)
    assert 0 < done.usage.completion_tokens < 200
    assert cut_text != done_text
    assert not [name for name in ("usage", "last_usage", "finish_reason") if hasattr(gen, name)]  # nothing shared


@pytest.mark.parametrize("max_tokens", [1, 7])
def test_max_tokens_cuts_the_reply_to_a_prefix_of_a_longer_one(case: Case, max_tokens: int) -> None:
    capped = case.generator.stream(STORY, max_tokens=max_tokens)
    capped_text = capped.text()
    longer = case.generator.stream(STORY, max_tokens=max_tokens + 12).text()
    assert (capped.usage.completion_tokens, capped.finish_reason) == (max_tokens, LENGTH)
    assert capped_text and longer.startswith(capped_text) and len(capped_text) < len(longer)


def test_closing_a_stream_frees_the_model_for_the_next_call(case: Case) -> None:
    gen = case.generator
    reference = gen.stream(CAPITAL, max_tokens=16).text()
    closed = gen.stream(STORY, max_tokens=2000)
    next(closed), next(closed)
    closed.close()
    assert closed.finish_reason == CANCELLED
    assert closed.usage.completion_tokens <= 8  # of the 2000 asked for
    after: list[str] = []
    worker = threading.Thread(target=lambda: after.append(gen.stream(CAPITAL, max_tokens=16).text()), daemon=True)
    worker.start()
    worker.join(timeout=FREED_WITHIN_S)
    assert after == [reference]  # answered, and as before: the closed call left nothing behind


def test_a_prompt_over_the_context_is_a_rag_error_naming_the_fix(case: Case) -> None:
    with pytest.raises(RagError, match=case.context_fix):
        case.generator.stream(TOO_LONG, max_tokens=16).text()
    assert "Hà Nội" in case.generator.stream(CAPITAL, max_tokens=32).text()  # and the generator still answers


def test_vietnamese_text_arrives_whole_and_nfc(case: Case) -> None:
    pieces = list(case.generator.stream(CAPITAL, max_tokens=48))
    text = "".join(pieces)
    assert "Hà Nội" in text
    assert [p for p in pieces if "\ufffd" in p] == []  # no piece splits a UTF-8 character
    assert unicodedata.is_normalized("NFC", text)
