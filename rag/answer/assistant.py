"""The question-answering flow: validate -> retrieve -> select sentences -> prompt -> stream -> check -> cite.

The streamed text is the model's, markers cleaned; the final Answer is the checked one (every
sentence supported by the passage it cites, or re-cited, or dropped; an extractive answer or
the fixed refusal sentence when the model's answer does not survive) and replaces it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer.choice import require_scorer, span_reply
from rag.answer.cite import cite
from rag.answer.copying import COPIED, is_span, prompt_passages, require_grammar, span_grammar
from rag.answer.prompting import first_shown
from rag.answer.question import check_question, collect
from rag.answer.quoting import grammar_capable, quote_grammar, unquoted
from rag.answer.reading import EACH, FALLBACK, read_each
from rag.answer.reply import Run, drained, ms, stream_reply
from rag.answer.sentence import as_sentence
from rag.answer.settings import AnswerSettings
from rag.answer.stops import strip_markers
from rag.answer.summarize import Summarizer, SummarySettings
from rag.answer.summary_settings import MAX_SENTENCES_ASKED
from rag.checks.analysis import Analysis, analyze, excerpt
from rag.checks.claims import adds_nothing
from rag.checks.grounding import (
    ANSWERED,
    MODEL_REFUSED,
    REFUSED,
    UNANSWERABLE,
    Grounded,
    GroundingSettings,
    gate_refusal,
    ground,
    is_refusal,
    unanswerable,
    verified,
)
from rag.errors import QuestionError
from rag.text.vietnamese import has_diacritics, is_vietnamese, nfc, reads_vietnamese
from rag.types import Answer, Chunk, Hit, Message, Timings, Usage

if TYPE_CHECKING:
    from rag.answer.generate import Generator as TextGenerator
    from rag.answer.prompting import Prompt, PromptBuilder


class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[Hit]: ...


@dataclass(frozen=True)
class _Reply:
    """What the final Answer of one question is built from, besides the checked text and the run."""

    question: str
    analysis: Analysis | None  # of the passages retrieved for the prompt (None for summaries)
    hits: list[Hit]  # the passages in the prompt: marker [n] is hits[n - 1]
    retrieved: Sequence[Hit]
    started: float
    retrieve_ms: float
    read_as: str | None


class Assistant:
    """Answers a Vietnamese question from the index, citing passages as [n]."""

    def __init__(
        self,
        retriever: Retriever,
        generator: TextGenerator | None,
        builder: PromptBuilder | None,
        *,
        settings: AnswerSettings | None = None,
        grounding: GroundingSettings | None = None,
        spell: Callable[[str], str] | None = None,
        summary: SummarySettings | None = None,
    ) -> None:
        """settings: passages, prompt size and answer length (rag.answer.settings);
        grounding: thresholds of the refusal and support checks (None: answers are not checked);
        spell: how a question typed without diacritics is written for the model (e.g. with its
        marks restored from the collection); None: as typed. The checks always use the question as typed.
        summary: length and dedup limits of summaries (rag.answer.summarize)."""
        self._retriever = retriever
        self._generator = generator
        self._builder = builder
        self._settings = settings or AnswerSettings()
        self._grounding = grounding
        self._spell = spell
        self._summary = summary or SummarySettings()
        if self._settings.copy_span != "off" and generator is not None:
            require_grammar(generator, self._settings.copy_span)
        self._quote_grammar: bool | None = None  # quote_first: found at the first question (a server is asked)
        if generator is not None:
            require_scorer(generator, self._settings.span_choice)

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    def variant(
        self, *, generator: TextGenerator | None = None, grounding: GroundingSettings | None = None, **answer: Any
    ) -> Assistant:
        """This assistant with some answer settings changed (AnswerSettings fields), and optionally another
        generator (a wrapper of this one's model) or other checks; the same retriever, prompts and spelling.
        Benchmarks compare such variants on one loaded model."""
        return Assistant(
            self._retriever,
            generator or self._generator,
            self._builder,
            settings=replace(self._settings, **answer),
            grounding=grounding or self._grounding,
            spell=self._spell,
            summary=self._summary,
        )

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        prompt_k: int | None = None,
        retrieve_only: bool = False,
        max_tokens: int | None = None,
        unchecked: bool = False,
        temperature: float | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are generated, then the final (checked) Answer.

        k passages are retrieved (and reported); the first prompt_k (default all k) go to the model.
        unchecked: also ask the model when the checks refuse before it, and report its own answer
        (one prompt, checks off) as Answer.unchecked: what `rag eval` measures the checks against.
        temperature: this question's sampling temperature (default: the assistant's).
        """
        started = time.perf_counter()
        question = check_question(question, max_chars=self._settings.max_question_chars)
        hits = self._retriever.search(question, k or self._settings.k)
        retrieve_ms = ms(started)
        candidates = hits[:prompt_k] if prompt_k else hits
        analysis = analyze(question, candidates)  # computed once: every check below reads it
        if retrieve_only or self._generator is None or self._builder is None:
            timings = Timings(retrieve_ms, None, retrieve_ms)
            yield Answer(question, "", retrieved=tuple(hits), timings=timings, analysis=analysis)
            return
        read_as = self._model_question(question)
        prompt = self._prompt(read_as, analysis, candidates)
        shown = analysis.restrict(prompt.hits)
        restored = None if read_as == question else read_as  # reported with the answer
        reply = _Reply(question, analysis, shown.hits, hits, started, retrieve_ms, restored)
        reason, borderline = self._gate(analysis, shown)
        opts = {"max_tokens": max_tokens, "temperature": temperature}
        joint = Run()
        streamed = reason is None and self._settings.reading != EACH
        if streamed or unchecked:  # rag eval wants the model's own answer even where the checks refuse first
            pieces = self._stream(
                prompt.messages, len(prompt.hits), started, joint, grammar=self._grammar(prompt), **opts
            )
            yield from pieces if streamed else drained(pieces)
        if unchecked:
            joint.cited = cite(joint.raw, shown.hits)
        model_answer = joint.cited.text if joint.cited is not None else None
        if reason is not None:  # the passages cannot hold the answer: say so at once (or hedge)
            grounded = self._refuse(shown, reason)
            yield grounded.text
            yield self._answer(reply, grounded, Run(first_token_ms=ms(started)), model_answer)
            return
        run, seen = yield from self._read(
            read_as, prompt, shown, analysis, joint if streamed else None, started, **opts
        )
        reply = replace(reply, hits=seen.hits)  # per passage, every candidate passage was read: [n] is candidates[n-1]
        grounded = self._check(seen, run, doubted=borderline is not None)
        if borderline is not None and not self._verified(grounded, seen):
            grounded = self._refuse(shown, borderline)
        if self._settings.answer_form == "sentence":  # "1226 [1]." -> "Nhà Trần được thành lập vào năm 1226 [1]."
            grounded = as_sentence(grounded, question)  # as typed: a restored reading may misspell a name
        yield self._answer(reply, grounded, run, model_answer)

    def _grammar(self, prompt: Prompt) -> str | None:
        """The grammar the one reply is decoded under: copy_span always's passage spans, quote_first's
        "«passage sentence» → phrase" (where the generator takes a grammar), or none."""
        if self._settings.copy_span == "always":
            return span_grammar(prompt_passages(prompt.messages[-1].content))
        if not self._settings.quote_first:
            return None
        if self._quote_grammar is None:
            self._quote_grammar = grammar_capable(self._generator)
        return quote_grammar(prompt_passages(prompt.messages[-1].content)) if self._quote_grammar else None

    def _gate(self, retrieved: Analysis, shown: Analysis) -> tuple[str | None, str | None]:
        """Why the checks refuse before the model is asked (None: ask it), and the reason they doubt where the model
        is asked anyway and its answer kept only if verified (verify_unanswerable: the answerability model's
        doubt; verify_key: either gate's)."""
        settings = self._grounding
        reason = None if settings is None else unanswerable(retrieved, shown, settings)
        if reason == UNANSWERABLE and settings is not None and settings.verify_unanswerable:
            return None, UNANSWERABLE
        if reason is not None and settings is not None and settings.verify_key is not None and shown.passages:
            return None, reason
        return reason, None

    def _verified(self, grounded: Grounded, seen: Analysis) -> bool:
        """A doubted answer stands: supported, and with verify_key by sentences about what was asked."""
        assert self._grounding is not None
        key = self._grounding.verify_key
        return grounded.outcome == ANSWERED if key is None else verified(grounded, seen, key)

    def _refuse(self, shown: Analysis, reason: str) -> Grounded:
        """The refusal, or the hedge where the checks find the case borderline (rag.checks.grounding.gate_refusal)."""
        assert self._grounding is not None
        return gate_refusal(shown, reason, self._grounding)

    def _read(
        self,
        read_as: str,
        prompt: Prompt,
        shown: Analysis,
        every: Analysis,
        joint: Run | None,
        started: float,
        **opts: Any,
    ) -> Generator[str, None, tuple[Run, Analysis]]:
        """The reply the checks get and the passages its markers number: the one prompt's (joint, streamed
        already; the passages it showed), or with reading "each" the best of one prompt per candidate passage
        (every one of them, though the joint prompt's sentence budget may show fewer), or with "fallback" that
        only where the joint reply fails the checks."""
        if joint is not None:
            off_language = not joint.raw or not reads_vietnamese(joint.raw, context=shown.context())
            if self._grounding is not None and off_language and not is_refusal(joint.raw):
                joint = self._in_vietnamese(prompt, shown, joint, started, **opts)
            joint = self._copied(prompt, shown, joint, started, **opts)
            chosen = span_reply(self._generator, prompt.messages, joint.raw, shown, self._settings, self._grounding)
            joint = joint if chosen == joint.raw else replace(joint, raw=chosen, cited=None)
            if self._settings.reading != FALLBACK or self._grounding is None:
                return joint, shown
            if ground(shown, joint.raw, self._grounding).outcome == ANSWERED:
                return joint, shown
        spent = joint.usage if joint is not None else Usage()
        weights = {"likelihood_weight": self._settings.likelihood_weight, "key_weight": self._settings.key_weight}
        run = read_each(
            every,
            lambda alone: self._read_one(read_as, alone, started, **opts),
            self._grounding,
            usage=spent,
            **weights,
        )
        run.first_token_ms = ms(started)
        if joint is None:  # nothing was streamed yet: show the chosen reply
            yield cite(run.raw, every.hits).text
        return run, every

    def _copied(self, prompt: Prompt, shown: Analysis, run: Run, started: float, **opts: Any) -> Run:
        """copy_span fallback: a reply that is no passage span (unsupported: and that the checks would not keep) is
        asked again to be copied verbatim, decoded under the grammar of the prompt's passage spans (not streamed:
        the checked answer replaces it); a copy cut by copy_max_tokens, or refused, keeps it. Usage counts both."""
        assert self._builder is not None
        mode, grounding = self._settings.copy_span, self._grounding
        if mode not in ("fallback", "unsupported") or is_refusal(run.raw):
            return run  # off, or always (the one call was constrained already): no grammar to build
        passages = prompt_passages(prompt.messages[-1].content)
        grammar = span_grammar(passages)
        if grammar is None or is_span(run.raw, passages):
            return run
        if mode == "unsupported" and grounding is not None and ground(shown, run.raw, grounding).outcome == ANSWERED:
            return run
        copied = Run(first_token_ms=run.first_token_ms, usage=run.usage)
        limit = min(opts.pop("max_tokens", None) or self._settings.max_tokens, self._settings.copy_max_tokens)
        messages = self._builder.copy_request(prompt.messages, run.raw)
        for _ in self._stream(messages, len(prompt.hits), started, copied, grammar=grammar, max_tokens=limit, **opts):
            pass
        return copied if COPIED.search(copied.raw) else run

    def _read_one(self, read_as: str, alone: Analysis, started: float, **opts: Any) -> Run:
        """The model's reply to the question over one passage alone (its best sentences, passage_chars)."""
        assert self._builder is not None and self._generator is not None
        text = excerpt(alone.select(max_chars=self._settings.passage_chars)[0])
        prompt = self._builder.build(read_as, alone.hits, self._generator.count_prompt_tokens, texts=[text])
        limit = min(opts.get("max_tokens") or self._settings.max_tokens, self._settings.passage_max_tokens)
        one = Run()
        for _ in self._stream(prompt.messages, 1, started, one, max_tokens=limit, temperature=opts.get("temperature")):
            pass
        return one

    def _prompt(self, read_as: str, analysis: Analysis, candidates: Sequence[Hit]) -> Prompt:
        """The answer prompt: the passages in the configured order, as their selected sentences."""
        assert self._builder is not None and self._generator is not None
        ordered = analysis
        if self._settings.passage_order == "evidence":  # the passage whose best sentence covers the question most first
            best = {p.hit.chunk.chunk_id: max((s.score for s in p.sentences), default=0.0) for p in analysis.passages}
            ordered = analysis.restrict(sorted(candidates, key=lambda h: -best[h.chunk.chunk_id]))
        if self._settings.prompt_chars:
            groups = ordered.select(max_chars=self._settings.prompt_chars, spread=self._settings.prompt_spread)
            texts = [excerpt(group) for group in groups]
        else:  # whole passages, less any sentence addressed to the model
            groups = [list(p.sentences) for p in ordered.passages]
            texts = [excerpt(p.sentences) if p.instructions else p.hit.chunk.text for p in ordered.passages]
        if self._settings.prompt_passages:  # one that only restates the question (an FAQ line, a bait) is passed over
            said = [any(not adds_nothing(s.text, analysis.question, fold=analysis.fold) for s in g) for g in groups]
            texts = first_shown(texts, self._settings.prompt_passages, said)
        return self._builder.build(
            read_as,
            ordered.hits,
            self._generator.count_prompt_tokens,
            texts=texts,
            max_tokens=self._settings.answer_prompt_tokens,
            system="answer_system_quote" if self._settings.quote_first else "answer_system",
        )

    def _in_vietnamese(
        self,
        prompt: Prompt,
        shown: Analysis,
        run: Run,
        started: float,
        *,
        max_tokens: int | None,
        temperature: float | None,
    ) -> Run:
        """The reply drifted into another language: ask once more, strictly (not streamed: the final answer
        replaces it). Usage counts both calls; an answer still not in Vietnamese is dropped."""
        assert self._builder is not None
        retry = Run(first_token_ms=run.first_token_ms, usage=run.usage)
        messages = self._builder.vietnamese_only(prompt.messages, run.raw)
        for _ in self._stream(
            messages, len(prompt.hits), started, retry, max_tokens=max_tokens, temperature=temperature
        ):
            pass
        retry.raw = retry.raw if reads_vietnamese(retry.raw, context=shown.context()) else ""
        return retry

    def _model_question(self, question: str) -> str:
        """The question as the model reads it: a small model misreads Vietnamese typed without marks."""
        if self._spell is None or has_diacritics(question):
            return question
        return nfc(self._spell(question)) or question

    def _check(self, shown: Analysis, run: Run, *, doubted: bool = False) -> Grounded:
        """The checked answer; doubted: a gate doubted it and the model was asked anyway, so the evidence
        threshold is not applied a second time (the verification decides)."""
        if self._grounding is None:
            run.cited = run.cited or cite(run.raw, shown.hits)
            if is_refusal(run.cited.text):
                return Grounded(run.cited.text, (), REFUSED, MODEL_REFUSED)
            return Grounded(run.cited.text, (), ANSWERED)
        settings = replace(self._grounding, evidence_threshold=0.0) if doubted else self._grounding
        return ground(shown, run.raw, settings)

    def _answer(self, reply: _Reply, grounded: Grounded, run: Run, unchecked: str | None = None) -> Answer:
        hits = reply.hits
        raw = run.cited if run.cited is not None or not hits else cite(run.raw, hits)
        cited = raw if raw is not None and raw.text == grounded.text else cite(grounded.text, hits)
        raw_invalid = raw.invalid_markers if raw is not None else ()
        return Answer(
            question=reply.question,
            text=cited.text,
            citations=cited.citations,
            retrieved=tuple(reply.retrieved),
            invalid_markers=tuple(dict.fromkeys((*raw_invalid, *cited.invalid_markers))),
            timings=Timings(reply.retrieve_ms, run.first_token_ms, ms(reply.started)),
            usage=run.usage,
            sentences=grounded.sentences,
            outcome=grounded.outcome,
            passages=tuple(hits),
            refusal_reason=grounded.reason,
            read_as=reply.read_as,
            analysis=reply.analysis,
            unchecked=unchecked,
            short_answer=grounded.short_answer,
        )

    def _stream(self, messages: list[Message], n_passages: int, started: float, run: Run, **opts: Any) -> Iterator[str]:
        """The model's reply streamed, markers cleaned (rag.answer.reply); run gets its text, timings and usage.
        opts: max_tokens, temperature, grammar (GBNF the reply must follow: copy_span)."""
        assert self._generator is not None
        limit = opts.get("max_tokens") or self._settings.max_tokens
        temperature = opts.get("temperature")
        temperature = self._settings.temperature if temperature is None else temperature
        call = (self._generator, messages, n_passages, started, run)
        pieces = stream_reply(*call, max_tokens=limit, temperature=temperature, grammar=opts.get("grammar"))
        return unquoted(pieces, run, started) if self._settings.quote_first else pieces

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        prompt_k: int | None = None,
        retrieve_only: bool = False,
        unchecked: bool = False,
    ) -> Answer:
        """Non-streaming form of stream()."""
        return collect(self.stream(question, k=k, prompt_k=prompt_k, retrieve_only=retrieve_only, unchecked=unchecked))

    def condense(self, history: Sequence[tuple[str, str]], question: str) -> str:
        """Rewrite a follow-up ("Còn năm 2022 thì sao?") into a standalone question using the chat so far."""
        question = check_question(question, max_chars=self._settings.max_question_chars)
        if not history or self._generator is None or self._builder is None:
            return question
        recent = [(q, strip_markers(a)[:400]) for q, a in history[-3:]]
        messages = self._builder.condense(recent, question)
        text = "".join(self._generator.stream(messages, max_tokens=80, temperature=0.0)).strip()
        rewritten = text.splitlines()[0].strip() if text else ""
        rewritten = re.sub(r"^(Câu hỏi( viết lại)?\s*:\s*)", "", rewritten, flags=re.IGNORECASE).strip().strip('"“”')
        if not rewritten or not is_vietnamese(rewritten) or len(rewritten) > 4 * len(question) + 200:
            return question
        return rewritten

    def topic_passages(self, topic: str, *, k: int = 8) -> list[Chunk]:
        """The passages of the index most about topic, in document order per source (for a topic summary)."""
        topic = check_question(topic, max_chars=self._settings.max_question_chars)
        hits = self._retriever.search(topic, k)
        return sorted((h.chunk for h in hits), key=lambda c: (c.source, c.start))

    def summarize(
        self,
        chunks: Sequence[Chunk],
        *,
        topic: str,
        max_tokens: int | None = None,
        on_topic: bool = False,
        sentences: int | None = None,
    ) -> Iterator[str | Answer]:
        """A cited summary of the given passages (a document's chunks, or the passages on a topic from several
        documents): their fact-dense sentences, streamed one by one, each cited and checked (rag.answer.summarize).

        on_topic: only sentences on topic, no opening sentence (a topic summary); else topic is the title.
        sentences: at most this many instead of SummarySettings.max_sentences, the word limit scaled with it
        (the share of the document stays)."""
        if self._summary.compress and (self._generator is None or self._builder is None):
            raise QuestionError("summaries with compress=True need the language model: start the assistant with one")
        if not chunks:
            raise QuestionError(f"nothing to summarise for {topic!r}: the document has no indexed passages")
        settings = self._summary
        if sentences is not None:
            if not 1 <= sentences <= MAX_SENTENCES_ASKED:
                raise QuestionError(
                    f"{sentences} sentences is out of range for a summary: ask for 1..{MAX_SENTENCES_ASKED}"
                )
            words = max(settings.min_words, settings.max_words * sentences // settings.max_sentences)
            settings = replace(settings, max_sentences=sentences, max_words=words)
        summarizer = Summarizer(self._generator, self._builder, grounding=self._grounding, settings=settings)
        return summarizer.stream(
            chunks, topic=self._model_question(topic), asked=topic, on_topic=on_topic, max_tokens=max_tokens
        )
