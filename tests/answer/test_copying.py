"""Copying the answer span (rag.answer.copying): the grammar builder, the span test, and the assistant's
copy_span flow with a scripted generator that records the grammar it was given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.answer.completion import Completion
from rag.answer.copying import Passage, copy_grammar, is_span, prompt_passages, takes_grammar
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.checks.grounding import REFUSAL, GroundingSettings
from rag.errors import ConfigError
from rag.eval.replay import RecordedGenerator
from rag.types import Answer, Document, Message
from tests.fakes import HashEmbedder, ScriptedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]


class GrammarScripted(ScriptedGenerator):
    """A ScriptedGenerator whose stream() takes a grammar, as the llama.cpp generators do; records each one."""

    def __init__(self, replies: Sequence[str]) -> None:
        super().__init__(replies)
        self.grammars: list[str | None] = []

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Completion:
        self.grammars.append(grammar)
        return super().stream(messages, max_tokens=max_tokens, temperature=temperature)


def test_the_grammar_of_one_line_is_a_chain_of_its_tokens_with_the_marker_after_each_word() -> None:
    grammar = copy_grammar([Passage(2, "Năm 1226, (Thăng Long).")])
    assert grammar.splitlines() == [
        'root ::= span | "Không tìm thấy thông tin này trong tài liệu."',
        'span ::= ( [Nn] "ăm" c2l0t0 ) | ( "1226" c2l0t1 ) | ( [Tt] "hăng" c2l0t4 ) | ( [Ll] "ong" c2l0t5 )',
        'm2 ::= " [2]."',
        'c2l0t0 ::= " " p2l0t1 | m2',
        'p2l0t0 ::= "Năm" c2l0t0',
        "c2l0t1 ::= p2l0t2 | m2",
        'p2l0t1 ::= "1226" c2l0t1',
        'c2l0t2 ::= " " p2l0t3',  # no span ends on a comma
        'p2l0t2 ::= "," c2l0t2',
        "c2l0t3 ::= p2l0t4",  # nor on an opening bracket, and none starts there
        'p2l0t3 ::= "(" c2l0t3',
        'c2l0t4 ::= " " p2l0t5 | m2',
        'p2l0t4 ::= "Thăng" c2l0t4',
        "c2l0t5 ::= p2l0t6 | m2",
        'p2l0t5 ::= "Long" c2l0t5',
        "c2l0t6 ::= m2",  # the closing bracket may end it; the full stop was dropped (the marker brings one)
        'p2l0t6 ::= ")" c2l0t6',
    ]


def test_spans_do_not_cross_lines_and_quotes_are_escaped() -> None:
    grammar = copy_grammar([Passage(1, 'Tựa\nGiá "1.610" đồng')])
    assert "c1l0t0 ::= m1" in grammar  # the title line "Tựa" ends there: no rule leads into the next line
    assert 'p1l1t1 ::= "\\"" c1l1t1' in grammar
    assert "c1l1t2 ::= p1l1t3 | m1" in grammar and 'p1l1t3 ::= "." c1l1t3' in grammar  # 1.610: "1" may end
    with pytest.raises(ValueError, match="no passage has a word"):
        copy_grammar([Passage(1, "... ,")])


def test_a_span_is_a_run_of_whole_words_of_one_passage_markers_and_case_aside() -> None:
    passages = [Passage(1, "Nhà Trần được thành lập năm 1226, ở Thăng Long."), Passage(2, "Huế là cố đô.")]
    assert is_span("Năm 1226 [1].", passages)
    assert is_span("thăng long", passages)
    assert not is_span("năm 122 [1].", passages)  # not a whole word
    assert not is_span("1226 ở Huế [2].", passages)  # words of two passages
    assert not is_span("[1].", passages)


def test_prompt_passages_reads_back_what_the_builder_fenced() -> None:
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4000)
    from rag.types import Chunk

    chunks = [Chunk("a", "a-0", "Huế", "Huế\nHuế là cố đô.", 0, 17), Chunk("b", "b-0", "Đà Nẵng", "Cầu Rồng.", 0, 9)]
    user = builder.passages(chunks, [1, 2])
    assert prompt_passages(user) == [Passage(1, "Huế\nHuế là cố đô."), Passage(2, "Đà Nẵng\nCầu Rồng.")]


DOCS = [
    Document("docs/ha-noi.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam từ năm 1976."),
    Document("docs/hue.txt", "Huế", "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."),
]


def _assistant(tmp_path: Path, replies: list[str], **options):  # noqa: ANN202
    generator = GrammarScripted(replies)
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    grounding = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)
    assistant = make_assistant(
        dense_retriever(DOCS, tmp_path / "idx"), generator, builder, grounding=grounding, **options
    )
    return assistant, generator


def _final(assistant, question: str) -> Answer:  # noqa: ANN001
    return [e for e in assistant.stream(question, k=2) if isinstance(e, Answer)][0]


def test_fallback_asks_again_under_the_grammar_only_when_the_reply_is_no_passage_span(tmp_path: Path) -> None:
    assistant, generator = _assistant(tmp_path, ["Thủ đô là TP Hà Nội [1].", "Hà Nội [1]."], copy_span="fallback")
    answer = _final(assistant, "Thủ đô của Việt Nam là thành phố nào?")
    assert generator.grammars[0] is None and generator.grammars[1] is not None
    assert '( [Hh] "à" c1l1t0 )' in generator.grammars[1]  # "Hà" of passage [1]'s text line
    first, again = generator.prompts
    assert again[:2] == first and again[2] == Message("assistant", "Thủ đô là TP Hà Nội [1].")
    assert again[3].content.startswith("Chép lại nguyên văn từ một tài liệu cụm từ ngắn nhất")  # prompts/answer_copy
    assert answer.text == "Hà Nội [1]."
    assert answer.usage.completion_tokens == 7 + 3  # both calls counted (a word is a token here)

    assistant, generator = _assistant(tmp_path, ["Hà Nội [1]."], copy_span="fallback")
    assert _final(assistant, "Thủ đô của Việt Nam là thành phố nào?").text == "Hà Nội [1]."
    assert generator.grammars == [None]  # already a span: one call


def test_unsupported_copies_only_a_reply_the_checks_would_not_keep(tmp_path: Path) -> None:
    # "Thủ đô là Hà Nội" is no passage span but the checks keep it (supported by passage [1]): not asked again
    assistant, generator = _assistant(tmp_path, ["Thủ đô là Hà Nội [1]."], copy_span="unsupported")
    assert _final(assistant, "Thủ đô của Việt Nam là thành phố nào?").text == "Thủ đô là Hà Nội [1]."
    assert generator.grammars == [None]
    assistant, generator = _assistant(tmp_path, ["Thủ đô là Sài Gòn [1].", "Hà Nội [1]."], copy_span="unsupported")
    assert _final(assistant, "Thủ đô của Việt Nam là thành phố nào?").text == "Hà Nội [1]."
    assert generator.grammars[0] is None and generator.grammars[1] is not None


def test_always_constrains_the_one_call_and_a_refusal_is_never_asked_again(tmp_path: Path) -> None:
    assistant, generator = _assistant(tmp_path, ["Hà Nội [1]."], copy_span="always")
    _final(assistant, "Thủ đô của Việt Nam là thành phố nào?")
    assert len(generator.grammars) == 1 and generator.grammars[0].startswith("root ::= span | ")
    assistant, generator = _assistant(tmp_path, [REFUSAL], copy_span="fallback")
    _final(assistant, "Thủ đô của Việt Nam là thành phố nào?")
    assert generator.grammars == [None]


def test_copy_span_with_a_generator_that_takes_no_grammar_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4000)
    plain = ScriptedGenerator(["Hà Nội [1]."])
    assert not takes_grammar(plain) and takes_grammar(GrammarScripted([]))
    with pytest.raises(ConfigError, match="copy_span = off"):
        make_assistant(dense_retriever(DOCS, tmp_path / "idx"), plain, builder, copy_span="fallback")
    with pytest.raises(ConfigError, match="copy_span 'sometimes' is unknown"):
        make_assistant(dense_retriever(DOCS, tmp_path / "idx2"), plain, builder, copy_span="sometimes")


def test_recorded_replies_are_keyed_by_the_grammar_and_old_keys_stay_valid(tmp_path: Path) -> None:
    recorded = RecordedGenerator(GrammarScripted(["Hà Nội [1].", "Hà [1]."]), tmp_path / "replies.jsonl")
    messages = [Message("user", "Thủ đô?")]
    free = recorded.key(messages, 16, 0.0)
    assert recorded.key(messages, 16, 0.0, None) == free
    assert recorded.key(messages, 16, 0.0, "root ::= x") != free
    assert recorded.stream(messages, max_tokens=16).text() == "Hà Nội [1]."
    assert recorded.stream(messages, max_tokens=16, grammar='root ::= "Hà [1]."').text() == "Hà [1]."
    again = RecordedGenerator(GrammarScripted([]), tmp_path / "replies.jsonl")  # nothing left to generate
    assert again.stream(messages, max_tokens=16, grammar='root ::= "Hà [1]."').text() == "Hà [1]."
    assert again.stream(messages, max_tokens=16).text() == "Hà Nội [1]."


def test_a_span_ends_at_its_sentence_but_a_number_with_a_dot_is_one_run() -> None:
    grammar = copy_grammar([Passage(1, "Giá 1.610 đồng. Sau đó tăng.")])
    assert "c1l0t1 ::= p1l0t2 | m1" in grammar and 'p1l0t3 ::= "610" c1l0t3' in grammar  # "1.610" goes on
    assert "c1l0t4 ::= m1" in grammar  # "đồng" ends the first sentence: nothing leads into "Sau"
    assert '( [Ss] "au" c1l1t0 )' in grammar  # the next sentence is a span of its own


@pytest.mark.parametrize(
    ("template", "setting"),
    [("answer_copy", ("RAG_COPY_SPAN", "fallback")), ("answer_system_quote", ("RAG_QUOTE_FIRST", "1"))],
)
def test_a_prompts_folder_without_an_optional_template_loads_and_names_it_only_when_its_setting_asks(
    tmp_path: Path, template: str, setting: tuple[str, str]
) -> None:
    """A RAG_PROMPTS_DIR written before copy_span (or quote_first) existed keeps working with it off; turned on,
    the wiring refuses at once, naming the missing file, instead of failing in the middle of an answer."""
    from rag.setup.config import load_settings
    from rag.setup.wiring import build_assistant

    folder = tmp_path / "prompts"
    folder.mkdir()
    for path in (REPO / "prompts").glob("*.txt"):
        if path.name != f"{template}.txt":
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    templates = PromptTemplates.load(folder)
    assert template not in templates.templates
    with pytest.raises(ConfigError, match=rf"{template}\.txt is missing"):
        templates.fill(template)
    dense = dense_retriever([Document("a.txt", "A", "Nhà Trần được thành lập vào năm 1226.")], tmp_path / "idx")
    store, embedder = dense.store, HashEmbedder()
    env = {"RAG_PROMPTS_DIR": str(folder), "RAG_INDEX": str(tmp_path / "idx")}
    off = build_assistant(load_settings(env), store=store, embedder=embedder, generator=GrammarScripted(["1226 [1]."]))
    assert off.ask("Nhà Trần được thành lập vào năm nào?").text.startswith("Nhà Trần")
    with pytest.raises(ConfigError, match=rf"{template}\.txt is missing"):
        build_assistant(
            load_settings({**env, setting[0]: setting[1]}),
            store=store,
            embedder=embedder,
            generator=GrammarScripted(["1226 [1]."]),
        )
