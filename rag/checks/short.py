"""The bare fact of a checked answer (`short_answer` in JSON, issue 15.5), cut as a reader quotes it.

MLQA-vi gold answers are short passage spans, and so is what a person wants to copy: a number
with its unit ("12.961 hộ gia đình", "hơn 20.000"), a date as the passage writes it for a
"khi nào" question ("tháng 9 năm 1974") but the bare year for "năm nào", a whole name, and for
other questions the answer's first clause. Read from the tuning half of MLQA-vi dev (README,
"Answers you can trust"). Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.cite import answer_sentences
from rag.answer.stops import strip_markers
from rag.checks.analysis import Analysis
from rag.checks.claims import STOPWORDS, names
from rag.checks.phrases import bare_fact, expected_type, folded_keys, leading_name, typed_answer
from rag.text.vietnamese import fold_diacritics, has_diacritics, nfc
from rag.types import SentenceSupport

_SPACE = re.compile(r"\s")
_MAX_WORDS = 3  # a fact this short is the answer as it stands
_NAME_WORDS = 4  # a phrase answer to "tên … là gì" up to this long is the name
_DAY_ASKED = re.compile(r"\b(ngày nào|ngày bao nhiêu|ngày mấy|tháng nào|thập kỷ nào|thập niên nào)\b", re.IGNORECASE)
_BARE_YEAR = re.compile(r"\b(năm nào|năm bao nhiêu|năm mấy)\b", re.IGNORECASE)
# a date as a passage writes it: "ngày 31 tháng 8", "tháng 9 năm 1974", "28 tháng 5, 1738", "tháng 6-2007";
# a decade: "giữa những năm 1770", "thập niên 1960"
_DATE = re.compile(
    r"(?:ngày\s+)?(?:\d{1,2}\s+)?tháng\s+\d{1,2}(?:\s*(?:năm\s+|,\s*|-\s*)\d{3,4})?|\d{1,2}/\d{1,2}/\d{3,4}"
    r"|(?:(?:giữa|đầu|cuối)\s+)?những\s+năm\s+\d{2,4}|thập\s+(?:niên|kỷ|kỉ)\s+\d{2,4}",
    re.IGNORECASE,
)
# numbers written as words, which a "bao nhiêu" answer often is ("ba ngày", "hai")
_NUMBER_WORDS = frozenset("một hai ba bốn năm sáu bảy tám chín mười mươi trăm nghìn ngàn".split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# the second end of a range after a number (and its unit): "… đến 47.000", "…–1,50"
_RANGE = re.compile(r"\s*(?:đến|tới|–|—|-|~)\s*\d+(?:[.,]\d+)*(?![\d])")
_RANGE_OPEN = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*\s*(?:[^\W\d_]+\s*)?(?:đến|tới|–|—|-|~)\s*$")
# what may stand before a number in the span ("hơn 20.000", "khoảng 16.500")
_APPROX = frozenset("hơn khoảng gần chừng trên dưới".split())
# what may follow it besides the question's own unit ("120 triệu", "30.000 USD", "20 km")
_UNITS = frozenset(
    "trăm nghìn ngàn vạn triệu tỷ tỉ % phần km m mét cm mm kg g tấn độ ha usd đô la euro bảng đồng feet dặm".split()
)
# how / why questions are answered by a clause; a plural question ("những chức vụ nào") by a list
_CLAUSE = re.compile(r"\b(tại sao|vì sao|làm sao|ra sao|thế nào|như nào|bằng cách nào)\b", re.IGNORECASE)
_LIST = re.compile(r"\b(những|các)\s+(?:\w+\s+){1,2}?(nào|gì)\b", re.IGNORECASE)
_UNIT_ASKED = re.compile(r"\b(?:bao nhiêu|mấy)\s+((?:[^\W\d_]+\s*){1,3})", re.IGNORECASE)
_PREPOSITION_ASKED = re.compile(r"\b(ở|từ|tại|đến|tới|về)\s+đâu\b", re.IGNORECASE)
# where a unit ends in a question typed without marks (the folded stopwords would also end "ho" = "hộ" = "họ")
_FOLDED_UNIT_ENDS = frozenset(
    fold_diacritics(w) for w in "của ở tại trên trong theo cho với được đã là có vào từ đến tới về khi mà thì".split()
)
_NAME_ASKED = re.compile(r"\b(tên\s+(?:\w+\s+){0,6}?là gì|tên gì|tên là gì|tên của)\b", re.IGNORECASE)


def _asks(pattern: re.Pattern[str], question: str) -> re.Match[str] | None:
    """pattern in the question; one typed without diacritics is matched folded ("nam nao" for "năm nào")."""
    question = nfc(question)
    if has_diacritics(question):
        return pattern.search(question)
    return re.search(fold_diacritics(pattern.pattern), fold_diacritics(question), flags=pattern.flags)


def _in(pattern: str, text: str, fold: bool) -> list[re.Match[str]]:
    """The matches of pattern in text (NFC), compared folded when the question was typed without marks; folding
    keeps an NFC text's length, so a match's span is the same in the text as written."""
    text = nfc(text)
    if fold and len(fold_diacritics(text)) == len(text):
        return list(re.finditer(fold_diacritics(pattern), fold_diacritics(text), flags=re.IGNORECASE))
    return list(re.finditer(pattern, text, flags=re.IGNORECASE))


def short_answer(
    text: str, analysis: Analysis, checks: Sequence[SentenceSupport] = (), *, max_words: int = _MAX_WORDS
) -> str | None:
    """The bare fact of an answer (its first sentence that adds to the question), shaped by what was asked.

    checks: the answer's sentence checks; the sentence that supports it is where a number's unit
    or a date's day and month are read when the answer left them out ("1974" -> "tháng 9 năm 1974").
    A word the text writes whole stays whole ("Al-Sabah", "dặm/giờ"), though names and units are read
    syllable by syllable.
    """
    short = _short_answer(text, analysis, checks, max_words=max_words)
    if short is None:
        return None
    return _whole_words(short, [strip_markers(nfc(text)), *_support_sentences(analysis, checks)])


def _whole_words(short: str, texts: Sequence[str]) -> str:
    """short widened to the whitespace words it cuts in the first text holding it ("Fahad Al" -> "Fahad Al-Sabah")."""
    for text in texts:
        at = text.find(short)
        if at < 0:
            continue
        start, end = at, at + len(short)
        if end < len(text) and text[end - 1].isalnum() and (text[end].isalnum() or text[end] in "-/–"):
            end = len(text) if (space := _SPACE.search(text, end)) is None else space.start()
        if start > 0 and text[start].isalnum() and (text[start - 1].isalnum() or text[start - 1] in "-/–"):
            start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1
        return text[start:end].strip(".,;:!?…\"'“”()[]") or short
    return short


def _short_answer(
    text: str, analysis: Analysis, checks: Sequence[SentenceSupport] = (), *, max_words: int = _MAX_WORDS
) -> str | None:
    question = analysis.question
    sentence = _fact_sentence(text, question)
    fact = bare_fact(sentence, question) if sentence else None
    if fact is None:
        return None
    shaped = _shaped(fact, [sentence, *_support_sentences(analysis, checks)], analysis)
    if shaped is not None:
        return shaped
    quoted = _quoted(sentence, question)
    if quoted is not None:
        return quoted
    if _asks(_NAME_ASKED, question):
        # a name asked for: a phrase answer is the name whole ("Điều luật Clarendon"), else the name it opens with
        phrase = sentence.rstrip(".!?…").strip()
        whole = len(phrase.split()) <= _NAME_WORDS and phrase[:1].isupper()
        named = phrase if whole and not _asked(phrase, set(folded_keys(question))) else None
        named = named or _opening_name(sentence, question)
        if named is not None:
            return named
    if analysis.kind == "place":
        placed = _after_preposition(fact, question)
        if placed is not None:
            return placed
    if len(fact.split()) <= max_words:
        return fact
    if analysis.kind == "person":
        partner = _after_person_preposition(fact, question)
        if partner is not None:
            return partner
    if analysis.kind in ("person", "place"):
        lead = leading_name(fact, question)
        # an answer's own first capital says nothing: there a name needs two words ("Con gái …" is none)
        opens = sentence.startswith(fact)
        if lead is not None and (not opens or len(lead.split()) > 1):
            return lead
    typed = typed_answer(analysis.kind, fact, question) if analysis.kind else None
    return typed or _first_clause(fact, question)


def _quoted(sentence: str, question: str) -> str | None:
    """A title the answer gives in quotes and nothing else ('"On through the night" [1].'), without the quotes."""
    body = strip_markers(nfc(sentence)).strip().rstrip(".!?…").strip()
    match = re.fullmatch(r"[\"“”«»'‘’]([^\"“”«»]+)[\"“”«»'‘’]", body)
    if match is None or _asked(match.group(1), set(folded_keys(question))):
        return None
    return match.group(1).strip() or None


def _fact_sentence(text: str, question: str) -> str:
    """The answer's first sentence that says something the question does not (a second one explains)."""
    sentences = [s for s, _ in answer_sentences(text)]
    asked = set(folded_keys(question))
    adding = [s for s in sentences if any(k not in asked for k in folded_keys(s))]
    kind = expected_type(question)
    # a "who" / "where" / "when" / "how many" answer: the first sentence holding a value of that type
    typed = [s for s in adding if kind is not None and typed_answer(kind, s, question) is not None]
    return (typed or adding or sentences or [""])[0]


def _support_sentences(analysis: Analysis, checks: Sequence[SentenceSupport]) -> list[str]:
    """The passage sentences that support (or were extracted as) the answer, in check order."""
    out = []
    for check in checks:
        marker, span = check.supported_by, check.span
        if marker is None or span is None or not 1 <= marker <= len(analysis.passages):
            continue
        out.append(analysis.passages[marker - 1].hit.chunk.text[span[0] : span[1]])
    return out


def _shaped(fact: str, texts: Sequence[str], analysis: Analysis) -> str | None:
    """A date, or a number with its unit, around the fact: the longest that the answer or a supporting sentence
    writes ("31 tháng 8" said, "ngày 31 tháng 8" in the passage)."""
    question = nfc(analysis.question)
    kind = "year" if analysis.kind is None and _asks(_DAY_ASKED, question) else analysis.kind
    if kind == "number":
        counted = _counted(texts, question)
        if counted is not None:
            return _common_lower(counted)
    number = _NUMBER.search(fact)
    if kind not in ("year", "number") or number is None:
        return None
    if kind == "year" and _asks(_BARE_YEAR, question):
        return None  # "năm nào": the bare year (12 of 13 such tuning golds), though the passage gives a whole date
    shaped = []
    for text in texts:
        at = _find(number.group(0), text)
        if at is not None:
            found = _date(text, at) if kind == "year" else _with_unit(text, at, question)
            shaped += [found] if found is not None and found != number.group(0) else []
    best = max(shaped, key=len, default=None)
    return _common_lower(best) if best else None


def _common_lower(text: str) -> str:
    """ "Hơn 20.000", "Ngày 30 tháng 4", "Ba ngày": a sentence's capital on a common word, lowered."""
    first = text.split()[0].lower()
    common = first in _APPROX | _NUMBER_WORDS | {"ngày", "tháng", "giữa", "đầu", "cuối", "những", "thập", "từ"}
    return text[0].lower() + text[1:] if common else text


def _counted(texts: Sequence[str], question: str) -> str | None:
    """A count followed by the question's own unit: "ba ngày" for "trong bao nhiêu ngày" where "tháng 9" also
    holds a number. Digits first, then number words, each in the first text (answer, support) that has one."""
    unit = _question_unit(question, ordered=True)
    if not unit:
        return None
    words = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    asked, fold = set(folded_keys(question)), not has_diacritics(question)
    for count in (r"\d+(?:[.,]\d+)*", rf"(?:{words})(?:\s+(?:{words}))*"):
        pattern = rf"(?<![\w.,]){count}(?=\s+{re.escape(unit[0])}(?!\w))"
        found = []
        for text in texts:
            match = next((m for m in _in(pattern, text, fold) if not _asked(m.group(0), asked)), None)
            found += [_with_unit(text, (match.start(), match.end()), question)] if match else []
        if found:  # the longest of the answer's and the support's ("120 triệu bản" said, "… bản ghi" written)
            return max(found, key=len)
    return None


def _asked(text: str, asked: set[str]) -> bool:
    return all(k in asked for k in folded_keys(text))  # the question's own "mười ngày" counts nothing


def _find(number: str, text: str) -> tuple[int, int] | None:
    """The span of number in text, standing alone (not inside a longer number)."""
    match = re.search(rf"(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d)", nfc(text))
    return (match.start(), match.end()) if match else None


def _date(text: str, at: tuple[int, int]) -> str | None:
    """The date written around the number at `at` ("ngày 31 tháng 8", "tháng 9 năm 1974"), or None."""
    text = nfc(text)
    for match in _DATE.finditer(text):
        if match.start() <= at[0] and at[1] <= match.end():
            return match.group(0).strip(" ,-")
    return None


def _with_unit(text: str, at: tuple[int, int], question: str) -> str | None:
    """The number at `at` with an approximation word before it and its unit after it, as the text writes them; a
    range is kept whole ("16.500 đến 47.000 cá thể", "từ 20 đến 40 km")."""
    text = nfc(text)
    end = _unit_end(text, at[1], question)
    ranged = _RANGE.match(text, end)
    if ranged is not None:  # the number opens a range
        end = _unit_end(text, ranged.end(), question)
    opened = _RANGE_OPEN.search(text[: at[0]])
    start = opened.start() if opened is not None and ranged is None else at[0]  # the number closes one
    before = text[:start].split()
    opens = start != at[0] or ranged is not None  # "từ" opens a range: "từ 20 đến 40 km"
    if before and (before[-1].lower() in _APPROX or (opens and before[-1].lower() == "từ")):
        start = text.rindex(before[-1], 0, start)
        before = text[:start].split()
        if before and before[-1].lower() in _APPROX:  # "khoảng từ 16.500 …"
            start = text.rindex(before[-1], 0, start)
    return text[start:end].strip()


def _unit_end(text: str, at: int, question: str) -> int:
    """Where the unit that follows a number ending at `at` ends (at itself when none follows)."""
    after = re.findall(r"[^\W\d_]+|%|/", text[at:])
    unit = {fold_diacritics(u) for u in _question_unit(question)}
    taken = 0
    for word in after[:4] if not after or after[0] != "%" else ["%"]:  # "98%" is the unit: "98% độ bao phủ"
        key = word.lower()
        if fold_diacritics(key) in unit or key in _UNITS or fold_diacritics(key) in _UNITS:
            taken += 1
            continue
        break
    if not taken:
        return at
    pattern = r"\s*" + r"\s*".join(re.escape(w) for w in after[:taken])
    match = re.match(pattern, text[at:])
    return at + (match.end() if match else 0)


def _question_unit(question: str, *, ordered: bool = False):  # noqa: ANN202 - set, or list when ordered
    """The words the question puts after its 'bao nhiêu' / 'mấy' ("bao nhiêu hộ gia đình" -> hộ, gia, đình)."""
    match = _asks(_UNIT_ASKED, question)
    unit = []
    for word in match.group(1).split() if match else []:
        if word.lower() in (STOPWORDS if has_diacritics(question) else _FOLDED_UNIT_ENDS):
            break  # "bao nhiêu nhân viên trên thế giới": the unit ends where the phrase goes on
        unit.append(word.lower())
    return unit if ordered else set(unit)


def _opening_name(sentence: str, question: str) -> str | None:
    """The name an answer to "tên … là gì" opens with ("George, Hoàng tử xứ Wales" -> "George"): capitalised
    words up to a comma, two or more of them, or the whole answer; None when it opens otherwise or the name is
    one the question says whole ("George III")."""
    words = nfc(sentence).split()
    run: list[str] = []
    closed = False
    for word in words:
        core = word.strip(".,;:!?…\"'()“”")
        if not core or not core[0].isupper():
            break
        run.append(core)
        if core != word.rstrip(".!?…"):  # a comma or bracket ends the name
            closed = True
            break
    if not run or not (closed or len(run) > 1 or len(run) == len(words)):
        return None
    said = {tuple(fold_diacritics(k) for k in n) for n in names(question)}
    return None if tuple(folded_keys(" ".join(run))) in said else " ".join(run)


def _after_preposition(fact: str, question: str) -> str | None:
    """For "từ đâu" / "ở đâu", what follows the same preposition in a longer fact: "Thả tiền từ trực thăng" ->
    "trực thăng" (the gold spans leave the preposition out: "Solomons", "thành phố Kuwait")."""
    asked = _asks(_PREPOSITION_ASKED, question)
    if asked is None or len(fact.split()) < 3:
        return None
    fold = not has_diacritics(question)
    found = _in(rf"(?<!\w){asked.group(1)}\s+([^,;:.]+)", fact, fold)
    if not found and asked.group(1).lower() in ("ở", "tại"):  # "ở đâu" answered "… phóng chúng tới cả Ả rập Xê út"
        found = _in(r"(?<!\w)(?:ở|tại|tới|đến|vào)\s+(?:cả\s+)?([^,;:.]+)", fact, fold)
        found = [m for m in found if not re.search(r"(?<!\w)từ\s", fact[: m.start()], re.IGNORECASE)]  # "từ A đến B"
    match = found[0] if found else None
    if match is None or match.start() == 0:
        return None
    return fact[match.start(1) : match.end(1)].strip() or None


_PERSON_PREPOSITION = re.compile(r"\b(với|cho|của|bởi)\s+ai\b", re.IGNORECASE)


def _after_person_preposition(fact: str, question: str) -> str | None:
    """For "kết hôn với ai" / "… cho ai", the name after the same preposition in the fact: "William Henry kết hôn
    với Maria, nữ Bá tước …" -> "Maria" (the name the fact opens with is the question's own subject)."""
    asked = _asks(_PERSON_PREPOSITION, question)
    if asked is None:
        return None
    found = _in(rf"(?<!\w){asked.group(1)}\s+(.+)", fact, not has_diacritics(question))
    for match in found:
        name = leading_name(fact[match.start(1) :], question)
        if name is not None:
            return name
    return None


def _first_clause(fact: str, question: str) -> str:
    """A long fact cut at its first comma, unless the question asks how or why (a clause) or for several things."""
    body = nfc(question)
    if _asks(_CLAUSE, body) or _asks(_LIST, body):
        return fact
    head = re.split(r"[,;:]\s|\s\(", fact, maxsplit=1)[0].strip()
    return head if len(head.split()) >= 2 else fact
