"""What a summary is made of: the sentences (or clauses) of the passages, and the facts each one states.

A fact is a comparison key -- a number, a date, a document reference (Nghị quyết, Chỉ thị,
Điều …), a congress or term in roman numerals, a name -- so two sentences stating the same
figure are seen to repeat each other, in one document or across several (rag.answer.summarize).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.summary_text import announces, balanced, counted_lists, headless, mended, run_ons, tidied
from rag.checks.claims import claim_terms, names, tokens
from rag.text.vietnamese import fold_diacritics, passage_sentences, without_cjk
from rag.types import Chunk

WEIGHT_NUMBER, WEIGHT_DOCUMENT, WEIGHT_NAME = 3.0, 3.0, 2.0
WEIGHT_PERSON = 3.0  # who spoke, who led: a person's name is a key fact, like a number (tune recall unchanged)
# the family names most Vietnamese carry: a name of 2-4 syllables opening with one is a person's
_SURNAMES = frozenset(
    "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh đoàn trương lương mai".split()
)

# Vietnamese legal and party documents: "Nghị quyết số 35-NQ/TW", "Chỉ thị 05-CT/TW", "Điều 5".
_DOCUMENT = re.compile(
    r"\b(?:Nghị quyết|Nghị định|Chỉ thị|Kết luận|Kế hoạch|Quyết định|Thông tư|Luật|Điều|Khoản|Hiến pháp|Quy chế"
    r"|Quy định)"
    r"(?:\s+số)?\s+(\d[\w/.\-]*|[A-ZĐ][\w/.\-]*)"
)
# A date is one fact, not three numbers: "20/12/2016", "ngày 2 tháng 9 năm 1945", "tháng 3/1947", "năm 1808".
_DATE = re.compile(
    r"\b(?:(?:ngày\s+)?\d{1,2}\s+tháng\s+\d{1,2}(?:\s+năm\s+\d{3,4})?|(?:tháng\s+)\d{1,2}(?:\s+năm\s+|/)\d{3,4}"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?|năm\s+\d{3,4})\b",
    re.IGNORECASE,
)
# A geographic coordinate is where a place is, not four numbers: "10o33'42\"", "107°24'" (degrees, minutes
# and maybe seconds; viwiki writes the degree sign as "o" too). A sentence's coordinates (a place's bounds) are one
# fact, keyed by the first one's whole degrees, so two sentences giving the same bounds repeat each other.
_COORDINATE = re.compile(r"\b(\d{1,3}) ?[°ºo] ?\d{1,2}(?:[.,]\d+)? ?['’′](?: ?\d{1,2}(?:[.,]\d+)? ?(?:\"|”|″|''))?")
_ROMAN = re.compile(r"\b[IVXLC]{2,}\b")  # "Đại hội XII", "khóa XV": the congress or term is a fact
# What a report says about itself rather than what it did: no fact, whatever its length.
_PRAISE = (
    "khá toàn diện",
    "nêu bật",
    "ngày càng",
    "tiếp tục được",
    "đánh giá cao",
    "biểu dương",
    "góp phần",
    "nhìn chung",
    "có hiệu quả",
    "thiết thực",
    "kết quả đạt được",
)
_LIST_MARKER = re.compile(r"^(?:\d{1,2}|[IVX]{1,4}|[a-zđ])[.)]\s+")
_HEADING = re.compile(r"^\s*(?:#|=)")
# a wiki footnote glued to a word ("… từng hộ gia đình[1].") would read as a citation in the summary;
# a bracketed year after a space ("năm thứ 18 [1837]") is text
_FOOTNOTE = re.compile(r"(?<=[^\s\[])\[\d{1,3}\]")


@dataclass(frozen=True)
class Unit:
    """A sentence or clause of passage [marker], with the facts it states."""

    text: str
    marker: int
    position: int  # order in the passages as given (document order)
    facts: frozenset[str]
    words: int
    praise: int = 0
    lead: bool = False  # the document's first sentence: what the document is
    sentence: bool = True  # ends like a sentence in the document (not a list item or a heading-like line)
    source: str = ""  # the document it comes from
    title: str = ""  # that document's title
    section: tuple[tuple[int, str], ...] = ()  # the headings it is under, (level, text): ((2, "Công nghiệp"), …)


def fact_keys(text: str) -> set[str]:
    """The facts a sentence states, as comparison keys: numbers, dates, coordinates, documents, congresses, names."""
    first = _COORDINATE.search(text)
    keys = {f"g:{first.group(1)}"} if first else set()
    text = _COORDINATE.sub(" ", text)
    dates = [m.group(0) for m in _DATE.finditer(text)]
    keys |= {"t:" + "/".join(re.findall(r"\d+", d)) for d in dates}
    keys |= {f"n:{t}" for t in tokens(_DATE.sub(" ", text)) if t.isdigit()}
    keys |= {f"d:{m.group(0).split()[0].lower()}:{m.group(1).lower()}" for m in _DOCUMENT.finditer(text)}
    keys |= {f"r:{m.group(0)}" for m in _ROMAN.finditer(text)}
    # "Phạm Bình Minh, Ủy viên …" opens a sentence: its first word is part of the name here
    keys |= {"p:" + " ".join(name) for name in names(f"x {text}")}
    return keys


def weight(key: str) -> float:
    """How much a fact of this kind counts: numbers, dates, document references and people above other names."""
    if key.startswith("p:"):
        syllables = key[2:].split()
        return WEIGHT_PERSON if syllables[0] in _SURNAMES and 2 <= len(syllables) <= 4 else WEIGHT_NAME
    return {"n": WEIGHT_NUMBER, "t": WEIGHT_NUMBER, "g": WEIGHT_NUMBER, "d": WEIGHT_DOCUMENT}.get(key[0], WEIGHT_NAME)


def content_words(text: str, *, fold: bool = False) -> set[str]:
    """Content syllables (function words left out): what two sentences must share to repeat each other.

    fold: compared without diacritics (a topic typed without them)."""
    words = claim_terms(text).weights
    return {fold_diacritics(t) for t in words} if fold else set(words)


def word_overlap(a: str, b: str) -> float:
    """Share of the shorter sentence's content words that the other one has too, 0..1."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def sentence_units(
    chunks: Sequence[Chunk], *, long_words: int = 40, trim: bool = False, count_lists: bool = False
) -> list[Unit]:
    """Every sentence of the passages worth a summary line; long sentences as their clauses.

    trim: each without the parts that state no fact (trimmed). count_lists: without the names a
    count announces (counted_lists).

    Headings, title lines, short fragments and repeats (chunks overlap) are left out; CJK
    glosses are removed (a summary must read as Vietnamese).
    """
    units: list[Unit] = []
    seen: set[str] = set()
    lead_taken: set[str] = set()
    headings: dict[str, list[tuple[int, str]]] = {}  # each document's open headings: (level, text)
    opens, ends = _cut_inside(chunks, long_words)
    for marker, chunk in enumerate(chunks, start=1):
        sentences = _sentences(chunk.text)
        for index, sentence in enumerate(sentences):
            if _HEADING.match(sentence):
                _open_heading(headings.setdefault(chunk.source, []), sentence)
                continue
            if sentence.strip() == chunk.title.strip():
                continue
            section = tuple(headings.get(chunk.source, []))
            if count_lists:
                sentence = counted_lists(sentence)
            inside = index == 0 and chunk.chunk_id in opens  # the passage opens inside a sentence
            pieces = [(p, part) for part in run_ons(sentence) for p in _pieces(part, 0 if inside else long_words)]
            if inside:  # its clauses after the first start where a reader expects
                pieces = pieces[1:]
            if index == len(sentences) - 1 and chunk.chunk_id in ends:
                pieces = pieces[:-1]
            # the list a clause announced ("… về đối ngoại gồm: công tác ngoại giao, biên giới, …") says nothing alone
            pieces = [p for i, p in enumerate(pieces) if not (i and announces(pieces[i - 1][0]) and headless(p[0]))]
            for piece, part in pieces:
                piece = _line(piece, trim)
                words = len(piece.split())
                key = " ".join(tokens(piece))
                if words < 6 or key in seen:
                    continue
                seen.add(key)
                ended = piece.endswith((".", "!", "?", "…"))
                lead = chunk.source not in lead_taken and ended and words >= 8
                if lead:
                    lead_taken.add(chunk.source)
                lowered = piece.lower()
                praise = sum(1 for p in _PRAISE if p in lowered)
                facts = frozenset(fact_keys(piece))
                # a line without a full stop is a list item, unless it is long enough to be cut into clauses
                full = part.rstrip().endswith((".", "!", "?", "…", ":")) or len(sentence.split()) > long_words
                units.append(
                    Unit(
                        piece, marker, len(units), facts, words, praise, lead, full, chunk.source, chunk.title, section
                    )
                )
    return units


def _line(piece: str, trim: bool) -> str:
    """A piece as a summary line: no list marker, footnote or CJK gloss, tidied, trimmed, mended; "" to leave out.

    A line opening in lower case continues a line it is not part of ("(Phan Thiết)\ncó bộ xương …"): ""."""
    piece = tidied(without_cjk(_FOOTNOTE.sub("", _LIST_MARKER.sub("", piece))).strip())
    if trim and piece.endswith((".", "!", "?", "…")):  # a list line keeps its parts ("…, Thứ trưởng")
        piece = trimmed(piece)
    piece = mended(piece)
    return "" if piece[:1].islower() else piece


def _cut_inside(chunks: Sequence[Chunk], long_words: int) -> tuple[set[str], set[str]]:
    """The passages that open inside a sentence, and those that end inside one (by chunk_id).

    The chunker cuts a sentence longer than its token budget into pieces, each a passage of its
    own (where a reader pauses, after a comma or a bracket, but still mid-sentence): one passage is
    a sentence that stops without a full stop ("… Âu Lâu (thành phố Yên Bái),") and the next one
    starts right after it ("Minh Quân, …"). Told apart from a passage ending on
    a line without a full stop (a list item, a heading) in that it is one sentence of more than
    long_words words, all of it."""
    opens, ends = set(), set()
    order = sorted({c.chunk_id: c for c in chunks}.values(), key=lambda c: (c.source, c.start))
    for before, after in zip(order, order[1:], strict=False):
        if before.source != after.source or not 0 <= after.start - before.end <= 1:
            continue
        spans = passage_sentences(before.text)
        whole = before.text.strip()
        if len(spans) != 1 or len(whole.split()) <= long_words:
            continue
        if not whole.rstrip('"”’)]»').endswith((".", "!", "?", "…", ":", ";")):
            ends.add(before.chunk_id)
            opens.add(after.chunk_id)
    return opens, ends


def _sentences(text: str) -> list[str]:
    """The passage's sentences; one going on in lower case after an ellipsis is still the one before.

    "… và các nguồn vật liệu xây dựng khác... nên Phủ Lý có nhiều cơ hội …" is one sentence, its
    ellipsis written "…," so that a reader (rag.answer.cite) does not cut it: its second half alone
    ("nên Phủ Lý …") would start a summary line in mid-thought, and its first would be uncited. So is
    one whose bracket a full stop inside it cut ("… rất vô lý (Về địa lý …. Về văn hóa … Nam Bộ)."),
    when the bracket closes within the next two sentences of the line."""
    spans = passage_sentences(text)
    out: list[str] = []
    previous_end = -1
    for i, (start, end) in enumerate(spans):
        same_line = out and "\n" not in text[previous_end:start]
        if same_line and text[start : start + 1].islower():
            out[-1] = f"{out[-1].rstrip('.…')}…, {text[start:end]}"  # "khác…, nên": read as one sentence
        elif same_line and _open_bracket(out[-1], text, spans[i : i + 2], previous_end):
            out[-1] += text[previous_end:end]
        else:
            out.append(text[start:end])
        previous_end = end
    return out


def _open_bracket(sentence: str, text: str, following: Sequence[tuple[int, int]], since: int) -> bool:
    """Whether sentence leaves a bracket open that closes in the following spans of its line."""
    if sentence.count("(") <= sentence.count(")"):
        return False
    return any(
        "\n" not in text[since:end] and (joined := sentence + text[since:end]).count("(") == joined.count(")")
        for _, end in following
    )


def _open_heading(path: list[tuple[int, str]], line: str) -> None:
    """A heading line ("== Công nghiệp ==", "### Lịch sử") closes the headings of its level and below."""
    marks = re.match(r"\s*([#=]+)", line)
    level = len(marks.group(1)) if marks else 1
    while path and path[-1][0] >= level:
        path.pop()
    path.append((level, line.strip().strip("#= ")))


def _pieces(sentence: str, long_words: int) -> list[str]:
    """The sentence, or its clauses at ';' and ':' when it is long (each clause made a sentence).

    Never inside brackets or quotes: "… (bên cạnh lửa; đất …)" stays whole. A clause that
    announced a list ("… gồm:") keeps its colon for tidied to remove with the dangling word.
    """
    if len(sentence.split()) <= long_words:
        return [sentence]
    parts = [p.strip(" ;") for p in _clauses(sentence)]
    merged: list[str] = []
    for part in parts:
        if merged and (len(part.split()) < 6 or _goes_on(merged[-1], part)):  # "Ca dao:", a short tail, ellipsis
            merged[-1] = f"{merged[-1].rstrip(':')}; {part}"
        elif part:
            merged.append(part)
    out = []
    for part in merged:
        part = part[0].upper() + part[1:]
        out.append(part if part.endswith((".", "!", "?", "…", ":")) else part.rstrip(",") + ".")
    return out


def _goes_on(previous: str, part: str) -> bool:
    """The clause goes on with the noun a short clause before it ended on, under its verb: "…; đẩy mạnh công tác giáo
    dục lịch sử truyền thống; lịch sử của Đảng bộ Khối và …" (alone, "Lịch sử của Đảng bộ Khối và …" has no head)."""
    words = previous.split()
    if len(words) > 12:  # a list item of a task list, not a sentence of its own
        return False
    head = [w.lower() for w in part.split()[:2]]
    tail = [w.lower().strip(",.") for w in words[-4:]]
    return len(head) == 2 and any(tail[i : i + 2] == head for i in range(len(tail) - 1))


def _clauses(sentence: str) -> list[str]:
    """The sentence cut after each ';' or ':' that is outside brackets and quotes (the ':' kept)."""
    parts, start, depth, quoted = [], 0, 0, False
    for i, char in enumerate(sentence):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == '"':
            quoted = not quoted
        elif char in "“”":
            quoted = char == "“"
        elif char in ";:" and not depth and not quoted and sentence[i + 1 : i + 2].isspace():
            parts.append(sentence[start : i + 1] if char == ":" else sentence[start:i])
            start = i + 1
    return [*parts, sentence[start:]]


_PAREN = re.compile(r"\s*\(([^()]*)\)")
# a clause opening like this is a time, place or purpose, not yet what happened: "Ngày 23 tháng 2 năm 1974, …"
_OPENERS = frozenset(
    "ngày năm tháng vào trong tại từ sau trước khi đến theo hiện với đầu cuối thời để nhằm do vì nhờ".split()
)
# a tail opening like this qualifies what comes before: dropping it would change the claim
_QUALIFIERS = frozenset("nhưng tuy song trừ ngoại không chưa chỉ riêng hoặc".split())


def trimmed(text: str) -> str:
    """The sentence without what states no fact: a parenthesised list of names, trailing clauses without a fact.

    "… huyện Yên Khánh (Khánh Hòa, Khánh Phú, Khánh An)." loses the list (three or more items, no
    figure); "… bắn một phát giết chết quân Việt hàng vạn người, bắn ba phát giết đến ba vạn." its
    last clause (four or more words, no fact key, no capitalised word: a name or a title such as
    "Thứ trưởng Thường trực" or '"Chân dung cô gái"') when what remains is a clause of its own: at
    least 8 words, its last part at least 5 and not a time, place or purpose opener ("ngày 9 tháng 3
    năm 1945", "để …"), no bracket or quote left open, and no list a colon opened ("… ba bức tranh lụa:
    "Cô đơn", …" keeps its three titles, not one).
    """
    text = _PAREN.sub(_unless_list, text)
    end = text[-1] if text[-1:] in (".", "!", "?", "…") else ""
    segments = (text[: -len(end)] if end else text).split(", ")
    while len(segments) > 1:
        tail, head = segments[-1].split(), segments[:-1]
        if len(tail) < 4 or tail[0].lower() in _QUALIFIERS or any(w.lstrip("\"“‘'(«")[:1].isupper() for w in tail):
            break
        if any(": " in part for part in head):  # an item of the list a colon opened ("… ba bức tranh: "Cô đơn", …")
            break
        if fact_keys(segments[-1]) or not balanced(", ".join(head)):
            break
        opener = all(_first(part) in _OPENERS for part in head) or _first(head[-1]) in _OPENERS
        if len(", ".join(head).split()) < 8 or len(head[-1].split()) < 5 or opener:
            break
        segments = head
    return ", ".join(segments) + end


def _first(part: str) -> str:
    return part.split()[0].lower() if part.split() else ""


def _unless_list(match: re.Match[str]) -> str:
    """A parenthesis as written, or nothing when it lists three or more items without a figure."""
    inside = match.group(1)
    return "" if inside.count(",") >= 2 and not re.search(r"\d", inside) else match.group(0)
