"""The limits of a summary (rag.answer.summarize), tuned on half of benchmarks/bench_summaries.py."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SENTENCES_ASKED = 40  # the most sentences a person may ask a summary for (rag summarize --sentences, the chat)


@dataclass(frozen=True)
class SummarySettings:
    """Length and dedup limits of a summary; tuned on half of benchmarks/bench_summaries.py."""

    max_sentences: int = 12
    min_sentences: int = 3  # taken by new words when too few sentences state a fact
    share: float = 0.25  # of the document's words at most (tune half: 0.23 gave 0.755, 0.25 0.772; target ≤ 25%)
    max_words: int = 550  # tuned: 350 left long documents short of their 12 sentences
    min_words: int = 60  # a short document still gets a few sentences
    max_overlap: float = 0.6  # no two sentences share more of their content words
    long_sentence_words: int = 40  # longer sentences are cut at ';' and ':' into clauses
    compress_words: int = 25  # longer units are shortened by the model (when compress is on)
    compress: bool = False  # measured: the 1.5B model's shorter sentences lost a fact and cost ~8 s each
    compressed_share: float = 0.65  # the length a shortened unit is budgeted at, of its own
    length_power: float = 0.0  # units are ranked by new facts / words ** length_power (tuned: the sentence cap binds)
    repeated_fact: float = 6.0  # a fact stated in more units than this counts less (the document's own subject)
    list_item_weight: float = 0.5  # a line without a full stop (a list item) counts as one fact, times this
    fact_decay: float = 0.8  # the i-th new fact of a unit (heaviest first) counts fact_decay ** i: a list is one fact
    # a document longer than this is summarised in parts of about this many words, each with its share of the
    # sentences (0: one part); measured on the tune half: 1,000-2,000 lowered recall to 0.70-0.72, so it is off
    part_words: int = 0
    subject_bonus: float = 1.0  # a unit naming its document's subject (a name of its title) gains this much more
    # fuse: select up to fuse_pool units (within fuse_max_words), then have the model join two adjacent ones of
    # the same passage into one sentence until max_sentences remain; a joined sentence is kept only when every
    # fact of both survived, none is new to the passage and the support check backs it; the rest drops weakest first
    fuse: bool = False
    fuse_pool: int = 18
    fuse_max_words: int = 900
    fuse_words: int = 70  # two units longer than this together are not joined
    # join_words: two picked units adjacent in document order, together at most this many words, of one document
    # and kind and sharing a content word, are one line "A [3]; b [5]." (summary_joins); the sentence cap counts
    # lines. 0: off; measured on the tune half at 30 and 35: recall unchanged (long documents' picks are too long)
    join_words: int = 0
    # units lose their parts without a fact (summary_units.trimmed); tune half: 0.772 -> 0.790 (an-duong-vuong)
    trim: bool = True
    # salient_terms: in a document of salient_min_words or more (a long one, where 550 words are at most about half of
    # its 25% share), its this many word pairs most frequent in it and rarest in Vietnamese Wikipedia ("xi măng" in
    # Tam Điệp; summary_salience) are facts of salient_weight (a number's) each. 0: off. Stop 21 tuned them on
    # tam-diep alone (4,400 words); stop 22 took 4,000 (the benchmark's long articles are 4,113-5,739 words): the
    # tune half's binh-thuan (4,113) gains two facts, the other documents are unchanged (docs/summaries.md)
    salient_terms: int = 20
    salient_weight: float = 3.0
    salient_min_words: int = 4000
    # sections: a unit under a heading (of this level or above: 2 is "== … ==" or "## …") no pick is from yet
    # goes before a second one from any heading, so a long article's sections each give their best fact. 0: off
    sections: int = 0
    # count_lists: a count's list of exactly that many names is left out ("gồm 6 phường: Bắc Sơn, … và 3 xã: …" ->
    # "gồm 6 phường và 3 xã"; summary_text.counted_lists): a list is one fact, not six names. Stop 22 (first round,
    # with lead_bonus, not adopted) tune 0.802 -> 0.814 (tam-diep); second round, on the nine-document tune half with
    # its four long articles: 0.766 -> 0.774 (tam-diep again), no document losing, so on. The one run of all 15 with
    # it, the coordinates and salient_min_words 4,000: test 0.641 -> 0.614 (phu-ly -2 facts; docs/summaries.md)
    count_lists: bool = True
    # lead_bonus: a unit of a sectioned document's lead (before its first "== … ==" or "## …" heading), where an
    # article states its headline facts, gains this much more. Stop 22 (six and nine tune documents): 1.0 cost
    # dang-cong-san two facts, so it was off. Stop 25, on the fifteen-document tune half (six articles added, their
    # facts written first): 0 0.608, 0.5 0.613, 1 0.630, 2 0.643, 3 0.659, 5 0.669, 10 0.657; with list_share 0.3,
    # 4 to 6 all 0.679 (docs/summaries.md). 0: off
    lead_bonus: float = 5.0
    # centrality_weight: a unit of a document of centrality_min_words or more gains by how central it is to its
    # document (0..1; summary_centrality, by the embedding model the index uses): its gain times
    # 1 + centrality_weight * c, or plus centrality_weight * c with centrality_add. centrality: "centroid" (cosine
    # with the mean of the document's units), "degree" (units it has a cosine of centrality_threshold or more
    # with, LexRank) or "title" (cosine with the title as a query). Needs the Summarizer's embedder; 0: off.
    # Stop 23, tune half only (0.793 off): best title 0.5 and degree 0.88 at 1.0, both 0.801, but title costs
    # dang-cong-san a fact and degree gains on tam-diep alone; centroid 0.737-0.782 (docs/summaries.md), so off
    centrality_weight: float = 0.0
    centrality: str = "centroid"
    centrality_threshold: float = 0.85
    centrality_add: bool = False
    centrality_min_words: int = 4000
    # list_share: a unit whose words are at least this share items of a list of names or numbers (the communes
    # a road crosses, a bus route's stops, ten petitioners; summary_text.list_share) counts as one fact, its
    # heaviest new one. 0: off. Stop 24 (nine tune documents): no effect at 0.4-0.6. Stop 25 (fifteen, lead_bonus
    # 5): 0.669 off, 0.6 0.669, 0.5 0.669, 0.4 0.674, 0.35-0.25 0.679
    list_share: float = 0.3
