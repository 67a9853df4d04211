"""Fusion of the classifier's probabilities with the KD-tree reading of the garment.

``p ∝ p_classifier · p_kdtree^beta``: beta = 0 is the classifier alone. The KD-tree
distribution gives each dominant colour's share to the classifier class of the same
name (or, for a vocabulary colour the classifier lacks, to the same family's classes).
beta and the decision thresholds are fitted on the validation split by
``python -m inference calibrate`` and stored in the classifier's model card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colors import ColorVocabulary, DominantColor


@dataclass(frozen=True)
class Decision:
    color: str
    confidence: float
    probs: np.ndarray
    classes: tuple[str, ...]

    def top(self, k: int) -> dict[str, float]:
        order = np.argsort(-self.probs)[:k]
        return {self.classes[i]: round(float(self.probs[i]), 4) for i in order}


class Fusion:
    def __init__(self, classes: list[str], vocabulary: ColorVocabulary, beta: float = 0.0,
                 kd_floor: float = 0.02) -> None:
        self.classes = tuple(classes)
        self.vocabulary = vocabulary
        self.beta = float(beta)
        self.kd_floor = kd_floor
        self.index = {c: i for i, c in enumerate(classes)}
        fams = np.array([vocabulary.family(c) or c for c in classes])
        self.family_of_class = fams
        self._targets = {}
        for entry in vocabulary.entries:
            if entry.name in self.index:
                self._targets[entry.name] = np.eye(len(classes))[self.index[entry.name]]
            else:
                same = (fams == entry.family).astype(float)
                if same.any():
                    self._targets[entry.name] = same / same.sum()

    @classmethod
    def from_card(cls, card: dict, classes: list[str], vocabulary: ColorVocabulary) -> Fusion:
        beta = float(card.get("calibration", {}).get("fusion_beta", 0.0)) if card else 0.0
        return cls(classes, vocabulary, beta)

    @property
    def version(self) -> str:
        return f"fuse{self.beta:.2f}" if self.beta else "nofuse"

    def describe(self) -> dict:
        return {"beta": self.beta}

    def kd_distribution(self, dominant: list[DominantColor]) -> np.ndarray:
        dist = np.zeros(len(self.classes))
        for d in dominant:
            target = self._targets.get(d.color)
            if target is not None:
                dist += d.fraction * target
        dist = dist / dist.sum() if dist.sum() > 0 else np.full(len(self.classes), 1 / len(self.classes))
        return (1 - self.kd_floor) * dist + self.kd_floor / len(self.classes)

    def combine(self, probs: np.ndarray, dominant: list[DominantColor], beta: float | None = None) -> np.ndarray:
        beta = self.beta if beta is None else beta
        if not beta:
            return np.asarray(probs, dtype=float)
        logp = np.log(np.clip(probs, 1e-12, 1)) + beta * np.log(self.kd_distribution(dominant))
        logp -= logp.max()
        p = np.exp(logp)
        return p / p.sum()

    def decide(self, probs: np.ndarray, dominant: list[DominantColor]) -> Decision:
        p = self.combine(probs, dominant)
        i = int(np.argmax(p))
        return Decision(self.classes[i], float(p[i]), p, self.classes)
