"""One short Vietnamese sentence from a checked short answer (issue 15.5), without a second model call.

Vietnamese keeps its question words in place ("Nhà Trần được thành lập vào năm nào?"), so the
answer sentence is the question with its question word replaced by the fact: "Nhà Trần được
thành lập vào năm 1226 [1].", "Ai là người rửa tội cho George?" -> "Thomas Secker là người rửa
tội cho George [1].". Only where that is safe: one question word, not a why/how/yes-no question,
a short fact, a question written with its diacritics; otherwise None (the model's text stays).
Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rag.answer.stops import strip_markers
from rag.checks.claims import tokens
from rag.checks.grounding import ANSWERED, Grounded
from rag.checks.phrases import MEASURE_WORDS, bare_fact
from rag.text.vietnamese import has_diacritics, nfc

_MAX_FACT_WORDS = 6  # a longer fact is a clause of its own: the model's sentence stays
_PHRASE_WORDS = 3  # up to this many words any fact; longer ones only names and numbers ("Victoria và Elizabeth II")
_LEFT = re.compile(r"(?<!\w)(ai|gì|nào|đâu|bao nhiêu|mấy)(?!\w)", re.IGNORECASE)
# why / how / yes-no questions have no slot a fact can fill
_NO_SLOT = re.compile(
    r"\b(tại sao|vì sao|làm sao|ra sao|thế nào|như nào|bằng cách nào|có phải|hay không|không|chưa|phải không)\s*\??$"
    r"|\b(tại sao|vì sao|thế nào|ra sao)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^\d{3,4}$")
# a fact that ends in its own unit ("1.100 km", "104,45°") takes the place of the unit the question names
_FACT_UNIT = re.compile(r"\d\s*(?:km|m|cm|mm|kg|g|ha|%|°C?|độ|mét|tấn|lít)$", re.IGNORECASE)
_ASKED_UNIT = re.compile(
    r"^\s*(?:ki-lô-mét|kilômét|kilomet|km|mét|m|độ|ki-lô-gam|kilôgam|kg|tấn|héc-ta|hécta|ha|phần trăm|%|lít)(?!\w)",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\d{1,2}\s+tháng\b", re.IGNORECASE)
# (pattern, kind), longest first; kind says how the fact is fitted into the slot
_SLOTS = (
    (r"vào năm nào|vào năm bao nhiêu|vào năm mấy", "year"),
    (r"năm nào|năm bao nhiêu|năm mấy", "year"),
    (r"vào thời gian nào|vào thời điểm nào|vào lúc nào|vào khi nào", "when"),
    (r"khi nào|bao giờ|lúc nào|thời gian nào|thời điểm nào", "when"),
    (r"ở đâu|tại đâu|ở nơi nào|nơi nào|chỗ nào", "where"),
    (r"bao nhiêu|mấy", "number"),
    (r"ai|gì|nào|đâu", "plain"),
)


def answer_sentence(question: str, fact: str, marker: int | None) -> str | None:
    """The question turned into its answer with fact in the question word's place, cited [marker]; or None."""
    fact = nfc(fact).strip().rstrip(".!?…").strip()
    slot = _slot(question)
    if not fact or slot is None or len(fact.split()) > _MAX_FACT_WORDS:
        return None
    kind, before, asked, after = slot
    if kind == "number" and _FACT_UNIT.search(fact):  # "… bao nhiêu ki-lô-mét?" + "1.100 km": not "1.100 km ki-lô-mét"
        after = _ASKED_UNIT.sub("", after, count=1)
    filled = _fit(kind, asked, _unrepeated(before, fact), after)
    if filled is None:
        return None
    text = " ".join(f"{before}{filled}{after}".split())
    cite = f" [{marker}]" if marker is not None else ""
    return f"{text[0].upper()}{text[1:]}{cite}."


def _slot(question: str) -> tuple[str, str, str, str] | None:
    """(kind, text before, the question word, text after) of the question's one question word; None when it has
    none or several, asks why / how / yes-no, or is typed without diacritics."""
    body = nfc(question).strip().rstrip(" ?？").strip()
    if not body or not has_diacritics(body) or _NO_SLOT.search(body) or "?" in body:
        return None
    for pattern, kind in _SLOTS:
        found = list(re.finditer(rf"(?<!\w)(?:{pattern})(?!\w)", body, flags=re.IGNORECASE))
        if len(found) > 1:
            return None  # two question words: which one the fact answers is a guess
        if found:
            before, after = body[: found[0].start()], body[found[0].end() :]
            if _LEFT.search(f"{before} {after}"):
                return None  # another question word is left: the sentence would still ask
            return kind, before, found[0].group(0).lower(), after
    return None


def _unrepeated(before: str, fact: str) -> str:
    """The fact without the words the question says just before its slot ("… của triều" + "Triều Nguyễn")."""
    head, words = [w.lower() for w in before.split()], fact.split()
    for n in range(min(len(head), len(words) - 1), 0, -1):
        if head[-n:] == [w.lower() for w in words[:n]]:
            return " ".join(words[n:])
    return fact


def _fit(kind: str, asked: str, fact: str, after: str) -> str | None:
    """The words that take the question word's place."""
    if kind in ("year", "when"):
        bare = re.sub(r"^(vào\s+)?(năm\s+)?", "", fact, flags=re.IGNORECASE) if kind == "year" else fact
        if kind == "year" and not _YEAR.match(bare):
            return None
        lead = "vào " if asked.startswith("vào") or kind == "when" else ""
        if kind == "when":
            fact = re.sub(r"^vào\s+", "", fact, flags=re.IGNORECASE)
            if _YEAR.match(fact):
                fact = f"năm {fact}"
            elif _DATE.match(fact):
                fact = f"ngày {fact}"
            return f"{lead}{fact}"
        return f"{lead}năm {bare}"
    if kind == "where":
        return fact if re.match(r"^(ở|tại|trong|từ)\s", fact, flags=re.IGNORECASE) else f"ở {fact}"
    if kind == "number":
        # "Một bông hoa có bao nhiêu cánh?" + "3 cánh": the unit is already in the question
        unit = after.split()
        words = fact.split()
        for n in range(min(len(unit), len(words) - 1), 0, -1):
            if [w.lower() for w in words[-n:]] == [w.lower() for w in unit[:n]]:
                return " ".join(words[:-n])
        return fact
    return fact


def as_sentence(grounded: Grounded, question: str) -> Grounded:
    """A checked answer that is only a phrase ("Năm 1226 [1].") as one sentence built from the question; any
    other answer (a sentence already, an extract, a refusal, several sentences) as it was."""
    if grounded.outcome != ANSWERED or len(grounded.sentences) != 1:
        return grounded
    check = grounded.sentences[0]
    phrase = strip_markers(grounded.text).strip().rstrip(".!?…").strip()
    fact = _phrase_fact(phrase, question)
    short, slot = grounded.short_answer, _slot(question)
    # the passage's fuller span of the same date or count: "1974" -> "tháng 9 năm 1974" (rag.checks.short); not in
    # a plain slot, whose question words may say it already in other words ("vào thập kỷ" + "thập niên 1960")
    fuller = slot is not None and slot[0] in ("when", "number")
    if fact and short and fuller and fact in short and len(short.split()) <= _MAX_FACT_WORDS:
        fact = short
    built = answer_sentence(question, fact, check.supported_by) if fact else None
    if built is None:
        return grounded
    plain = strip_markers(built)
    return replace(grounded, text=built, sentences=(replace(check, text=plain),))


def _keys(text: str) -> list[str]:
    return tokens(nfc(text))


def _phrase_fact(phrase: str, question: str) -> str | None:
    """The fact of a phrase answer with its unit ("3 cánh"), or None when the phrase says more than the fact.

    Before the fact only measure words ("Năm 1226") or the words the question puts just before its
    question word ("Nhiệt độ môi trường mát mẻ" for "… nhiệt độ môi trường nào?"); after it at most
    one word of the question (a unit). "Hà Nội là thủ đô" or "Thủ đô … là Hà Nội" are sentences already.
    """
    fact, slot = bare_fact(phrase, question), _slot(question)
    if fact is None or slot is None or fact not in phrase:
        return None
    words = fact.split()
    if len(words) > _PHRASE_WORDS and not all(w[:1].isupper() or w[:1].isdigit() or w == "và" for w in words):
        return None
    at = phrase.index(fact)
    lead, after = _keys(phrase[:at]), phrase[at + len(fact) :]
    head = _keys(slot[1])  # accented: "Nam tước" does not start with the measure word "năm"
    if lead and not all(k in MEASURE_WORDS for k in lead) and head[-len(lead) :] != lead:
        return None
    if len(after.split()) > 1 or not all(k in set(_keys(question)) | MEASURE_WORDS for k in _keys(after)):
        return None
    return f"{fact}{after}".strip()
