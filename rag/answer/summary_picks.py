"""The units a summary has picked so far, and what a further one would add (rag.answer.summarize.select_units)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.answer.summary_joins import pack
from rag.answer.summary_salience import subjects
from rag.answer.summary_settings import SummarySettings
from rag.answer.summary_text import list_share, refers_back
from rag.answer.summary_units import Unit, weight, word_overlap


class Picks:
    """The units chosen so far, the facts they state and the words they use."""

    def __init__(
        self,
        units: Sequence[Unit],
        settings: SummarySettings,
        budget_words: int,
        *,
        whole: bool = True,
        central: Mapping[int, float] | None = None,
    ) -> None:
        frequency: dict[str, int] = {}
        for unit in units:
            for key in unit.facts:
                frequency[key] = frequency.get(key, 0) + 1
        self.salient = {k: _weight(k, settings) * min(1.0, settings.repeated_fact / n) for k, n in frequency.items()}
        self.subjects = subjects(units)
        self.lead = _lead(units, settings) if whole else {}  # passages on a topic: no document's lead among them
        self.central = central or {}  # each unit's centrality in its document, 0..1 (summary_centrality)
        share = settings.list_share  # a unit mostly a list of names or numbers states one fact at most
        self.listy = {u.position for u in units if share and list_share(u.text) >= share}
        self.pointing = {u.position for u in units if refers_back(u.text)}  # each only after the unit before it
        self.settings, self.budget_words = settings, budget_words
        self.chosen: list[Unit] = []
        self.covered: set[str] = set()
        self.used = 0

    def gain(self, unit: Unit) -> float:
        new = [self.salient[k] for k in unit.facts - self.covered]
        if not unit.sentence:  # a list item ("Hồ Chí Minh (từ 2/9/1945 đến …)") is one record: one fact
            if all(key.startswith("p:") for key in unit.facts):
                return 0.0  # a bare name ("Hội Cựu chiến binh Việt Nam") tells a reader nothing alone
            return self.settings.list_item_weight * max(new, default=0.0)
        if unit.position in self.listy:
            new = sorted(new, reverse=True)[:1]
        decay = self.settings.fact_decay
        gain = sum(w * decay**i for i, w in enumerate(sorted(new, reverse=True)))
        subject = self.subjects.get(unit.source)
        if subject and subject in unit.facts:
            gain *= 1 + self.settings.subject_bonus
        gain *= 1 + self.lead.get(unit.position, 0.0)
        central = self.settings.centrality_weight * self.central.get(unit.position, 0.0)
        gain = gain + central if self.settings.centrality_add else gain * (1 + central)
        return gain - unit.praise

    def length(self, unit: Unit) -> int:
        """Budgeted words: a unit the model will shorten counts at its expected shorter length."""
        s = self.settings
        if s.compress and unit.words > s.compress_words:
            return max(s.compress_words, round(unit.words * s.compressed_share))
        return unit.words

    def fits(self, unit: Unit) -> bool:
        """Not chosen yet, within the budget and the sentence cap, not repeating a chosen sentence, and
        not pointing back at a sentence the summary does not hold ("Tầng này …" only after its sentence)."""
        if unit.position in self.pointing and not any(
            c.source == unit.source and c.position == unit.position - 1 for c in self.chosen
        ):
            return False
        return (
            unit not in self.chosen
            and self.used + self.length(unit) <= self.budget_words
            and all(word_overlap(unit.text, c.text) < self.settings.max_overlap for c in self.chosen)
            and self.lines_with(unit) <= self.settings.max_sentences
        )

    def lines_with(self, unit: Unit) -> int:
        """Summary lines the chosen units and this one make (two short neighbours may share one)."""
        units = [*self.chosen, unit]
        if not self.settings.join_words:
            return len(units)
        return len(pack(sorted(units, key=lambda u: u.position), max_words=self.settings.join_words))

    def add(self, unit: Unit) -> None:
        self.chosen.append(unit)
        self.covered |= unit.facts
        self.used += self.length(unit)


def section_of(unit: Unit, level: int) -> tuple[str, tuple[str, ...]]:
    """The unit's document and its headings of this level or above ("== Công nghiệp ==" for level 2)."""
    return unit.source, tuple(text for depth, text in unit.section if depth <= level)


def _lead(units: Sequence[Unit], settings: SummarySettings) -> dict[int, float]:
    """lead_bonus for each unit (by position) of a sectioned document's lead, where articles state headline facts.

    The lead is what comes before the first heading of level 2 ("== Hành chính ==", "## Lịch sử"); a report
    without such headings is all body."""
    if not settings.lead_bonus:
        return {}
    sectioned = {u.source for u in units if any(depth >= 2 for depth, _ in u.section)}
    lead = [u for u in units if u.source in sectioned and all(depth < 2 for depth, _ in u.section)]
    return {u.position: settings.lead_bonus for u in lead}


def _weight(key: str, settings: SummarySettings) -> float:
    return settings.salient_weight if key.startswith("s:") else weight(key)


def parts_of(units: Sequence[Unit], part_words: int) -> tuple[dict[int, int], int]:
    """Which consecutive part of about part_words words each unit (by position) falls in, and how many parts."""
    total = sum(u.words for u in units)
    count = max(1, round(total / part_words)) if part_words else 1
    part, before = {}, 0
    for unit in sorted(units, key=lambda u: u.position):
        part[unit.position] = min(count - 1, before * count // max(1, total))
        before += unit.words
    return part, count
