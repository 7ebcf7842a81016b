"""How the assistant answers: passages, prompt size and answer length (the defaults `Settings` reads)."""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import ConfigError

PASSAGE_ORDERS = ("retrieval", "evidence")
READINGS = ("joint", "each", "fallback")  # rag.answer.reading
ANSWER_FORMS = ("sentence", "phrase")  # rag.answer.sentence: a checked phrase answer as one sentence, or as written
# rag.answer.copying: the answer copied from a passage under a grammar: never, only where the free reply is no
# passage span (a second call), only where that reply also fails the checks (unsupported), or always (one call)
COPY_SPANS = ("off", "fallback", "unsupported", "always")
SPAN_CHOICES = ("free", "likelihood", "unsupported")  # rag.answer.choice


@dataclass(frozen=True)
class AnswerSettings:
    """k: passages retrieved and given to the model; max_tokens: answer length limit;
    prompt_chars: characters of question-relevant passage sentences in the prompt (0: whole
    passages); prompt_spread: every passage's best sentence first, so the prompt shows each
    passage; prompt_passages: how many passages, best retrieved first, the prompt shows of those with a
    selected sentence (0: all; the 1.5B model mixes passages up, so 1); answer_prompt_tokens: passages
    are dropped, weakest first, until the prompt fits (None: only the context limit); passage_order:
    "retrieval" (best retrieved first) or "evidence" (the passage whose best sentence covers the question's
    terms most first);
    reading: "joint" (one prompt with every passage), "each" (one prompt per passage, the best
    reply chosen: rag.answer.reading) or "fallback" (per passage only where the joint reply fails
    the checks); likelihood_weight and key_weight: weights of the reply's mean token log-probability
    and of its supporting sentence's share of the question's key terms in that choice;
    passage_chars and passage_max_tokens: one passage's prompt text and reply length there;
    answer_form: "sentence" (a checked bare phrase becomes one sentence built from the question:
    rag.answer.sentence) or "phrase" (as the model wrote it); copy_span: "off", "fallback" (a reply
    that is no span of a passage is asked again, decoded under a grammar that admits only a passage
    span and its marker: rag.answer.copying), "unsupported" (that only where the checks would not keep
    the reply as it is) or "always" (the one reply decoded so); copy_max_tokens:
    the copied reply's length limit in fallback (a longer span keeps the free reply); span_choice: "free", or
    "likelihood" (the reply with its fact swapped for each typed passage span, scored by the model:
    rag.answer.choice) or "unsupported" (that only where the checks would not keep the reply); span_margin:
    log-probability a candidate must beat the free reply by; span_candidates: spans scored at most;
    span_prior: weight of a reply's log-probability without the passages, subtracted from its score;
    quote_first: the model first copies the passage sentence that holds the answer in «», then "→" and the
    phrase (rag.answer.quoting; prompts/answer_system_quote.txt); the quote is hidden, the phrase checked."""

    k: int = 4
    max_tokens: int = 384
    temperature: float = 0.0
    max_question_chars: int = 2000
    prompt_chars: int = 1000
    prompt_spread: bool = False
    prompt_passages: int = 1
    answer_prompt_tokens: int | None = 700  # the worked examples take 184 of them
    passage_order: str = "retrieval"
    reading: str = "joint"
    likelihood_weight: float = 0.0
    key_weight: float = 0.0
    passage_chars: int = 600
    passage_max_tokens: int = 128
    answer_form: str = "sentence"
    copy_span: str = "off"
    copy_max_tokens: int = 48
    span_choice: str = "free"
    span_margin: float = 0.0
    span_candidates: int = 8
    span_prior: float = 0.0
    quote_first: bool = False

    def __post_init__(self) -> None:
        if self.passage_order not in PASSAGE_ORDERS:
            raise ConfigError(
                f"passage_order {self.passage_order!r} is unknown: use one of {', '.join(PASSAGE_ORDERS)}"
            )
        if self.answer_form not in ANSWER_FORMS:
            raise ConfigError(f"answer_form {self.answer_form!r} is unknown: use one of {', '.join(ANSWER_FORMS)}")
        if self.copy_span not in COPY_SPANS:
            raise ConfigError(f"copy_span {self.copy_span!r} is unknown: use one of {', '.join(COPY_SPANS)}")
        if self.span_choice not in SPAN_CHOICES:
            raise ConfigError(f"span_choice {self.span_choice!r} is unknown: use one of {', '.join(SPAN_CHOICES)}")
        if self.prompt_passages < 0:
            raise ConfigError(f"prompt_passages {self.prompt_passages} is negative: use 0 (all passages) or a count")
        if self.quote_first and self.copy_span == "always":
            raise ConfigError("quote_first and copy_span = always both constrain the reply: turn one of them off")
        if self.reading not in READINGS:
            raise ConfigError(f"reading {self.reading!r} is unknown: use one of {', '.join(READINGS)}")
