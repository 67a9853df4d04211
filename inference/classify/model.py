"""Colour classifiers: the fine-tuned timm network and the KD-tree baseline."""

from __future__ import annotations

import numpy as np
import torch

from ..colors import ColorNamer, ColorVocabulary, default_vocabulary, dominant_colors
from ..weights import load_weights
from .backbones import create_backbone

DEFAULT_WEIGHTS = "colornet"


class ColorClassifier:
    """Base: maps garment crops (size x size x 3 uint8 on white) to class probabilities."""

    name = "classifier"
    version = "0"
    classes: list[str]

    def predict_proba(self, crops: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version}


class TimmColorClassifier(ColorClassifier):
    """A timm network fine-tuned on catalogue colours; preprocessing comes from its card."""

    name = "timm"

    def __init__(self, weights: str = DEFAULT_WEIGHTS, weights_dir: str | None = None,
                 device: str | None = None, batch_size: int = 32) -> None:
        bundle = load_weights(weights, weights_dir)
        self.card = bundle.card
        self.version = bundle.version
        self.classes = list(self.card["classes"])
        self.input_size = int(self.card["input_size"])
        self.temperature = float(self.card.get("calibration", {}).get("temperature", 1.0))
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = create_backbone(self.card["architecture"], len(self.classes), pretrained=False)
        self.model.load_state_dict(bundle.state_dict)
        self.model.eval().to(self.device, memory_format=torch.channels_last)
        self.mean = torch.tensor(self.card["mean"], device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.card["std"], device=self.device).view(1, 3, 1, 1)
        self.batch_size = batch_size

    def _tensor(self, crops: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255
        if x.shape[-1] != self.input_size:
            x = torch.nn.functional.interpolate(x, size=(self.input_size,) * 2, mode="bilinear",
                                                antialias=True, align_corners=False)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(self, crops: list[np.ndarray]) -> np.ndarray:
        outs = [self.model(self._tensor(crops[i:i + self.batch_size])).float().cpu()
                for i in range(0, len(crops), self.batch_size)]
        return torch.cat(outs).numpy() if outs else np.zeros((0, len(self.classes)))

    def predict_proba(self, crops: list[np.ndarray]) -> np.ndarray:
        logits = self.logits(crops)
        return torch.softmax(torch.from_numpy(logits) / self.temperature, dim=1).numpy()

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version,
                "architecture": self.card["architecture"], "input_size": self.input_size,
                "temperature": self.temperature}


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

    def predict_proba(self, crops: list[np.ndarray]) -> np.ndarray:
        out = np.full((len(crops), len(self.classes)), self.smoothing / max(1, len(self.classes)))
        for row, crop in enumerate(crops):
            pixels = crop.reshape(-1, 3)
            garment = pixels[(pixels < 250).any(axis=1)]
            for dom in dominant_colors(garment if len(garment) else pixels, self.namer):
                out[row, self.index[dom.color]] += dom.fraction * (1 - self.smoothing)
        return out / out.sum(axis=1, keepdims=True)
