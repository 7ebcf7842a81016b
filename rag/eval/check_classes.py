"""The checks as a classifier: what they did with the model's own answer (checks off), per question."""

from __future__ import annotations

from typing import Any

CHECK_CLASSES = (
    "right_kept",
    "right_lost_dropped",  # answered, but the sentence holding the gold answer was dropped
    "right_lost_replaced",  # replaced by an extractive sentence without it
    "right_lost_refused",
    "wrong_refused",
    "wrong_rescued",  # replaced by an extractive sentence holding the gold answer
    "wrong_replaced_wrong",
    "wrong_kept",
)

_LABELS = {
    "right_kept": "right, kept",
    "right_lost_dropped": "right, lost: dropped (harm)",
    "right_lost_replaced": "right, lost: replaced (harm)",
    "right_lost_refused": "right, lost: refused (harm)",
    "wrong_refused": "wrong, refused",
    "wrong_rescued": "wrong, replaced by a right extractive answer (rescue)",
    "wrong_replaced_wrong": "wrong, replaced by a wrong one",
    "wrong_kept": "wrong, kept",
}


def check_class(model_right: bool, final_right: bool, outcome: str) -> str:
    """One of CHECK_CLASSES: was the model's answer right, and what did the checks make of it.

    A hedge ("Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: …") counts as a refusal
    unless the sentence it offers holds the gold answer.
    """
    refused = outcome in ("refused", "hedged")
    if model_right:
        if final_right:
            return "right_kept"
        if refused:
            return "right_lost_refused"
        return "right_lost_replaced" if outcome == "extractive" else "right_lost_dropped"
    if refused and not final_right:
        return "wrong_refused"
    if final_right:
        return "wrong_rescued"
    return "wrong_replaced_wrong" if outcome == "extractive" else "wrong_kept"


def checks_table(summary: dict[str, Any]) -> str:
    """The checks' confusion table of a summary, for people (rag eval prints it)."""
    counts, n = summary["checks"], summary["questions"]
    right = sum(v for k, v in counts.items() if k.startswith("right"))
    lines = [f"the model alone (checks off) was right on {right} of {n}; what the checks did with its answer:"]
    lines += [f"  {_LABELS[c]:<56} {counts[c]:>4}" for c in CHECK_CLASSES]
    return "\n".join(lines)
