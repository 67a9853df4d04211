"""Colour classifiers: the fine-tuned timm network and the KD-tree baseline."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..colors import ColorNamer, ColorVocabulary, default_vocabulary, dominant_colors
from ..errors import WeightsError
from ..fold import fold_batchnorm
from ..runtime import OnnxNetwork, cpu_forward, cpu_runtime
from ..shapes import padded_forward, use_tuned_kernels
from ..weights import load_weights
from .backbones import create_backbone

DEFAULT_WEIGHTS = "colornet"


#: Views of a product image a classifier may read: the segmented garment on white (the
#: seed paper's input) and the whole image, square-padded on white.
VIEWS = ("garment", "image")


class ColorClassifier:
    """Base: maps views of products (size x size x 3 uint8 crops) to class probabilities."""

    name = "classifier"
    version = "0"
    classes: list[str]
    views: tuple[str, ...] = ("garment",)

    def predict_proba(self, views: dict[str, list[np.ndarray]]) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "views": list(self.views)}


@dataclass
class _Member:
    name: str
    version: str
    view: str
    weight: float
    model: torch.nn.Module
    input_size: int
    mean: torch.Tensor
    std: torch.Tensor
    logits: Callable[[torch.Tensor], torch.Tensor]  # the network's forward: PyTorch, or ONNX Runtime on a CPU


class TimmColorClassifier(ColorClassifier):
    """Fine-tuned timm networks; preprocessing comes from each one's model card.

    The main weights may list further members in their card (``ensemble``: weights name,
    view, weight), e.g. a network reading the whole image beside the one reading the
    garment; their probabilities are averaged, then calibrated by the card's temperature and, where the card
    has one, a bias per colour (``calibration.class_bias``).
    """

    name = "timm"

    def __init__(self, weights: str = DEFAULT_WEIGHTS, weights_dir: str | None = None,
                 device: str | None = None, batch_size: int | None = None, fixed_batch: bool | None = None,
                 runtime: str | None = None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # on a CPU, ONNX Runtime unless asked otherwise (``runtime`` or COLORREVIEW_CPU_RUNTIME)
        self.runtime = cpu_runtime(runtime) if self.device.type == "cpu" else "torch"
        # on a GPU: large forwards, each padded to a power of two (a few tuned shapes per member)
        self.fixed_batch = use_tuned_kernels(self.device) if fixed_batch is None else fixed_batch
        main = load_weights(weights, weights_dir)
        self.card = main.card
        self.classes = list(self.card["classes"])
        self.members = [self._member(main, self.card.get("view", "garment"), 1.0)]
        for extra in self.card.get("ensemble", []):
            bundle = load_weights(extra["weights"], weights_dir)
            if list(bundle.card["classes"]) != self.classes:
                raise WeightsError(f"ensemble member {extra['weights']} has other classes than {weights}")
            self.members.append(self._member(bundle, extra.get("view", bundle.card.get("view", "garment")),
                                             float(extra.get("weight", 1.0))))
        self.views = tuple(dict.fromkeys(m.view for m in self.members))
        self.temperature, self.class_bias = card_calibration(self.card)
        self.input_size = self.members[0].input_size
        self.batch_size = batch_size or (128 if self.device.type == "cuda" else 8)
        self.version = classifier_version([m.version for m in self.members], self.temperature, self.class_bias)

    def _member(self, bundle, view: str, weight: float) -> _Member:
        if view not in VIEWS:
            raise WeightsError(f"unknown view {view!r} in {bundle.name}; known: {', '.join(VIEWS)}")
        card = bundle.card
        model = create_backbone(card["architecture"], len(card["classes"]), pretrained=False)
        model.load_state_dict(bundle.state_dict)
        model.eval()
        fold_batchnorm(model)
        model.to(self.device, memory_format=torch.channels_last)
        size = int(card["input_size"])
        logits = cpu_forward(model, bundle.version, (size, size)) if self.runtime == "onnx" else model
        return _Member(bundle.name, bundle.version, view, weight, model, size,
                       torch.tensor(card["mean"], device=self.device).view(1, 3, 1, 1),
                       torch.tensor(card["std"], device=self.device).view(1, 3, 1, 1), logits)

    def _tensor(self, member: _Member, crops: torch.Tensor) -> torch.Tensor:
        """``crops`` (N x H x W x 3 uint8, on the device) as the member's normalised input."""
        x = crops.permute(0, 3, 1, 2).float() / 255
        if x.shape[-1] != member.input_size:
            x = torch.nn.functional.interpolate(x, size=(member.input_size,) * 2, mode="bilinear",
                                                antialias=True, align_corners=False)
        return ((x - member.mean) / member.std).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def _per_member(self, views: dict[str, list[np.ndarray]], forward, width) -> list[torch.Tensor]:
        """``forward(member, batch)`` over each member's view in batches, concatenated; in card order."""
        out, size = [], self.batch_size if self.fixed_batch else None
        # each view travels to the device once, whatever the number of members that read it
        stacked = {view: torch.from_numpy(np.stack(views[view])).to(self.device) if len(views[view]) else []
                   for view in self.views}
        for m in self.members:
            crops = stacked[m.view]
            parts = [padded_forward(lambda x, member=m: forward(member, x),
                                    self._tensor(m, crops[i:i + self.batch_size]), size).float().cpu()
                     for i in range(0, len(crops), self.batch_size)]
            out.append(torch.cat(parts) if parts else torch.zeros((0, width(m.model))))
        return out

    def member_probabilities(self, views: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
        """Uncalibrated softmax of every member, in card order."""
        logits = self._per_member(views, lambda member, x: member.logits(x), lambda model: len(self.classes))
        return [torch.softmax(x, 1).numpy() for x in logits]

    def member_features(self, views: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
        """Every member's pooled embedding (the input of its class head), in card order."""
        return [x.numpy() for x in self._per_member(
            views, lambda member, x: member.model.forward_head(member.model.forward_features(x), pre_logits=True),
            lambda model: model.num_features)]

    def combine(self, member_probs: list[np.ndarray], temperature: float | None = None) -> np.ndarray:
        weights = np.array([m.weight for m in self.members], dtype=float)
        mixed = sum(w * p for w, p in zip(weights / weights.sum(), member_probs))
        return calibrate(mixed, self.temperature if temperature is None else temperature, self.class_bias)

    def predict_proba(self, views: dict[str, list[np.ndarray]]) -> np.ndarray:
        return self.combine(self.member_probabilities(views))

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "temperature": self.temperature, "runtime": self.runtime,
                "members": [{"weights": m.name, "version": m.version, "view": m.view, "weight": m.weight,
                             "runtime": "onnx" if isinstance(m.logits, OnnxNetwork) else "torch"}
                            for m in self.members]}


def calibrate(probs: np.ndarray, temperature: float, bias: np.ndarray | None = None) -> np.ndarray:
    """Temperature scaling of probabilities, p^(1/T), then a bias per class (``exp(bias)`` times), renormalised."""
    logp = np.log(np.clip(probs, 1e-12, 1)) / temperature
    if bias is not None:
        logp = logp + bias
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


def class_bias(calibration: dict, classes: Sequence[str]) -> np.ndarray | None:
    """A card's bias per colour, in ``classes`` order (None when it has none)."""
    bias = calibration.get("class_bias") or {}
    return np.array([float(bias.get(c, 0.0)) for c in classes]) if bias else None


def card_calibration(card: dict) -> tuple[float, np.ndarray | None]:
    """A classifier card's temperature and bias per colour (None when it has none)."""
    calibration = card.get("calibration", {})
    return float(calibration.get("temperature", 1.0)), class_bias(calibration, card["classes"])


def classifier_version(member_versions: Sequence[str], temperature: float, bias: np.ndarray | None) -> str:
    """The version of a calibrated ensemble: its members', its temperature and, if any, its class biases."""
    version = "+".join(member_versions) + f"-t{temperature:.3f}"
    if bias is not None and np.any(bias):
        digest = hashlib.sha1(",".join(f"{b:.4f}" for b in bias).encode()).hexdigest()[:6]
        version += f"-b{digest}"
    return version


class KDTreeColorClassifier(ColorClassifier):
    """The paper's first approach as a classifier: shares of KD-tree-named dominant colours.

    The garment's pixels (non-white pixels of the crop) are clustered and named; the
    probability of a colour is its share of the garment, lightly smoothed.
    """

    name = "kdtree"
    version = "kd1"

    def __init__(self, vocabulary: ColorVocabulary | None = None, smoothing: float = 0.02) -> None:
        self.vocabulary = vocabulary or default_vocabulary()
        self.namer = ColorNamer(self.vocabulary)
        self.classes = [e.name for e in self.vocabulary.entries if e.kd]
        self.index = {c: i for i, c in enumerate(self.classes)}
        self.smoothing = smoothing

    def predict_proba(self, views: dict[str, list[np.ndarray]]) -> np.ndarray:
        crops = views["garment"]
        out = np.full((len(crops), len(self.classes)), self.smoothing / max(1, len(self.classes)))
        for row, crop in enumerate(crops):
            pixels = crop.reshape(-1, 3)
            garment = pixels[(pixels < 250).any(axis=1)]
            for dom in dominant_colors(garment if len(garment) else pixels, self.namer):
                out[row, self.index[dom.color]] += dom.fraction * (1 - self.smoothing)
        return out / out.sum(axis=1, keepdims=True)
