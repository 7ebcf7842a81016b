"""A generator that records each reply the first time a prompt is seen and replays it after.

At temperature 0 the model's reply is a function of the prompt, so ``rag eval --replies FILE``
pays for each (prompt, limits) once: a later run that changes only the checks, or reruns the same
questions, replays the model's exact pieces instead of waiting ~5 s per question on 2 cores.
Pieces are stored as the model streamed them, so the assistant's stops (a repeated sentence, a
CJK character) cut a replayed reply where they cut the live one. Each line of the file is one
JSON record: key, pieces, finish_reason, logprob (the reply's summed token log-probabilities, or
null), prompt_tokens, completion_tokens; or, for a scoring call (rag.answer.choice), key and scores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer.completion import STOP, CallState, Completion
from rag.errors import ConfigError
from rag.types import Message, Usage


class RecordedGenerator:
    """Wraps a Generator; replies already in the file are replayed, new ones are generated and appended."""

    def __init__(self, generator, path: Path) -> None:  # noqa: ANN001 - any rag.answer.generate.Generator
        self._generator = generator
        self._path = path
        self._replies: dict[str, tuple[list[str], Usage, str, float | None]] = {}
        self._scores: dict[str, list[tuple[float, int]]] = {}
        self.replayed = self.generated = 0
        if path.is_file():
            for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                try:
                    data = json.loads(line)
                    if "scores" in data:
                        self._scores[str(data["key"])] = [(float(t), int(n)) for t, n in data["scores"]]
                        continue
                    usage = Usage(int(data["prompt_tokens"]), int(data["completion_tokens"]))
                    finish = str(data.get("finish_reason", STOP))
                    logprob = data.get("logprob")  # absent in recordings made before it was kept
                    logprob = None if logprob is None else float(logprob)
                    self._replies[str(data["key"])] = ([str(p) for p in data["pieces"]], usage, finish, logprob)
                except (ValueError, KeyError, TypeError) as e:
                    raise ConfigError(f"{path} line {line_no} is not a recorded reply ({e}): delete the file") from e

    @property
    def model_id(self) -> str:
        return self._generator.model_id

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return self._generator.count_prompt_tokens(messages)

    def key(self, messages: Sequence[Message], max_tokens: int, temperature: float, grammar: str | None = None) -> str:
        """The prompt's key; a grammar (copy_span) is part of it, and a call without one keeps the old key."""
        data = [self.model_id, max_tokens, temperature, [(m.role, m.content) for m in messages]]
        if grammar is not None:
            data.append(grammar)
        return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()

    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]:
        """The generator's scores of the replies (rag.answer.choice), recorded like replies."""
        key = hashlib.sha256(
            json.dumps(
                ["score", self.model_id, [(m.role, m.content) for m in messages], list(replies)], ensure_ascii=False
            ).encode("utf-8")
        ).hexdigest()
        if key not in self._scores:
            score = getattr(self._generator, "score", None)
            if score is None:
                raise ConfigError(f"{self.model_id} cannot score replies: set span_choice = free")
            self._scores[key] = [(float(t), int(n)) for t, n in score(messages, replies)]
            with self._path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "scores": self._scores[key]}) + "\n")
            self.generated += 1
        else:
            self.replayed += 1
        return self._scores[key]

    def accepts_grammar(self) -> bool:
        """As the recorded generator does (rag.answer.quoting.grammar_capable): a reply is replayed only where
        it would have been asked for the same way."""
        from rag.answer.quoting import grammar_capable

        return grammar_capable(self._generator)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Completion:
        key = self.key(messages, max_tokens, temperature, grammar)
        if key in self._replies:
            pieces, usage, finish, logprob = self._replies[key]
            self.replayed += 1

            def replay(state: CallState) -> Iterator[str]:
                state.usage, state.logprob = usage, logprob
                yield from pieces
                state.finish_reason = finish

            return Completion(replay)
        constraint = {"grammar": grammar} if grammar is not None else {}
        inner = self._generator.stream(messages, max_tokens=max_tokens, temperature=temperature, **constraint)

        def record(state: CallState) -> Iterator[str]:
            pieces: list[str] = []
            try:
                for piece in inner:
                    pieces.append(piece)
                    state.usage, state.logprob = inner.usage, inner.logprob
                    yield piece
                state.finish_reason = inner.finish_reason
            finally:
                # the assistant may stop early (a repeated sentence): what it consumed is the reply
                inner.close()
                state.usage, state.logprob = inner.usage, inner.logprob
                finish = state.finish_reason or STOP
                if temperature == 0.0:  # only a greedy reply is a function of its prompt
                    self._replies[key] = (pieces, inner.usage, finish, inner.logprob)
                    line = {"key": key, "pieces": pieces, "finish_reason": finish, "logprob": inner.logprob} | {
                        "prompt_tokens": inner.usage.prompt_tokens,
                        "completion_tokens": inner.usage.completion_tokens,
                    }
                    with self._path.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(line, ensure_ascii=False) + "\n")
                self.generated += 1

        return Completion(record)
