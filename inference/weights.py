"""Shipped weights: a state dict file plus a JSON model card that travels with it.

The card holds the preprocessing configuration (input size, mean, std, labels), the
training provenance and the weights file's SHA-256, which is verified on load.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import WeightsError

WEIGHTS_DIR = Path(os.environ.get("COLORREVIEW_WEIGHTS_DIR", Path(__file__).resolve().parent / "weights"))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class WeightsBundle:
    """A loaded state dict with its card."""

    name: str
    state_dict: dict[str, torch.Tensor]
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return f"{self.name}-{self.card['sha256'][:8]}"


def card_path(name: str, directory: str | Path | None = None) -> Path:
    return Path(directory or WEIGHTS_DIR) / f"{name}.json"


def load_card(name: str, directory: str | Path | None = None) -> dict[str, Any]:
    path = card_path(name, directory)
    if not path.is_file():
        raise WeightsError(f"model card {path} is missing; the weights '{name}' are not installed")
    return json.loads(path.read_text())


def load_weights(name: str, directory: str | Path | None = None) -> WeightsBundle:
    """Load ``<name>.pt`` and ``<name>.json`` from ``directory``, verifying the checksum."""
    card = load_card(name, directory)
    path = Path(directory or WEIGHTS_DIR) / card.get("file", f"{name}.pt")
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing (named by its model card)")
    actual = sha256_file(path)
    if actual != card.get("sha256"):
        raise WeightsError(
            f"weights file {path.name} does not match its model card: SHA-256 is {actual[:12]}..., "
            f"the card expects {str(card.get('sha256'))[:12]}...; the file is damaged or was "
            "replaced without its card (re-run the training command or restore the file)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return WeightsBundle(name, state, card)


def save_weights(name: str, state_dict: dict[str, torch.Tensor], card: dict[str, Any],
                 directory: str | Path, half: bool = True) -> Path:
    """Write ``<name>.pt`` (float16 by default) and its card with the file's SHA-256."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pt"
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in state_dict.items()}
    torch.save(tensors, path)
    card = {**card, "file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}
    card_path(name, directory).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path
