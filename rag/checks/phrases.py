"""Short answers against passage sentences: the answer phrase, the type a question expects, the bare fact.

A 1.5B model answers "Năm 1226 [1]." where the passage says "… thành lập năm 1226": the check
compares the phrase the answer adds to the question, folded (case, diacritics, đ→d), with
measure words optional ("năm 1226" / "1226") and numbers without separators ("1.610" / "1610",
rag.checks.claims.tokens). Pure Python.
"""

from __future__ import annotations

import re

from rag.answer.stops import strip_markers
from rag.checks.claims import FOLDED_STOPWORDS, STOPWORDS, names, tokens
from rag.text.vietnamese import fold_diacritics, has_diacritics, nfc

# Words that only say what kind of quantity or date a number is: optional on either side.
MEASURE_WORDS = frozenset(
    """
    năm ngày tháng thế kỷ kỉ thập niên giờ phút giây tuổi lần km mét cm kg tấn
    khoảng chừng gần hơn đến tới vào lúc thời
    """.split()
)
# Skipped by their accented form when the text has marks ("năm" is skipped, "Nam" is not); folded otherwise.
_SKIP = STOPWORDS | MEASURE_WORDS
_FOLDED_SKIP = FOLDED_STOPWORDS | frozenset(fold_diacritics(w) for w in MEASURE_WORDS)

# What a question asks for, by its question words (accented; typed without marks they are folded).
_TYPES = (
    ("year", r"\b(năm nào|năm bao nhiêu|năm mấy|khi nào|bao giờ|lúc nào|thời điểm nào|thời gian nào)\b"),
    ("number", r"\b(bao nhiêu|mấy)\b"),
    ("person", r"\b(ai)\b"),
    ("place", r"\b(ở đâu|nơi nào|chỗ nào|đâu)\b"),
)


def folded_keys(text: str) -> list[str]:
    """Comparison keys of text, folded: lower case, no diacritics, numbers without separators."""
    return tokens(fold_diacritics(nfc(text)))


def content_keys(text: str, *, fold: bool = True, accented: bool | None = None) -> list[str | None]:
    """Keys of text (folded unless fold=False), None where a function or measure word stands.

    Function words are judged accented when text has marks ("năm" is skipped, "Nam" is not);
    accented: whether the text it comes from has them (one word of it, "Nam", has none of its own).
    """
    text = nfc(re.sub(r"\[\d+\]", " ", text))
    skip = _SKIP if (has_diacritics(text) if accented is None else accented) else _FOLDED_SKIP
    keys = [None if k in skip or (len(k) < 2 and not k.isdigit()) else k for k in tokens(text)]
    return [fold_diacritics(k) if fold and k is not None else k for k in keys]


def _asked(answer: str, question: str) -> tuple[set[str], bool]:
    """The question's keys and whether to compare folded: accented when both are ("Nam" is not "năm")."""
    fold = not (has_diacritics(answer) and has_diacritics(question))
    keys = tokens(nfc(question))
    return {fold_diacritics(k) for k in keys} if fold else set(keys), fold


def answer_runs(answer: str, question: str) -> list[tuple[str, ...]]:
    """The runs of words the answer adds to the question (folded), split where a question or function word stands."""
    asked, fold = _asked(answer, question)
    runs: list[list[str]] = [[]]
    for key in content_keys(answer, fold=False):
        if key is None or (fold_diacritics(key) if fold else key) in asked:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(fold_diacritics(key))  # found in passages folded: an answer may be typed without marks
    return [tuple(run) for run in runs if run]


def holds_runs(runs: list[tuple[str, ...]], text: str) -> bool:
    """Every run occurs in text as consecutive words (function and measure words of text skipped)."""
    keys = [k for k in content_keys(text) if k is not None]
    joined = f" {' '.join(keys)} "
    return bool(runs) and all(f" {' '.join(run)} " in joined for run in runs)


def expected_type(question: str) -> str | None:
    """'year', 'number', 'person', 'place' or None, from the question words."""
    text = nfc(question).lower()
    for name, pattern in _TYPES:
        if re.search(pattern if has_diacritics(text) else fold_diacritics(pattern), text):
            return name
    return None


def typed_answer(kind: str | None, sentence: str, question: str) -> str | None:
    """The part of sentence that answers a question of this kind (a year, a number, a name), or None.

    kind None: no expectation, the sentence itself. Names are runs of capitalised syllables
    after the first word (rag.checks.claims.names), else one capitalised word, that the question
    does not hold.
    """
    if kind is None:
        return sentence
    asked = set(folded_keys(question))
    if kind in ("year", "number"):
        for match in re.finditer(r"\d+(?:[.,]\d+)*", sentence):
            key = tokens(match.group(0))[0]
            if key in asked:
                continue
            if kind == "year" and not (3 <= len(key) <= 4 and int(key) <= 2100):
                continue
            return match.group(0)
        return None
    for name in names(sentence):
        if not all(fold_diacritics(k) in asked for k in name):
            return surface(sentence, name)
    # a one-syllable name ("Huế là cố đô …"), even as the first word: the key-term gate does the rest
    for match in re.finditer(r"[^\W\d_]+", nfc(sentence)):
        word = match.group(0)
        if word[0].isupper() and fold_diacritics(word.lower()) not in asked:
            return word
    return None


def leading_name(fact: str, question: str) -> str | None:
    """The run of capitalised words a bare fact opens with ("Maria, nữ Bá tước …" -> "Maria"; "và" joins two:
    "Pháp và Ý"), unless the question holds all of it; None when the fact opens with a lower-case word."""
    words = nfc(fact).split()
    run: list[str] = []
    for i, word in enumerate(words):
        core = word.strip(".,;:!?…\"'()“”")
        joins = core == "và" and run and i + 1 < len(words) and words[i + 1][:1].isupper()
        if not core or not (core[0].isupper() or joins):
            break
        run.append(core)
        if core != word.rstrip(".!?…"):  # a comma or bracket ends the name
            break
    asked = set(folded_keys(question))
    if not run or all(k in asked for k in folded_keys(" ".join(run))):
        return None
    return " ".join(run)


def surface(sentence: str, name: tuple[str, ...]) -> str:
    pattern = r"\s+".join(re.escape(k) for k in name)
    match = re.search(pattern, nfc(sentence), flags=re.IGNORECASE)
    return match.group(0) if match else " ".join(name)


def bare_fact(answer: str, question: str) -> str | None:
    """The answer without what restates the question: first to last new word ("Năm 1976 [1]." -> "1976")."""
    text = strip_markers(nfc(answer)).strip()
    asked, fold = _asked(text, question)
    words = text.split()
    marked = has_diacritics(text)  # judge each word's function words as the whole answer is written
    new = [
        i
        for i, w in enumerate(words)
        if any(k is not None and k not in asked for k in content_keys(w, fold=fold, accented=marked))
        or (i > 0 and _letter_name(w, asked, fold))  # a sentence's first word is capitalised anyway ("Ở …")
    ]
    if not new:
        return text.rstrip(".!?…").strip() or None
    first, last = _whole_name(words, new[0], new[-1])
    first, last = _whole_words(words, first, last, question)
    return " ".join(words[first : last + 1]).strip(".,;:!?…\"'()“”") or None


def _letter_name(word: str, asked: set[str], fold: bool) -> bool:
    """A one-letter capital that is a name ("Ý" in "Pháp và Ý"), which content_keys passes over as too short."""
    core = word.strip(".,;:!?…\"'()“”")
    key = fold_diacritics(core.lower()) if fold else core.lower()
    return len(core) == 1 and core.isupper() and core.isalpha() and key not in asked


def _whole_words(words: list[str], first: int, last: int, question: str) -> tuple[int, int]:
    """Widen first..last by one syllable the question holds where it makes a word with the edge: "linh mục" stays
    whole though the question says "Giám mục", "Chính phủ" though it says "chính trị"; not "môi trường" (the
    question's own word) nor across a capital ("Tổng thống John Tyler")."""
    keys = [folded_keys(w) for w in words]
    q = folded_keys(question)
    pairs = set(zip(q, q[1:], strict=False))

    def joins(left: int, right: int) -> bool:
        if not (0 <= left < right < len(words)) or not keys[left] or not keys[right]:
            return False
        if words[left].endswith((",", ";", ":", ".", ")")) or (keys[left][-1], keys[right][0]) in pairs:
            return False
        same_case = words[left][:1].isupper() == words[right][:1].isupper() or left == 0
        edge = (keys[left][-1], keys[right][0])
        return same_case and all(k not in _FOLDED_SKIP and not k.isdigit() for k in edge)

    def free(i: int, j: int) -> bool:  # words i, j are not one of the question's own words
        return not (0 <= i < j < len(words)) or not keys[i] or not keys[j] or (keys[i][-1], keys[j][0]) not in pairs

    def head(i: int) -> bool:  # the noun the question asks about: "Loại axit nào" + "Axit nucleic" -> "nucleic"
        return bool(keys[i]) and any((keys[i][-1], w) in pairs for w in ("nao", "gi"))

    if joins(first - 1, first) and free(first - 2, first - 1) and not head(first - 1):
        first -= 1
    if joins(last, last + 1) and free(last + 1, last + 2):
        last += 1
    return first, last


def _whole_name(words: list[str], first: int, last: int) -> tuple[int, int]:
    """Widen first..last to the whole name at either end: "John Tyler" stays whole though the question says John."""

    def capital(i: int) -> bool:
        return 0 <= i < len(words) and words[i][:1].isupper()

    while capital(first) and capital(first - 1) and not words[first - 1].endswith((",", ";", ":", ".")):
        first -= 1
    while capital(last) and capital(last + 1) and not words[last].endswith((",", ";", ":", ".")):
        last += 1
    return first, last
