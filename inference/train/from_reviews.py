"""Fine-tuning the colour classifier's heads on labelled products (reviewers' decisions, catalogue tags).

CPU-realistic: the backbones stay as shipped; each ensemble member's final linear layer is fitted
again from its shipped values on the penultimate features of the labelled products' views, with a
weighted cross-entropy and an L2 pull towards the shipped head. Features depend only on the image,
its category and the shipped backbones, so they are cached on disk and read once per image.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ..classify.model import DEFAULT_WEIGHTS, TimmColorClassifier, calibrate, card_calibration, classifier_version
from ..errors import WeightsError
from ..pipeline import ImageInput, Pipeline
from ..weights import WEIGHTS_DIR, load_card, load_weights, save_weights

#: the state-dict prefix of a member's final linear layer (timm's ``default_cfg['classifier']``)
HEAD = "classifier"


@dataclass
class Features:
    """Penultimate features of every classifier member, and the KD-tree distribution, per item."""

    keys: list[str]
    members: list[np.ndarray]  # one N x D array per member, in card order
    kd: np.ndarray  # N x C
    failed: dict[str, str] = field(default_factory=dict)  # key -> why the pipeline read nothing

    def take(self, keys: list[str]) -> Features:
        """The rows of ``keys`` (those with features), in that order."""
        index = {k: i for i, k in enumerate(self.keys)}
        rows = np.array([index[k] for k in keys if k in index], dtype=int)
        return Features([self.keys[i] for i in rows], [m[rows] for m in self.members], self.kd[rows], self.failed)


class FeatureCache:
    """One small ``.npz`` per item key under a folder named after the pipeline that read it."""

    def __init__(self, directory: str | Path, pipeline_version: str) -> None:
        self.directory = Path(directory) / hashlib.sha1(pipeline_version.encode()).hexdigest()[:16]

    def _path(self, key: str) -> Path:
        name = hashlib.sha1(key.encode()).hexdigest()
        return self.directory / name[:2] / f"{name}.npz"

    def get(self, key: str) -> tuple[list[np.ndarray], np.ndarray] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                members = [data[f"m{i}"] for i in range(int(data["n"]))]
                return members, data["kd"]
        except (OSError, ValueError, KeyError):  # a torn write: read the image again
            return None

    def put(self, key: str, members: list[np.ndarray], kd: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, n=len(members), kd=kd.astype(np.float32),
                 **{f"m{i}": m.astype(np.float32) for i, m in enumerate(members)})
        tmp.replace(path)


def extract_features(pipeline: Pipeline, inputs: list[ImageInput], cache: FeatureCache | None = None,
                     batch: int = 16, progress: Callable[[int], None] | None = None,
                     fetch: Callable[[list[ImageInput]], list[ImageInput | str]] | None = None) -> Features:
    """Features of ``inputs`` (each with a unique ``key``), read through the pipeline where not cached.
    ``fetch`` turns a chunk's sources into what the pipeline reads (e.g. names in a media storage into
    their bytes), only for the images not cached; it gives a message instead of an image it cannot read."""
    if not isinstance(pipeline.classifier, TimmColorClassifier):
        raise WeightsError("retraining needs the timm classifier (COLORREVIEW_CLASSIFIER=timm)")
    found: dict[str, tuple[list[np.ndarray], np.ndarray]] = {}
    failed: dict[str, str] = {}
    todo = []
    for item in inputs:
        hit = cache.get(item.key) if cache else None
        if hit is None:
            todo.append(item)
        else:
            found[item.key] = hit
    if progress and len(inputs) > len(todo):
        progress(len(inputs) - len(todo))
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        if fetch is not None:
            fetched = fetch(chunk)
            failed.update((item.key, got) for item, got in zip(chunk, fetched) if isinstance(got, str))
            chunk = [got for got in fetched if not isinstance(got, str)]
        _read_chunk(pipeline, chunk, cache, found, failed)
        if progress:
            progress(len(chunk))
    keys = [i.key for i in inputs if i.key in found]
    n = len(pipeline.classifier.members)
    members = [np.stack([found[k][0][j] for k in keys]) if keys else np.zeros((0, 0), np.float32) for j in range(n)]
    kd = np.stack([found[k][1] for k in keys]) if keys else np.zeros((0, len(pipeline.classifier.classes)))
    return Features(keys, members, kd, failed)


def _read_chunk(pipeline: Pipeline, chunk: list[ImageInput], cache: FeatureCache | None,
                found: dict, failed: dict) -> None:
    results, views, usable = pipeline.analyse_batch(chunk)
    for item, r in zip(chunk, results):
        if r.error:
            failed[item.key] = r.error
    if not usable:
        return
    feats = pipeline.classifier.member_features(views)  # each member's penultimate features
    for row, i in enumerate(usable):
        members = [f[row] for f in feats]
        kd = pipeline.fusion.kd_distribution(results[i].dominant_colors)
        found[chunk[i].key] = (members, kd)
        if cache:
            cache.put(chunk[i].key, members, kd)


@dataclass(frozen=True)
class MemberHead:
    """One ensemble member's final layer and its place in the ensemble."""

    name: str
    weight: np.ndarray  # C x D
    bias: np.ndarray  # C
    ensemble_weight: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features.astype(np.float64) @ self.weight.T.astype(np.float64) + self.bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)


@dataclass(frozen=True)
class Classifier:
    """The heads of a weights folder plus what the pipeline applies after them."""

    version: str
    classes: list[str]
    heads: list[MemberHead]
    temperature: float
    fusion_beta: float
    bias: np.ndarray | None = None  # per class, after the temperature (the card's ``class_bias``)

    def probabilities(self, features: Features) -> np.ndarray:
        """The pipeline's final probabilities: members averaged, temperature and class biases, fusion with
        the KD-tree."""
        total = sum(h.ensemble_weight for h in self.heads)
        mixed = sum(h.ensemble_weight / total * h.probabilities(f) for h, f in zip(self.heads, features.members))
        p = calibrate(mixed, self.temperature, self.bias)
        if self.fusion_beta:
            p = np.exp(np.log(np.clip(p, 1e-12, 1)) + self.fusion_beta * np.log(features.kd))
            p /= p.sum(1, keepdims=True)
        return p


def member_names(weights_dir: str | Path | None, main: str = DEFAULT_WEIGHTS) -> list[tuple[str, float]]:
    card = load_card(main, weights_dir)
    return [(main, 1.0)] + [(e["weights"], float(e.get("weight", 1.0))) for e in card.get("ensemble", [])]


def card_version(weights_dir: str | Path | None, main: str = DEFAULT_WEIGHTS) -> str:
    """The classifier version of a weights folder from its cards alone (no hashing of the files)."""
    versions = [f"{name}-{load_card(name, weights_dir)['sha256'][:8]}" for name, _ in member_names(weights_dir, main)]
    return classifier_version(versions, *card_calibration(load_card(main, weights_dir)))


def read_classifier(weights_dir: str | Path | None, main: str = DEFAULT_WEIGHTS) -> Classifier:
    """The heads of ``weights_dir`` (checksums verified), without building the networks."""
    heads, versions = [], []
    for name, ensemble_weight in member_names(weights_dir, main):
        bundle = load_weights(name, weights_dir)
        heads.append(MemberHead(name, bundle.state_dict[f"{HEAD}.weight"].numpy(),
                                bundle.state_dict[f"{HEAD}.bias"].numpy(), ensemble_weight))
        versions.append(bundle.version)
    card = load_card(main, weights_dir)
    temperature, bias = card_calibration(card)
    return Classifier(classifier_version(versions, temperature, bias), list(card["classes"]), heads, temperature,
                      float(card.get("calibration", {}).get("fusion_beta", 0.0)), bias)


@dataclass(frozen=True)
class HeadFit:
    weight: np.ndarray
    bias: np.ndarray
    loss_before: float
    loss_after: float


def fit_head(features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray, start: MemberHead, *,
             steps: int = 300, lr: float = 0.01, l2: float = 0.01, offset: np.ndarray | None = None) -> HeadFit:
    """Weighted cross-entropy from the shipped head, plus ``l2`` times the squared distance to it.

    ``offset`` (per class) is added to the logits while fitting and is not part of the head: the class
    priors that the calibration adds after the head, so that the head does not learn them a second time."""
    x = torch.from_numpy(np.asarray(features, np.float32))
    shift = torch.zeros(len(start.bias)) if offset is None else torch.from_numpy(np.asarray(offset, np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    w = torch.from_numpy(np.asarray(sample_weight, np.float32))
    w = w / w.sum()
    w0, b0 = torch.from_numpy(start.weight.astype(np.float32)), torch.from_numpy(start.bias.astype(np.float32))
    weight, bias = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([weight, bias], lr=lr)

    def data_loss() -> torch.Tensor:
        return (torch.nn.functional.cross_entropy(x @ weight.T + bias + shift, y, reduction="none") * w).sum()

    with torch.no_grad():
        before = float(data_loss())
    for _ in range(steps):
        optimiser.zero_grad()
        loss = data_loss() + l2 * (((weight - w0) ** 2).sum() + ((bias - b0) ** 2).sum())
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        after = float(data_loss())
    return HeadFit(weight.detach().numpy(), bias.detach().numpy(), before, after)


def fine_tune(base: Classifier, features: Features, labels: list[str], sample_weight: np.ndarray, *,
              steps: int = 300, lr: float = 0.01, l2: float = 0.01) -> tuple[Classifier, dict]:
    """New heads for every member of ``base``; ``labels`` are class names aligned with ``features``."""
    index = {c: i for i, c in enumerate(base.classes)}
    y = np.array([index[c] for c in labels])
    heads, fits = [], {}
    # the calibration adds the class priors after the heads (bias b after temperature T: T * b on the logits)
    offset = None if base.bias is None else base.temperature * base.bias
    for head, x in zip(base.heads, features.members):
        fit = fit_head(x, y, sample_weight, head, steps=steps, lr=lr, l2=l2, offset=offset)
        heads.append(MemberHead(head.name, fit.weight, fit.bias, head.ensemble_weight))
        fits[head.name] = {"loss_before": round(fit.loss_before, 4), "loss_after": round(fit.loss_after, 4)}
    tuned = Classifier("candidate", base.classes, heads, base.temperature, base.fusion_beta, base.bias)
    return tuned, {"steps": steps, "lr": lr, "l2": l2, "members": fits}


def write_candidate(base_dir: str | Path | None, out_dir: str | Path, tuned: Classifier, training: dict) -> str:
    """A complete weights folder: the base folder's files (segmenters too), the members' new heads
    written with ``save_weights`` (new checksums) and cards that keep their calibration and record
    the fine-tuning. Returns the classifier version of the folder."""
    base_dir = Path(base_dir or WEIGHTS_DIR)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in base_dir.iterdir():
        if path.is_file() and path.suffix in (".pt", ".json"):
            shutil.copy2(path, out_dir / path.name)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for head in tuned.heads:
        bundle = load_weights(head.name, base_dir)
        state = dict(bundle.state_dict)
        state[f"{HEAD}.weight"] = torch.from_numpy(np.asarray(head.weight, np.float32))
        state[f"{HEAD}.bias"] = torch.from_numpy(np.asarray(head.bias, np.float32))
        card = {k: v for k, v in bundle.card.items() if k not in ("file", "sha256", "bytes")}
        card["fine_tuning"] = {**training, "from": bundle.version, "at": stamp,
                               "method": "final linear layer refitted on penultimate features"}
        save_weights(head.name, state, card, out_dir)
    return read_classifier(out_dir).version
