"""Answer spans chosen by likelihood (rag.answer.choice): typed candidates, the free reply as template, the margin."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.answer.choice import candidate_spans, choose_span, reply_with, typed_spans
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.checks.analysis import analyze
from rag.checks.grounding import REFUSAL, GroundingSettings
from rag.errors import ConfigError
from rag.eval.replay import RecordedGenerator
from rag.types import Answer, Chunk, Document, Hit, Message
from tests.fakes import ScriptedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]
TRAN = "Nhà Trần là triều đại cai trị Đại Việt từ năm 1226 đến năm 1400. Kinh đô đặt ở Thăng Long."
LY = "Nhà Lý được thành lập năm 1009, khi Lý Công Uẩn lên ngôi. Triều đại này kéo dài hơn 200 năm."


def _hits(*texts: tuple[str, str]) -> list[Hit]:
    return [Hit(Chunk(f"c{i}", f"d/{i}.txt", title, t, 0, len(t)), 1.0, i) for i, (title, t) in enumerate(texts, 1)]


class FakeScorer:
    """Scores replies from a table (unknown replies -10) and records each call's replies."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls: list[list[str]] = []

    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]:
        self.calls.append(list(replies))
        return [(self.table.get(r, -10.0), len(r.split()) + 1) for r in replies]


def test_typed_spans_are_every_year_number_or_name_the_question_does_not_hold() -> None:
    assert typed_spans("year", TRAN, "Nhà Trần được thành lập vào năm nào?") == ["1226", "1400"]
    keeper = "Anh đạt 118 lần cản phá trong mùa giải 2019, và 1.610 phút thi đấu."
    assert typed_spans("number", keeper, "Mùa giải 2019 anh cản phá bao nhiêu lần?") == ["118", "1.610"]
    assert typed_spans("year", keeper, "Năm nào?") == ["2019"]  # "118 lần", "1.610 phút" are counts, not years
    assert typed_spans("year", LY, "Nhà Lý được thành lập vào năm nào?") == ["1009"]  # "hơn 200 năm" is a duration
    assert typed_spans("person", LY, "Ai sáng lập nhà Lý?") == ["Lý Công Uẩn"]  # whole, "Lý" asked
    assert typed_spans("place", TRAN, "Kinh đô nhà Trần ở đâu?") == ["Đại Việt", "Thăng Long"]
    assert typed_spans(None, TRAN, "Nhà Trần là gì?") == []


def test_candidates_come_from_prompt_sentences_with_the_questions_key_terms_best_first() -> None:
    analysis = analyze("Nhà Lý được thành lập vào năm nào?", _hits(("Nhà Trần", TRAN), ("Nhà Lý", LY)))
    shown = {1: f"Nhà Trần\n{TRAN}", 2: f"Nhà Lý\n{LY}"}
    assert candidate_spans(analysis, shown) == [("1009", 2), ("1226", 1), ("1400", 1)]
    assert candidate_spans(analysis, shown, limit=1) == [("1009", 2)]
    # only what the prompt showed: passage [2]'s first sentence left out of the prompt
    assert candidate_spans(analysis, {1: shown[1], 2: "Nhà Lý\nTriều đại này kéo dài hơn 200 năm."}) == [
        ("1226", 1),
        ("1400", 1),
    ]


def test_a_candidate_reply_is_the_free_reply_with_its_fact_and_marker_swapped() -> None:
    assert reply_with("Nhà Lý được thành lập năm 1226 [1].", "1226", "1009", 2) == "Nhà Lý được thành lập năm 1009 [2]."
    assert reply_with("Năm 1226.", "1226", "1009", 2) == "Năm 1009 [2]."  # no marker: one is added
    assert reply_with("Không rõ [1].", None, "1009", 2) == "1009 [2]."
    assert reply_with("Khoảng 1200 [1].", "900", "1009", 2) == "1009 [2]."  # the fact is not in the reply


def test_the_likeliest_candidate_replaces_the_free_reply_only_beyond_the_margin() -> None:
    analysis = analyze("Nhà Lý được thành lập vào năm nào?", _hits(("Nhà Trần", TRAN), ("Nhà Lý", LY)))
    shown = {1: f"Nhà Trần\n{TRAN}", 2: f"Nhà Lý\n{LY}"}
    free = "Nhà Lý được thành lập năm 1226 [1]."
    scorer = FakeScorer({free: -6.0, "Nhà Lý được thành lập năm 1009 [2].": -4.5})
    choice = choose_span(scorer, [Message("user", "q")], free, analysis, shown)
    assert choice.raw == "Nhà Lý được thành lập năm 1009 [2]."
    # the free reply first; its own fact (1226) is not scored again
    assert scorer.calls == [[free, "Nhà Lý được thành lập năm 1009 [2].", "Nhà Lý được thành lập năm 1400 [1]."]]
    assert choice.scored[0] == (free, -6.0, 9)
    assert choose_span(scorer, [Message("user", "q")], free, analysis, shown, margin=2.0).raw == free


def test_a_refusal_or_a_question_of_no_type_is_not_scored() -> None:
    scorer = FakeScorer({})
    shown = {1: f"Nhà Trần\n{TRAN}"}
    typed = analyze("Nhà Trần được thành lập vào năm nào?", _hits(("Nhà Trần", TRAN)))
    untyped = analyze("Nhà Trần là gì?", _hits(("Nhà Trần", TRAN)))
    assert choose_span(scorer, [], REFUSAL, typed, shown).raw == REFUSAL
    assert choose_span(scorer, [], "Một triều đại [1].", untyped, shown).raw == "Một triều đại [1]."
    assert scorer.calls == []


class ScoringScripted(ScriptedGenerator):
    """A ScriptedGenerator that also scores replies, as the in-process llama.cpp generator does."""

    def __init__(self, replies: Sequence[str], table: dict[str, float]) -> None:
        super().__init__(replies)
        self.scorer = FakeScorer(table)

    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]:
        return self.scorer.score(messages, replies)


DOCS = [Document("docs/ha-noi.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam từ năm 1976, sau năm 1954.")]


def test_the_assistant_checks_the_chosen_reply_and_an_http_generator_is_refused(tmp_path: Path) -> None:
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4000)
    grounding = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)
    generator = ScoringScripted(["Hà Nội là thủ đô từ năm 1954 [1]."], {"Hà Nội là thủ đô từ năm 1976 [1].": -1.0})
    assistant = make_assistant(
        dense_retriever(DOCS, tmp_path / "idx"), generator, builder, grounding=grounding, span_choice="likelihood"
    )
    answer = [e for e in assistant.stream("Hà Nội là thủ đô từ năm nào?", k=1) if isinstance(e, Answer)][0]
    assert answer.text == "Hà Nội là thủ đô từ năm 1976 [1]."
    assert answer.short_answer == "1976"
    assert answer.unchecked is None
    plain = ScriptedGenerator([])
    with pytest.raises(ConfigError, match="span_choice = free"):
        make_assistant(dense_retriever(DOCS, tmp_path / "i2"), plain, builder, span_choice="likelihood")
    with pytest.raises(ConfigError, match="span_choice 'best' is unknown"):
        make_assistant(dense_retriever(DOCS, tmp_path / "i3"), plain, builder, span_choice="best")


def test_recorded_scores_replay_without_the_model(tmp_path: Path) -> None:
    messages = [Message("user", "Thủ đô?")]
    recorded = RecordedGenerator(ScoringScripted([], {"Hà Nội [1].": -1.5}), tmp_path / "replies.jsonl")
    assert recorded.score(messages, ["Hà Nội [1].", "Huế [1]."]) == [(-1.5, 4), (-10.0, 3)]
    again = RecordedGenerator(ScriptedGenerator([]), tmp_path / "replies.jsonl")  # cannot score: replayed
    assert again.score(messages, ["Hà Nội [1].", "Huế [1]."]) == [(-1.5, 4), (-10.0, 3)]
    with pytest.raises(ConfigError, match="span_choice = free"):
        again.score(messages, ["Huế [1]."])


class PromptScorer:
    """Scores a reply by a table per prompt: with the passages (a fenced user message) or without them."""

    def __init__(self, with_passages: dict[str, float], alone: dict[str, float]) -> None:
        self.tables = {True: with_passages, False: alone}
        self.users: list[str] = []

    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]:
        user = messages[-1].content
        self.users.append(user)
        return [(self.tables["<tài_liệu" in user][r], 2) for r in replies]


def test_the_prior_subtracts_what_the_model_would_say_without_the_passages() -> None:
    analysis = analyze("Nhà Lý được thành lập vào năm nào?", _hits(("Nhà Lý", LY)))
    shown = {1: f"Nhà Lý\n{LY}"}
    free, right = "Năm 2000 [1].", "Năm 1009 [1]."
    # the model likes the round year with or without the passages; the passage makes 1009 far likelier
    scorer = PromptScorer({free: -2.0, right: -3.0}, {free: -2.5, right: -9.0})
    messages = [Message("system", "s"), Message("user", f'<tài_liệu số="1">\nNhà Lý\n{LY}\n</tài_liệu>\n\nCâu hỏi: q')]
    assert choose_span(scorer, messages, free, analysis, shown).raw == free  # -3.0 < -2.0
    chosen = choose_span(scorer, messages, free, analysis, shown, prior=1.0)  # 6.0 > 0.5
    assert chosen.raw == right
    assert chosen.scored == ((free, 0.5, 2), (right, 6.0, 2))
    assert scorer.users[-1] == "Câu hỏi: q"  # the same prompt, the passages left out


def test_a_llama_cpp_python_without_the_internals_the_scorer_uses_is_a_config_error_naming_the_fix() -> None:
    from rag.answer.scoring import score_replies
    from rag.errors import ConfigError

    class NoInternals:  # what a later llama-cpp-python might look like from outside
        input_ids, n_tokens, n_batch = [], 0, 512

    with pytest.raises(ConfigError, match=r"_batch, _ctx; checked with 0\.3\.36\): set span_choice = free"):
        score_replies(NoInternals(), [1, 2, 3], ["Năm 1226 [1]."])
