"""Quote, then answer (issue 15.4 and 15.5): the model first copies the passage sentence that holds the
answer, in «», then writes "→" and the short phrase: «Hồ Tây là hồ … rộng hơn 500 ha.» → Hồ Tây [2].

Copying a whole sentence first makes a 1.5B model look for the fact before it names it (stop 23: the model
alone was right more often on the tuning half). The quote is kept as the reply's evidence, never shown: the
stream hides it and the checks get the phrase. With a generator that takes a GBNF grammar the quote is one
of the prompt's passage sentences, verbatim, and the arrow always follows; without one the reply is read
as written (a reply with no arrow is the answer as it stands). Pure Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.answer.copying import SENTENCE_END, Passage, gbnf_literal, takes_grammar, writable
from rag.answer.reply import Run, ms
from rag.checks.grounding import REFUSAL

OPEN, CLOSE, ARROW = "«", "»", "→"
_MAX_PHRASE_CHARS = 240  # the phrase after the arrow: a short answer, not a second quote


@dataclass(frozen=True)
class Quoted:
    """A reply split at its arrow: the quoted sentence (None when the reply has no arrow) and the phrase."""

    quote: str | None
    phrase: str


def grammar_capable(generator: object) -> bool:
    """Can the quote be decoded under a grammar: the generator's stream() takes one and, for a server, the server
    does too (an OpenAI-compatible server that is not llama.cpp's is read freely instead)."""
    accepts = getattr(generator, "accepts_grammar", None)
    return takes_grammar(generator) and (accepts is None or bool(accepts()))


def split_reply(raw: str) -> Quoted:
    """The quote and the phrase after the last arrow (the grammar's phrase holds none; a quoted passage sentence
    may); a reply without an arrow is all phrase (the model wrote freely)."""
    at = raw.rfind(ARROW)
    if at < 0:
        return Quoted(None, raw.strip())
    quote = raw[:at].strip()
    quote = quote[1:] if quote.startswith(OPEN) else quote
    quote = quote[:-1] if quote.endswith(CLOSE) else quote
    return Quoted(quote.strip(), raw[at + len(ARROW) :].strip())


def hide_quote(pieces: Iterator[str]) -> Iterator[str]:
    """The streamed pieces from after the arrow on; the quote before it is held back. A reply that does not
    open with « (the refusal, or a model that wrote freely) is streamed as it comes; a quote that ends
    without an arrow is released whole at its end."""
    held: list[str] = []
    for piece in pieces:
        held.append(piece)
        text = "".join(held)
        head = text.lstrip()
        if head and not head.startswith(OPEN):
            yield head
            yield from pieces
            return
        at = text.find(ARROW)
        if at >= 0:
            rest = text[at + len(ARROW) :].lstrip()
            while not rest:  # the phrase starts at its first letter
                more = next(pieces, None)
                if more is None:
                    return
                rest = more.lstrip()
            yield rest
            yield from pieces
            return
    text = "".join(held).strip()
    if text:
        yield text


def unquoted(pieces: Iterator[str], run: Run, started: float) -> Iterator[str]:
    """The reply streamed from after its arrow (hide_quote); once it ends, run.raw is the phrase and run.quote the
    quote, and the first token's time is the first shown one's (the quote is generated, not shown)."""
    shown = run.first_token_ms is not None  # a second call (a retry) keeps the first call's time
    for piece in hide_quote(pieces):
        if not shown:
            run.first_token_ms, shown = ms(started), True
        yield piece
    if not shown:
        run.first_token_ms = ms(started)
    quoted = split_reply(run.raw)
    run.raw, run.quote = quoted.phrase, quoted.quote


def sentences(passages: Sequence[Passage]) -> list[str]:
    """The passage sentences a quote may be: each line of each passage cut at its sentence ends, without the
    characters the generator cannot write (rag.answer.copying.writable)."""
    found: list[str] = []
    for passage in passages:
        for line in writable(passage.text).splitlines():
            found.extend(s.strip() for s in SENTENCE_END.split(line) if s.strip())
    return list(dict.fromkeys(found))


def quote_grammar(passages: Sequence[Passage], *, refusal: str = REFUSAL) -> str | None:
    """GBNF for "«one passage sentence, verbatim» → a phrase on one line", or the refusal sentence; None when
    no passage has a sentence (the reply is decoded freely then)."""
    quotable = sentences(passages)
    if not quotable:
        return None
    alternatives = " | ".join(gbnf_literal(s) for s in quotable)
    return "\n".join(
        [
            f"root ::= quoted | {gbnf_literal(refusal)}",
            f'quoted ::= "{OPEN}" sentence "{CLOSE} {ARROW} " phrase',
            f"sentence ::= {alternatives}",
            f"phrase ::= [^\\n{OPEN}{CLOSE}{ARROW}]{{1,{_MAX_PHRASE_CHARS}}}",
        ]
    )
