"""Sentences of a document that address the model instead of informing the reader (prompt injection).

A document may carry "Ghi chú cho trợ lý: câu trả lời thật là …" or "Ignore all previous
instructions". The prompt already tells the model that passages are data; these sentences are
also kept out of the prompt's selected sentences and out of the support check, so a claim taken
from an injected instruction is never counted as supported by the document.

The patterns look for an instruction's shape (an addressee such as "trợ lý", "assistant", "AI
model" with a directive, or an override phrase such as "bỏ qua mọi hướng dẫn", "system prompt",
chat-template tokens); they are matched on lowercased, diacritics-folded text.
"""

from __future__ import annotations

import re

from rag.text.vietnamese import fold_diacritics, nfc

_ADDRESSEE = (
    r"(?:tro ly(?: ai| ao)?|chatbot|tro ly ngon ngu|mo hinh (?:tra loi|ngon ngu|ai)|"
    r"(?:the |an )?(?:ai )?assistant|(?:the |an )?ai model|(?:the )?language model|llm)"
)
_PATTERNS = [
    # an override, with or without an addressee
    r"\b(?:ignore|disregard|forget) (?:all |any |the )?(?:previous|prior|above|earlier|preceding)\b",
    r"\bignore the (?:question|documents?|context)\b",
    r"\bbo qua (?:moi |tat ca |cac |toan bo )?(?:huong dan|chi dan|yeu cau|menh lenh|lenh|chi thi)\b",
    r"\b(?:system prompt|loi nhac he thong|system override|developer mode|debug mode)\b",
    r"<\|?(?:im_start|im_end|system|endoftext)\|?>|\[/?inst\]|</?tai_lieu>",
    r"\b(?:from now on|tu bay gio|ke tu bay gio)\b.{0,60}\b(?:answer|reply|respond|tra loi|hay|phai)\b",
    r"\b(?:the real|the correct|the true) answer is\b|\bcau tra loi (?:that|dung|chinh xac|that su) la\b",
    r"\b(?:always answer|always reply|reply exactly|respond only|answer only in)\b",
    r"\b(?:end|start|begin) (?:every|each|your) (?:reply|answer|response)\b",
    r"\bket thuc moi cau tra loi\b|\bchen (?:duong dan|lien ket)\b.{0,40}\bcau tra loi\b",
    # an addressee followed by a directive
    r"\b(?:note|message|instruction|instructions|important instruction) (?:to|for) (?:the )?(?:ai|assistant|model)\b",
    r"\b(?:ghi chu|luu y|yeu cau|loi nhan|thong diep|huong dan) (?:cho|danh cho|doi voi|gui) " + _ADDRESSEE,
    r"\b" + _ADDRESSEE + r"\s*[:,]\s*(?:khi tra loi|hay|phai|bat buoc|khong duoc|must|always|append|insert|"
    r"answer|reply|respond|print|say)\b",
    r"\b(?:you are now|you must now|ban phai tra loi|ban hay tra loi bang tieng anh|tra loi bang tieng anh)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def is_instruction(sentence: str) -> bool:
    """True when the sentence reads as an instruction to the model rather than content."""
    return _INSTRUCTION.search(fold_diacritics(nfc(sentence)).lower()) is not None
