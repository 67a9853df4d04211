"""How real catalogue tags go wrong, learnt from an audit, and catalogues simulated that way.

A wrong tag is rarely a random swap: it is a neighbouring shade (navy tagged Blue), a nearby
colour of another family (olive tagged Grey), or a colour copied from a sibling product. The
model mixes the two mechanisms:

    P(tag | true colour, tag wrong) = (1 - w) * softmax_tag(-dE2000(true, tag) / tau) + w * freq(tag)

``tau`` (how far from the true colour a wrong tag strays) and ``w`` (the share of copied tags,
drawn by catalogue frequency) are fitted by maximum likelihood on the audited pairs (tag, true
colour) where both are known; the rate of wrong tags is the audit's too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..colors import ColorVocabulary
from ..colors.space import delta_e_2000, hex_to_rgb, rgb_to_lab
from .noisy import NoisyCatalogue

TAUS = (2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 50.0)
COPY_SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
MULTI_DISTANCE = 25.0  # dE2000 between a patterned "Multi" tag and any plain colour


def distances(classes: Sequence[str], vocabulary: ColorVocabulary) -> np.ndarray:
    """C x C CIEDE2000 distances between the classes' reference colours."""
    lab = np.array([rgb_to_lab(np.array(hex_to_rgb(vocabulary.get(c).hex), dtype=float)) for c in classes])
    d = delta_e_2000(lab[:, None, :], lab[None, :, :])
    multi = [i for i, c in enumerate(classes) if vocabulary.family(c) == "Multi"]
    for i in multi:
        d[i, :] = d[:, i] = MULTI_DISTANCE
        d[i, i] = 0.0
    return d


@dataclass(frozen=True)
class NoiseModel:
    classes: tuple[str, ...]
    tau: float
    copy_share: float
    wrong_rate: float
    frequency: tuple[float, ...]
    dist: np.ndarray

    def tag_distribution(self, true_index: int) -> np.ndarray:
        """P(tag | true colour, tag wrong) over the classes (zero on the true colour)."""
        near = np.exp(-self.dist[true_index] / self.tau)
        near[true_index] = 0.0
        copy = np.array(self.frequency, dtype=float)
        copy[true_index] = 0.0
        return (1 - self.copy_share) * near / near.sum() + self.copy_share * copy / copy.sum()

    def describe(self) -> dict:
        return {"tau_delta_e": self.tau, "copied_share": self.copy_share, "wrong_rate": round(self.wrong_rate, 4)}


def fit(pairs: Sequence[tuple[str, str]], classes: Sequence[str], vocabulary: ColorVocabulary,
        frequency: Sequence[float], wrong_rate: float) -> NoiseModel:
    """Maximum-likelihood ``tau`` and copy share for the audited (wrong tag, true colour) pairs."""
    index = {c: i for i, c in enumerate(classes)}
    usable = [(index[t], index[c]) for t, c in pairs if t in index and c in index and t != c]
    dist = distances(classes, vocabulary)
    best = None
    for tau in TAUS:
        for share in COPY_SHARES:
            model = NoiseModel(tuple(classes), tau, share, wrong_rate, tuple(frequency), dist)
            ll = sum(np.log(max(model.tag_distribution(c)[t], 1e-12)) for t, c in usable)
            if best is None or ll > best[0]:
                best = (ll, model)
    return best[1]


def simulate(truth: Sequence[str], model: NoiseModel, missing: float = 0.26, seed: int = 0) -> NoisyCatalogue:
    """Removes ``missing`` of the tags and makes ``model.wrong_rate`` of them wrong the audited way."""
    rng = np.random.default_rng(seed)
    n = len(truth)
    order = rng.permutation(n)
    n_missing, n_wrong = round(missing * n), round(model.wrong_rate * n)
    kinds = np.array(["clean"] * n, dtype=object)
    kinds[order[:n_missing]] = "missing"
    kinds[order[n_missing:n_missing + n_wrong]] = "wrong"
    index = {c: i for i, c in enumerate(model.classes)}
    tags: list[str | None] = []
    final: list[str] = []
    for t, kind in zip(truth, kinds):
        if kind == "missing":
            tags.append(None)
        elif kind == "wrong" and t in index:
            tags.append(model.classes[rng.choice(len(model.classes), p=model.tag_distribution(index[t]))])
        else:  # clean, or a colour outside the classes, which keeps its tag
            tags.append(t)
            kind = "clean"
        final.append(str(kind))
    return NoisyCatalogue(list(truth), tags, final)
