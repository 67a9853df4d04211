"""The learned garment segmenters: U2-Net, or the pretrained-encoder U-Net, with weights trained by
this project; the card beside the weights says which network they belong to."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..shapes import padded_forward, use_tuned_kernels
from ..weights import WeightsBundle, load_weights
from .base import Segmentation, Segmenter
from .effunet import EffUNet
from .u2net import U2Net

DEFAULT_WEIGHTS = "u2netp_garment"


def build_model(card: dict) -> U2Net | EffUNet:
    classes = len(card.get("classes", range(4)))
    if str(card.get("architecture", "")).startswith("EffUNet"):
        return EffUNet(card["encoder"], classes)
    return U2Net(card.get("width", "small"), num_classes=classes)


class U2NetSegmenter(Segmenter):
    """Runs U2-Net at the card's input size and returns masks at the image's size."""

    name = "u2net"
    default_weights = DEFAULT_WEIGHTS

    def __init__(self, weights: str | None = None, weights_dir: str | None = None,
                 device: str | None = None, chunk: int | None = None, min_fraction: float = 0.002,
                 fixed_batch: bool | None = None) -> None:
        bundle: WeightsBundle = load_weights(weights or self.default_weights, weights_dir)
        self.card = bundle.card
        self.version = bundle.version
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = build_model(self.card)
        self.model.load_state_dict(bundle.state_dict)
        self.model.eval().fuse_for_inference().to(self.device, memory_format=torch.channels_last)
        self.input_hw = tuple(self.card["input_size"])  # (height, width)
        self.mean = torch.tensor(self.card["mean"], device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.card["std"], device=self.device).view(1, 3, 1, 1)
        self.chunk = chunk or (32 if self.device.type == "cuda" else 4)
        # on a GPU every forward is padded to a power of two up to `chunk`: a few shapes, each tuned once
        self.fixed_batch = use_tuned_kernels(self.device) if fixed_batch is None else fixed_batch
        self.min_fraction = min_fraction

    def _prepare(self, images: list[np.ndarray]) -> torch.Tensor:
        """The network's input for ``images``, in their order: images of one size travel to the device
        and are resized together (one copy and one resize per size, not per image)."""
        out: list[torch.Tensor | None] = [None] * len(images)
        for members in _by_size(images).values():
            x = torch.from_numpy(np.stack([images[i] for i in members])).to(self.device)
            x = x.permute(0, 3, 1, 2).float() / 255.0
            x = F.interpolate(x, size=self.input_hw, mode="bilinear", align_corners=False, antialias=True)
            for i, one in zip(members, (x - self.mean) / self.std):
                out[i] = one
        return torch.stack(out)

    @torch.inference_mode()
    def logits_batch(self, images: list[np.ndarray]) -> torch.Tensor:
        """Logits at the model's input size, N x classes x H x W."""
        outs = []
        for start in range(0, len(images), self.chunk):
            x = self._prepare(images[start:start + self.chunk]).contiguous(memory_format=torch.channels_last)
            outs.append(padded_forward(self.model, x, self.chunk if self.fixed_batch else None).float())
        return torch.cat(outs)

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]:
        if not images:
            return []
        logits = self.logits_batch(images)
        # images of one size are brought back to it together: one resize, one argmax, one copy off the device
        labels: list[np.ndarray | None] = [None] * len(images)
        with torch.inference_mode():
            for size, members in _by_size(images).items():
                for start in range(0, len(members), self.chunk):
                    part = members[start:start + self.chunk]
                    up = F.interpolate(logits[part], size=size, mode="bilinear", align_corners=False)
                    for i, lab in zip(part, up.argmax(1).to(torch.uint8).cpu().numpy()):
                        labels[i] = lab
        return [Segmentation(lab, self.name, () if (lab > 0).mean() >= self.min_fraction else ("empty",))
                for lab in labels]

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "width": self.card.get("width"),
                "input_size": list(self.input_hw)}


class EffUNetSegmenter(U2NetSegmenter):
    """The U-Net decoder over the ImageNet-pretrained EfficientNet-Lite0 encoder."""

    name = "effunet"
    default_weights = "effunet_garment"


def _by_size(images: list[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    """Indices of the images by (height, width), in input order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, rgb in enumerate(images):
        groups.setdefault(rgb.shape[:2], []).append(i)
    return groups
