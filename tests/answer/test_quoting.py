"""Quote, then answer (rag.answer.quoting): the reply split at its arrow, the quote hidden from the stream, the
grammar of "«passage sentence» → phrase", and the assistant's quote_first flow with a scripted generator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.answer.completion import STOP, CallState, Completion
from rag.answer.copying import Passage, copy_grammar, prompt_passages, writable
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.answer.quoting import Quoted, grammar_capable, hide_quote, quote_grammar, sentences, split_reply
from rag.checks.grounding import REFUSAL, GroundingSettings
from rag.errors import ConfigError
from rag.types import Answer
from tests.answer.test_copying import DOCS, GrammarScripted
from tests.fakes import ScriptedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]


def test_a_reply_splits_at_its_arrow_into_the_quote_and_the_phrase() -> None:
    assert split_reply("«Hồ Tây là hồ lớn nhất.» → Hồ Tây [2].") == Quoted("Hồ Tây là hồ lớn nhất.", "Hồ Tây [2].")
    assert split_reply(" Hồ Tây [2]. ") == Quoted(None, "Hồ Tây [2].")  # no arrow: the model wrote freely
    assert split_reply(REFUSAL) == Quoted(None, REFUSAL)
    assert split_reply("«A.» → B → C [1].") == Quoted("A.» → B", "C [1].")  # the phrase follows the last arrow


def test_the_stream_holds_the_quote_back_and_starts_at_the_phrase_first_letter() -> None:
    pieces = ["«Hồ", " Tây là", " hồ.»", " →", " ", " Hồ", " Tây [2]."]
    assert list(hide_quote(iter(pieces))) == ["Hồ", " Tây [2]."]
    assert list(hide_quote(iter(["«Hồ.» → H", "ồ [1]."]))) == ["H", "ồ [1]."]
    # a reply that opens with no quote (the refusal, a model writing freely) streams as it comes
    assert list(hide_quote(iter(["Không tìm", " thấy."]))) == ["Không tìm", " thấy."]
    assert list(hide_quote(iter([" «Hồ", " Tây."]))) == ["«Hồ Tây."]  # a quote with no arrow: released at its end
    assert list(hide_quote(iter(["«Hồ.» →", " "]))) == []


def test_the_grammar_admits_one_passage_sentence_verbatim_then_a_phrase_on_one_line() -> None:
    passages = [Passage(1, 'Hồ Tây\nHồ Tây là hồ "lớn" nhất. Rộng 500 ha.'), Passage(2, "Huế\nHuế là cố đô.")]
    assert sentences(passages) == ["Hồ Tây", 'Hồ Tây là hồ "lớn" nhất.', "Rộng 500 ha.", "Huế", "Huế là cố đô."]
    grammar = quote_grammar(passages)
    assert grammar is not None
    assert grammar.splitlines() == [
        f'root ::= quoted | "{REFUSAL}"',
        'quoted ::= "«" sentence "» → " phrase',
        'sentence ::= "Hồ Tây" | "Hồ Tây là hồ \\"lớn\\" nhất." | "Rộng 500 ha." | "Huế" | "Huế là cố đô."',
        "phrase ::= [^\\n«»→]{1,240}",
    ]
    assert quote_grammar([Passage(1, "  \n ")]) is None


def _assistant(tmp_path: Path, generator: ScriptedGenerator, **options):  # noqa: ANN202
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    grounding = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)
    return make_assistant(dense_retriever(DOCS, tmp_path / "idx"), generator, builder, grounding=grounding, **options)


def test_quote_first_asks_with_the_quote_prompt_streams_the_phrase_and_checks_it(tmp_path: Path) -> None:
    generator = GrammarScripted(["«Hà Nội là thủ đô của Việt Nam từ năm 1976.» → Hà Nội [1]."])
    events = list(_assistant(tmp_path, generator, quote_first=True).stream("Thủ đô của Việt Nam là gì?", k=2))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert "".join(e for e in events if isinstance(e, str)) == "Hà Nội [1]."  # the quote is never shown
    assert answer.text == "Hà Nội [1]." and answer.short_answer == "Hà Nội" and answer.outcome == "answered"
    system = generator.prompts[0][0].content
    assert system == PromptTemplates.load(REPO / "prompts").fill("answer_system_quote")
    assert "«" in system and "→" in system
    grammar = generator.grammars[0]
    assert grammar is not None and '"Hà Nội là thủ đô của Việt Nam từ năm 1976."' in grammar
    assert prompt_passages(generator.prompts[0][-1].content)[0].number == 1


def test_quote_first_with_a_generator_that_takes_no_grammar_reads_a_free_reply_as_written(tmp_path: Path) -> None:
    generator = ScriptedGenerator(["Hà Nội [1]."])  # no grammar keyword: decoded freely, no arrow
    answer = _assistant(tmp_path, generator, quote_first=True).ask("Thủ đô của Việt Nam là gì?", k=2)
    assert answer.text == "Hà Nội [1]."


def test_quote_first_and_copy_span_always_are_refused_together() -> None:
    from rag.answer.settings import AnswerSettings

    with pytest.raises(ConfigError, match="turn one of them off"):
        AnswerSettings(quote_first=True, copy_span="always")


class Paced(GrammarScripted):
    """Each reply piece comes PACE seconds after the last, as a model decodes tokens."""

    PACE = 0.01

    def stream(self, messages, *, max_tokens=384, temperature=0.0, grammar=None) -> Completion:  # noqa: ANN001
        scripted = super().stream(messages, max_tokens=max_tokens, temperature=temperature, grammar=grammar)

        def produce(state: CallState) -> Iterator[str]:
            for piece in scripted:
                time.sleep(self.PACE)
                yield piece
            state.usage, state.finish_reason = scripted.usage, STOP

        return Completion(produce)


def test_quote_first_times_the_first_token_shown_not_the_hidden_quote(tmp_path: Path) -> None:
    quote = "«Hà Nội là thủ đô của Việt Nam từ năm 1976.» → "  # 16 pieces of 3 characters before the phrase
    generator = Paced([quote + "Hà Nội [1]."])
    answer = _assistant(tmp_path, generator, quote_first=True).ask("Thủ đô của Việt Nam là gì?", k=2)
    assert answer.text == "Hà Nội [1]."
    # the model's first token came after one pause; the first one shown, after the quote's 16
    assert answer.timings.first_token_ms is not None
    assert answer.timings.first_token_ms >= 1000 * Paced.PACE * (len(quote) // 3)


def test_a_server_that_takes_no_grammar_gets_the_quote_prompt_decoded_freely(tmp_path: Path) -> None:
    class OtherServer(GrammarScripted):  # as OpenAIGenerator against vLLM or OpenAI's API
        def accepts_grammar(self) -> bool:
            return False

    generator = OtherServer(["«Hà Nội là thủ đô của Việt Nam từ năm 1976.» → Hà Nội [1]."])
    assert not grammar_capable(generator) and grammar_capable(GrammarScripted([]))
    answer = _assistant(tmp_path, generator, quote_first=True).ask("Thủ đô của Việt Nam là gì?", k=2)
    assert generator.grammars == [None] and answer.text == "Hà Nội [1]."


def test_no_grammar_requires_a_character_the_generator_bans() -> None:
    # a Hán gloss or Hangul in a passage: the generator bans every CJK token, so a grammar that required one
    # would leave llama.cpp no token to take (it then aborts the process)
    passage = Passage(1, "Tần Văn công (文公) lên ngôi năm 765 TCN、 ở 한국 Tần.\nDòng hai")
    assert writable(passage.text) == "Tần Văn công lên ngôi năm 765 TCN ở Tần.\nDòng hai"
    assert sentences([passage]) == ["Tần Văn công lên ngôi năm 765 TCN ở Tần.", "Dòng hai"]
    for grammar in (quote_grammar([passage]), copy_grammar([passage])):
        assert grammar is not None and not any("\u3000" <= ch <= "\ud7ff" for ch in grammar)
