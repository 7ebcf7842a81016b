"""Can the retrieved passages answer the question at all? A small logistic model over retrieval signals.

When the index lacks the answer, the hybrid retriever still returns its closest passages and a
small model answers from them anyway. The signals that tell the two cases apart are already
computed by retrieval: how far the top passage stands out from the other candidates (its fused
z-score), how close it is to the question (cosine), how much of the question one of its sentences
holds (best-sentence coverage) and how well the passages cover the question's claim terms
(rag.checks.analysis). ``benchmarks/fit_answerability.py`` fits the weights on questions asked with
and without their article in the index and writes ``rag/data/answerability.json``; the numbers
it measured (cross-validated by article) are kept in that file and in README.

Only meaningful for the embedder it was fitted with (``embedder``: cosines of another model live
on another scale; rag.setup.wiring leaves the model out then) and for the default hybrid retrieval
with z-score fusion: other modes score on other scales, so hits without the signals give
``None`` (no decision) instead of a wrong one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.checks.analysis import Analysis

FEATURES = ("fused", "dense", "coverage", "evidence")
DEFAULT_MODEL = Path(__file__).parent.parent / "data" / "answerability.json"


def features(analysis: Analysis) -> list[float] | None:
    """The model's inputs for the analysed hits (best first), or None when the retriever did not report its signals."""
    if not analysis.passages:
        return None
    top = analysis.passages[0].hit
    if top.dense is None or top.coverage is None:
        return None
    return [top.score, top.dense, top.coverage, analysis.evidence]


@dataclass(frozen=True)
class AnswerabilityModel:
    """p(answerable) = sigmoid(bias + sum(weight * (x - mean) / scale)) over FEATURES."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float  # below this probability the assistant refuses
    info: dict[str, Any]  # how it was fitted and what it measured
    embedder: str = ""  # model_id of the embedder whose scores it was fitted on
    retrieval: dict[str, Any] = field(default_factory=dict)  # the retrieval settings its signals came from

    def mismatch(self, embedder_id: str | None, retrieval: dict[str, Any]) -> str | None:
        """Why this model does not fit an assistant with this embedder and these retrieval settings (None: it fits)."""
        if self.embedder != embedder_id:
            return f"fitted for embedder {self.embedder}, index embedded with {embedder_id}"
        changed = [
            f"{k} {v!r} (fitted with {self.retrieval[k]!r})"
            for k, v in retrieval.items()
            if k in self.retrieval and self.retrieval[k] != v
        ]
        return f"retrieval settings changed: {', '.join(changed)}" if changed else None

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def answerable(self, analysis: Analysis, threshold: float | None = None) -> bool | None:
        """True/False against the threshold (the fitted one unless given); None when it cannot tell."""
        x = features(analysis)
        if x is None:
            return None
        return self.probability(x) >= (self.threshold if threshold is None else threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "threshold": self.threshold,
            "embedder": self.embedder,
            "retrieval": self.retrieval,
            "info": self.info,
        }

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> AnswerabilityModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["features"] != list(FEATURES):
                raise ValueError(f"features {data['features']} != {list(FEATURES)}")
            return cls(
                weights=tuple(float(w) for w in data["weights"]),
                bias=float(data["bias"]),
                mean=tuple(float(m) for m in data["mean"]),
                scale=tuple(float(s) for s in data["scale"]),
                threshold=float(data["threshold"]),
                info=dict(data.get("info", {})),
                embedder=str(data["embedder"]),
                retrieval=dict(data.get("retrieval", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"answerability model {path} is unusable ({e}): reinstall the package or refit it with "
                "`python benchmarks/fit_answerability.py`"
            ) from e


def fit(
    x: Sequence[Sequence[float]], y: Sequence[bool], *, l2: float = 1.0, iterations: int = 50
) -> tuple[tuple[float, ...], float, tuple[float, ...], tuple[float, ...]]:
    """L2-regularised logistic regression by Newton's method on standardised inputs.

    Returns (weights, bias, mean, scale). Pure numpy; the bias is not regularised.
    """
    import numpy as np

    data = np.asarray(x, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    mean = data.mean(axis=0)
    scale = data.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((len(data), 1)), (data - mean) / scale])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -60, 60)))
        gradient = design.T @ (p - target) + penalty * beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return (
        tuple(float(b) for b in beta[1:]),
        float(beta[0]),
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
    )
