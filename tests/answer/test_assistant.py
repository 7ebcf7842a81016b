"""The QA flow over a real FAISS store with a HashEmbedder and a ScriptedGenerator."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.answer.prompting import PromptBuilder, PromptTemplates, first_shown
from rag.answer.question import check_question
from rag.errors import ConfigError, QuestionError
from rag.retrieval.retriever import DenseRetriever
from rag.types import Answer, Document
from tests.fakes import ScriptedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]

DOCS = [
    Document("docs/ha-noi.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam từ năm 1976."),
    Document("docs/hue.txt", "Huế", "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."),
    Document("docs/da-nang.txt", "Đà Nẵng", "Đà Nẵng có cầu Rồng bắc qua sông Hàn."),
    Document("docs/can-tho.txt", "Cần Thơ", "Cần Thơ nổi tiếng với chợ nổi Cái Răng."),
    Document("docs/ha-long.txt", "Hạ Long", "Vịnh Hạ Long có hàng nghìn đảo đá vôi."),
]
QUESTION = "Thủ đô của Việt Nam là thành phố nào?"


@pytest.fixture
def retriever(tmp_path: Path) -> DenseRetriever:
    return dense_retriever(DOCS, tmp_path / "idx")


def _assistant(retriever: DenseRetriever, generator: ScriptedGenerator | None, **options) -> Assistant:
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    return make_assistant(retriever, generator, builder if generator else None, **options)


def test_retriever_finds_the_document_sharing_words(retriever: DenseRetriever) -> None:
    hits = retriever.search(QUESTION, 3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].chunk.source == "docs/ha-noi.txt"
    assert hits[0].score > hits[1].score >= hits[2].score


def test_streamed_pieces_equal_final_text(retriever: DenseRetriever) -> None:
    generator = ScriptedGenerator(["Thủ đô của Việt Nam là Hà Nội [1]."], piece_chars=2)
    events = list(_assistant(retriever, generator).stream(QUESTION))
    pieces, answer = events[:-1], events[-1]
    assert isinstance(answer, Answer)
    assert [type(p) for p in pieces] == [str] * len(pieces)
    assert "".join(pieces) == answer.text == "Thủ đô của Việt Nam là Hà Nội [1]."
    assert answer.invalid_markers == ()
    assert [(c.marker, c.chunk.source) for c in answer.citations] == [(1, "docs/ha-noi.txt")]
    assert answer.question == QUESTION
    assert answer.usage.completion_tokens == 9


def test_invalid_marker_removed_and_listed(retriever: DenseRetriever) -> None:
    generator = ScriptedGenerator(["Hà Nội là thủ đô [1] [9]. Huế là cố đô [2]."])
    events = list(_assistant(retriever, generator, k=2).stream(QUESTION))
    answer = events[-1]
    assert answer.text == "Hà Nội là thủ đô [1]. Huế là cố đô [2]."
    assert "".join(events[:-1]) == answer.text
    assert answer.invalid_markers == (9,)


def test_citations_point_at_the_right_chunks(retriever: DenseRetriever) -> None:
    generator = ScriptedGenerator(["Theo [2] và [1], Hà Nội là thủ đô [1]."])
    answer = _assistant(retriever, generator, k=3).ask(QUESTION)
    assert [c.marker for c in answer.citations] == [2, 1]
    assert [c.chunk for c in answer.citations] == [answer.retrieved[1].chunk, answer.retrieved[0].chunk]
    assert answer.citations[1].chunk.text == "Hà Nội là thủ đô của Việt Nam từ năm 1976."
    assert len(answer.retrieved) == 3


def test_prompt_holds_system_text_numbered_passages_and_question(retriever: DenseRetriever) -> None:
    generator = ScriptedGenerator(["Hà Nội [1]."])
    answer = _assistant(retriever, generator, k=2).ask(QUESTION)
    [messages] = generator.prompts
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].content == (REPO / "prompts" / "answer_system.txt").read_text(encoding="utf-8").strip()
    user = messages[1].content
    first, second = answer.retrieved
    assert f'<tài_liệu số="1">\n{first.chunk.title}\n{first.chunk.text}\n</tài_liệu>' in user
    assert f'<tài_liệu số="2">\n{second.chunk.title}\n{second.chunk.text}\n</tài_liệu>' in user
    assert 'số="3"' not in user
    assert f"Câu hỏi: {QUESTION}" in user
    assert answer.usage.prompt_tokens == generator.count_prompt_tokens(messages)


def test_the_default_prompt_shows_the_best_passage_alone_and_a_refusal_lists_every_passage_read(
    retriever: DenseRetriever,
) -> None:
    generator = ScriptedGenerator(["Hà Nội [1]."])
    answer = _assistant(retriever, generator, k=3, prompt_passages=1).ask(QUESTION)
    [messages] = generator.prompts
    first = answer.retrieved[0]
    assert messages[1].content.startswith(f'<tài_liệu số="1">\n{first.chunk.title}\n{first.chunk.text}\n</tài_liệu>')
    assert 'số="2"' not in messages[1].content
    assert [h.chunk.source for h in answer.passages] == [first.chunk.source] == ["docs/ha-noi.txt"]
    assert len(answer.retrieved) == 3  # reported: the refusal's "closest passages" list them all


def test_first_shown_keeps_the_first_passages_with_text() -> None:
    assert first_shown(["", "Hà Nội.", "Huế.", "Đà Nẵng."], 1) == ["", "Hà Nội.", "", ""]
    assert first_shown(["Hà Nội.", " ", "Huế.", "Đà Nẵng."], 2) == ["Hà Nội.", "", "Huế.", ""]
    assert first_shown(["Hà Nội.", "Huế."], 0) == ["Hà Nội.", "Huế."]
    # a passage that only restates the question is passed over; if every one does, the first is shown
    question_only = "Thủ đô của Việt Nam là thành phố nào?"
    assert first_shown([question_only, "Hà Nội."], 1, [False, True]) == ["", "Hà Nội."]
    assert first_shown([question_only, "Huế."], 1, [False, False]) == [question_only, ""]


def test_a_passage_restating_the_question_is_not_the_one_shown(tmp_path: Path) -> None:
    docs = [Document("docs/hoi.txt", "Hỏi đáp", "Thủ đô của Việt Nam là thành phố nào?"), *DOCS]
    generator = ScriptedGenerator(["Hà Nội [1]."])
    answer = _assistant(dense_retriever(docs, tmp_path / "idx"), generator, k=3, prompt_passages=1).ask(QUESTION)
    assert answer.retrieved[0].chunk.source == "docs/hoi.txt"
    assert [h.chunk.source for h in answer.passages] == ["docs/ha-noi.txt"]
    assert "Thủ đô của Việt Nam là thành phố nào?\n</tài_liệu>" not in generator.prompts[0][1].content


def test_a_negative_passage_count_names_the_fix(retriever: DenseRetriever) -> None:
    with pytest.raises(ConfigError, match=r"prompt_passages -1 is negative: use 0 \(all passages\) or a count"):
        _assistant(retriever, ScriptedGenerator([]), prompt_passages=-1)


@pytest.mark.parametrize("question", ["", "   \n  ", "x" * 100_000])
def test_bad_question_raises(retriever: DenseRetriever, question: str) -> None:
    generator = ScriptedGenerator(["không dùng"])
    with pytest.raises(QuestionError):
        _assistant(retriever, generator).ask(question)
    assert generator.prompts == []


def test_question_error_messages() -> None:
    with pytest.raises(QuestionError, match="the question is empty"):
        check_question("  ", max_chars=2000)
    with pytest.raises(QuestionError, match="has 2001 characters, the limit is 2000"):
        check_question("a" * 2001, max_chars=2000)
    assert check_question("  Hà Nội?  ", max_chars=2000) == "Hà Nội?"


def test_retrieve_only_returns_hits_and_empty_text(retriever: DenseRetriever) -> None:
    generator = ScriptedGenerator(["không dùng"])
    answer = _assistant(retriever, generator, k=3).ask(QUESTION, retrieve_only=True)
    assert answer.text == ""
    assert [h.rank for h in answer.retrieved] == [1, 2, 3]
    assert answer.retrieved[0].chunk.source == "docs/ha-noi.txt"
    assert (answer.citations, answer.invalid_markers, answer.timings.first_token_ms) == ((), (), None)
    assert generator.prompts == []


def test_no_generator_means_retrieval_only(retriever: DenseRetriever) -> None:
    events = list(_assistant(retriever, None).stream(QUESTION, k=2))
    assert len(events) == 1
    assert (events[0].text, len(events[0].retrieved)) == ("", 2)


def test_only_a_question_without_diacritics_is_respelled_for_the_model(retriever: DenseRetriever) -> None:
    respelled: list[str] = []

    def spell(question: str) -> str:
        respelled.append(question)
        return "Thủ đô của Việt Nam là thành phố nào?"

    generator = ScriptedGenerator(["Hà Nội [1].", "Hà Nội [1]."])
    assistant = _assistant(retriever, generator, k=2, spell=spell)
    answer = assistant.ask(QUESTION)
    assert respelled == [] and answer.question == QUESTION
    answer = assistant.ask("thu do cua viet nam la thanh pho nao?")
    assert respelled == ["thu do cua viet nam la thanh pho nao?"]
    assert answer.question == "thu do cua viet nam la thanh pho nao?"
    assert [p[-1].content.rsplit("\n", 1)[-1] for p in generator.prompts] == [f"Câu hỏi: {QUESTION}"] * 2


def test_a_reply_cut_off_by_the_token_limit_loses_its_unfinished_sentence(retriever: DenseRetriever) -> None:
    reply = "Hà Nội là thủ đô [1]. Thành phố nằm bên"  # 10 "tokens" (words) for the ScriptedGenerator
    cut = _assistant(retriever, ScriptedGenerator([reply]), k=2, max_tokens=10).ask(QUESTION)
    assert cut.text == "Hà Nội là thủ đô [1]."
    assert cut.usage.completion_tokens == 10
    whole = _assistant(retriever, ScriptedGenerator([reply]), k=2, max_tokens=11).ask(QUESTION)
    assert whole.text == reply  # stopped on its own: nothing is cut


def test_a_variant_changes_only_what_it_is_given(retriever: DenseRetriever) -> None:
    from rag.checks.grounding import GroundingSettings

    base = _assistant(retriever, ScriptedGenerator(["Hà Nội [1]."]), k=2)
    other = ScriptedGenerator(["Huế [1]."])
    variant = base.variant(generator=other, grounding=GroundingSettings(evidence_threshold=0.5), k=1)
    assert variant.retriever is base.retriever and variant._builder is base._builder  # noqa: SLF001
    assert (variant._settings.k, base._settings.k) == (1, 2)  # noqa: SLF001
    assert variant._settings.prompt_chars == base._settings.prompt_chars  # noqa: SLF001 - the rest as it was
    assert variant._grounding == GroundingSettings(evidence_threshold=0.5)  # noqa: SLF001
    answer = variant.ask(QUESTION)  # the other model's wrong reply, and checks to replace it
    assert len(other.prompts) == 1 and answer.outcome == "extractive"
    assert answer.text == "Hà Nội là thủ đô của Việt Nam từ năm 1976 [1]."
    assert base.variant(k=3)._generator is base._generator  # noqa: SLF001
