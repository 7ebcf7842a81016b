"""The shape of a summary line: whole sentences that start and end where a reader expects.

Pure text rules, no fact keys (rag.answer.summary_units builds the units with them): a source line
that lost its full stop split into its sentences (run_ons), the names a count announces left out
(counted_lists), no list word left dangling (tidied), brackets and quotes balanced (balanced).
"""

from __future__ import annotations

import itertools
import re

# words that announce a list: before ':' (or where a cut left them) they end no sentence ("… đối ngoại gồm:")
_ANNOUNCES = ("gồm có", "bao gồm", "như sau", "sau đây", "gồm", "như", "là", "sau", "các", "những")
_ALWAYS_DANGLING = ("gồm có", "bao gồm", "gồm", "như", "là")  # never the last word of a sentence
_CONNECTORS = frozenset("của và với hoặc hay cho về".split())  # a clause ending so has lost its object
_RUN_ON = re.compile(
    r"(?<=[a-zà-ỹđ0-9]) (?=(?:Theo|Ngày|Năm|Nhưng|Tuy nhiên|Sau đó|Hiện nay|Ngoài ra|Trong đó|Đến năm|Từ năm)"
    r" [a-zà-ỹđ0-9])"
)


def run_ons(sentence: str) -> list[str]:
    """A source sentence that lost its full stop, as the sentences it holds.

    "… vào tháng 4 năm 2015 Theo quy hoạch …" is two: a sentence opener written with a capital
    after a lower-case word or a number, and followed by one, starts a sentence when both sides have
    six words or more (a name such as "Đàng Trong" or "Đảng ủy Ngoài nước" does not match). So is
    "… và 3 xã.Danh sách …", a full stop without its space between a lower-case word and a capitalised one."""
    glued = [m.end() for m in _GLUED.finditer(sentence) if _glued_at(sentence, m.end())]
    if glued:
        bounds = [0, *glued, len(sentence)]
        return [p for a, b in zip(bounds, bounds[1:], strict=False) for p in run_ons(sentence[a:b].strip())]
    cuts, last = [], 0
    for match in _RUN_ON.finditer(sentence):  # each sentence of six words or more ("Vở kịch Ngày mai …": a title)
        if len(sentence[last : match.start()].split()) >= 6 and len(sentence[match.start() :].split()) >= 6:
            cuts.append(last := match.start())
    if not cuts:
        return [sentence]
    bounds = [0, *cuts, len(sentence)]
    parts = [sentence[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)]
    return [p if p.endswith((".", "!", "?", "…", ":", ";")) else p.rstrip(",") + "." for p in parts[:-1]] + parts[-1:]


_GLUED = re.compile(r"(?<=[^\W\d_]{2})\.(?=[^\W\d_]{2})")


def _glued_at(text: str, i: int) -> bool:
    """Whether the full stop before text[i] ends a sentence: "xã.Danh", not "TP.Hồ" or "vnexpress.net"."""
    return text[i - 2].islower() and text[i].isupper() and text[i + 1].islower()


# "gồm 6 phường: Bắc Sơn, …, Yên Bình và 3 xã: …": a count, the word that announces its list, the list
_COUNTED = re.compile(r"\b(\d{1,3}) ((?:[^\W\d_]+ ){0,2}?[^\W\d_]+)(?::| là| gồm(?: có)?| bao gồm) ")
_NAME = re.compile(r"[^\W\d_][\w-]*(?: [^\W\d_][\w-]*){0,3}")
_SEPARATOR = re.compile(r",? và |, ")
_ALIAS = re.compile(r" \([^()]*\)")  # "Đặng Xuân Khu (Trường Chinh)": the bracket after a name is part of it


def counted_lists(sentence: str) -> str:
    """The sentence without the names a count announces, when there are exactly that many of them.

    "… gồm 6 phường: Bắc Sơn, Nam Sơn, Tân Bình, Tây Sơn, Trung Sơn, Yên Bình và 3 xã: Đông Sơn, Quang Sơn,
    Yên Sơn." -> "… gồm 6 phường và 3 xã."; "… và 7 hồ khác là hồ Mùa Thu, hồ Lồng Đèn, …" loses its names too
    (each may repeat the counted noun, "hồ"). Three names or more; a count the names do not match stays whole."""
    start = 0
    while match := _COUNTED.search(sentence, start):
        count, noun = int(match.group(1)), match.group(2).split()[0]
        names, end = _names(sentence, match.end(), noun)
        if count >= 3 and names == count:
            sentence = sentence[: match.end(2)] + sentence[end:]
            start = match.end(2)
        else:
            start = match.end()
    return sentence


def _names(text: str, start: int, noun: str) -> tuple[int, int]:
    """How many capitalised names (of 1-4 words, each maybe after noun) the comma list at text[start:] has; its end."""
    count, end, i = 0, start, start
    while True:
        at = i + len(noun) + 1 if text.startswith(noun + " ", i) else i
        name = _NAME.match(text, at)
        words = list(itertools.takewhile(lambda w: w[0].isupper(), name.group(0).split(" "))) if name else []
        if not words:
            return count, end
        count, end = count + 1, at + len(" ".join(words))
        alias = _ALIAS.match(text, end)
        end = alias.end() if alias else end
        separator = _SEPARATOR.match(text, end)
        if separator is None:
            return count, end
        i = separator.end()


_LISTS = ("gồm có", "bao gồm", "gồm", "như")  # "… như: A, B" is examples, "… là: …" or "… như sau: …" a statement


def announces(clause: str) -> bool:
    """Whether the clause ends by announcing a list: "… gồm:", "… các vị anh hùng như:" (not "… như sau:")."""
    if not clause.endswith(":"):
        return False
    words = clause[:-1].lower().split()
    return any(" ".join(words[-len(a.split()) :]) == a for a in _LISTS) and words[-2:] != ["như", "sau"]


_BRACKETS = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_ITEM_SEPARATOR = re.compile(r",? và |, |; |: ")
_LIST_SEPARATOR = re.compile(_ITEM_SEPARATOR.pattern + r"| [–—-] ")  # a route's stops too: "Nội Bài – cầu …"


def headless(piece: str) -> bool:
    """Whether the piece is a bare list: three items or more, at least two thirds of them of 7 words or fewer.

    "Xi măng, gạch gói, thép xây dựng, bê tông đúc sẵn..." is; "Việc nắm bắt tình hình tư tưởng có lúc,
    có việc chưa kịp thời, nhất là …" (what a "như:" announced, a statement of its own) is not."""
    items = [s.split() for s in _ITEM_SEPARATOR.split(_BRACKETS.sub("", piece).rstrip(" .!?…:;"))]
    return len(items) >= 3 and sum(len(words) <= 7 for words in items) * 3 >= 2 * len(items)


def tidied(piece: str) -> str:
    """A unit that ends as a sentence: no list announcement left dangling, no doubled full stop.

    "… về đối ngoại gồm:" -> "… về đối ngoại."; "… loại II.." -> "… loại II."; a clause ending
    in a connector ("… của.") says nothing whole: "" (left out)."""
    if piece.endswith("..") and not piece.endswith("..."):
        piece = piece.rstrip(".") + "."
    if piece.endswith(("!.", "?.")):  # "… bị mày bắt!." ends once
        piece = piece[:-1]
    body, end = (piece[:-1], piece[-1]) if piece[-1:] in ".!?…:" else (piece, "")
    if end not in (".", ":"):
        return piece
    words = body.rstrip(" ,").split()
    dangling = _ANNOUNCES if end == ":" else _ALWAYS_DANGLING
    changed = end == ":"
    while words:
        tail = next((d for d in dangling if " ".join(words[-len(d.split()) :]).lower() == d), None)
        if tail is None:
            break
        words, changed = words[: -len(tail.split())], True
    if words and words[-1].lower() in _CONNECTORS:
        return ""
    return " ".join(words).rstrip(" ,") + "." if changed else piece


def balanced(text: str) -> bool:
    """No bracket or quote left open ("… (bên cạnh lửa" was cut inside a parenthesis)."""
    return text.count("(") == text.count(")") and text.count('"') % 2 == 0 and text.count("“") == text.count("”")


# the quotes of a gloss without_cjk removed: 'bốn chữ "安陽行寶" (An Dương …)' -> 'bốn chữ " " (An Dương …)'
_EMPTY_QUOTES = re.compile(r"(?<=\s)(?:\"\s*\"|“\s*”)(?=[\s(,.])\s*")
_CAPTION = re.compile(r"^(?:Ảnh|Ảnh minh họa|Ảnh minh hoạ|Nguồn ảnh): (?=\S)")


def mended(piece: str) -> str:
    """The unit as a reader expects a line: outside brackets, its quotes closed, no caption label; "" to leave out.

    A sentence the source wrote wholly in brackets ("(Ví dụ …)") is an aside to the one before, and one
    with a bracket it never opens or closes ("Bái), Minh Quân, …", "… (thành phố Yên.") was cut inside
    it: both are left out; a bracket opening the line before its sentence ("(Theo TTXVN) Ngày …") is
    dropped. A sentence of a quotation that runs on gets the quote mark it lacks: 'Ông nói: "Ta sống … này.'
    ends '… này".'; '… chúa thượng!".' opens with one. "Ảnh: Đồng chí …" (a photo's caption) loses "Ảnh:".
    """
    piece = _EMPTY_QUOTES.sub("", _CAPTION.sub("", piece))
    if piece[:1] in "([":
        close = _closing(piece)
        if close is None or not piece[close + 1 :].strip(" .!?…"):
            return ""
        rest = piece[close + 1 :].lstrip(" ,")
        piece = rest[:1].upper() + rest[1:]
    depths = _depths(piece)
    if depths and (min(depths) < 0 or depths[-1] > 0):
        return ""  # a bracket closed before it opened (the line started inside it) or never closed
    return _quoted(piece)


def _depths(text: str) -> list[int]:
    """How many round or square brackets are open after each character."""
    return list(itertools.accumulate((c in "([") - (c in ")]") for c in text))


def _closing(text: str) -> int | None:
    """Where the bracket opening text closes, or None when it never does."""
    return next((i for i, depth in enumerate(_depths(text)) if depth == 0), None)


_SECONDS = re.compile(r"\d['’′] ?\d{1,2}(?:[.,]\d+)? ?\"")


def _quoted(piece: str) -> str:
    """The piece with the quote mark its quotation lacks (one sentence of a quotation of several).

    A straight quote after a letter or a mark closes ('… an lành".'), after a space, a colon or the
    start it opens ('nói: "Ta …')."""
    if piece.count("“") != piece.count("”"):
        if piece.count("”") > piece.count("“"):
            return "“" + piece
        return piece[:-1] + "”." if piece.endswith(".") and not piece.endswith("..") else piece + "”"
    marks = _SECONDS.sub(lambda m: m.group(0)[:-1] + "″", piece)  # 10o33'42": seconds, not a quote
    opened, unopened = 0, 0
    for i, char in enumerate(marks):
        if char != '"':
            continue
        closes = i > 0 and not piece[i - 1].isspace() and piece[i - 1] not in ":(["
        if closes and opened:
            opened -= 1
        elif closes:
            unopened += 1
        else:
            opened += 1
    body, end = (piece[:-1], ".") if piece.endswith(".") and not piece.endswith("..") else (piece, "")
    return '"' * unopened + body + '"' * opened + end  # '… Việt Nam".': the line still ends on its full stop


def list_share(text: str) -> float:
    """Share of the line's words in items of a list of names or numbers, 0..1 (0 under three items).

    An item is what commas, "và", ";", ":" and dashes separate into 1-5 words ending on a name or a number
    ("Hòa Lạc", "xã Tân Phú", "điều 57"), brackets left out: "Tuyến đi qua các xã Tân Lập, Tân Hòa
    (huyện Đông Sơn), Hòa Bình và Hòa An." has 6 of its 14 words in 3 items (its first segment is none)."""
    body = _BRACKETS.sub("", text).rstrip(" .!?…:;")
    segments = _LIST_SEPARATOR.split(body)
    total = sum(any(c.isalnum() for c in word) for word in body.split())  # a dash is no word
    items = [s.split() for s in segments if 1 <= len(s.split()) <= 5 and _named(s.split()[-1])]
    if len(items) < 3 or not total:
        return 0.0
    return sum(len(words) for words in items) / total


def _named(word: str) -> bool:
    word = word.strip("\"“”'’")
    return word[:1].isupper() or word[:1].isdigit()


# a line opening like this points back at the sentence before it ("Tầng này …", "Trong đó 97,4% …", "Nó đạt …",
# "Được khởi công năm 1937 …" with its subject in that sentence): alone in a summary it cannot be understood
_REFERS_BACK = re.compile(r"(?:[^\W\d_]+ ){1,2}(?:này|ấy)\b|(?:Trong đó|Nó|Đó|Đây|Chúng|Họ)\b")
_PASSIVE_OPENING = re.compile(r"Được\b[^,]*,\s*(\w)?")


def refers_back(line: str) -> bool:
    """Whether the line opens by pointing back at the sentence before it: an anaphor, or a passive whose
    subject is not named after its first comma ("Được khởi công năm 1937 …, là …"; "Được xây dựng năm
    1049, Chùa Một Cột …" names it)."""
    if _REFERS_BACK.match(line):
        words = line.split()
        return not (words[0] == "Họ" and len(words) > 1 and words[1][:1].isupper())  # "Họ Nguyễn": a family name
    passive = _PASSIVE_OPENING.match(line)
    if passive is None:
        return line.startswith("Được ")
    return not (passive.group(1) or "").isupper()
