"""Fold batch norms into the convolutions before them, for inference.

In eval mode a batch norm is a per-channel affine map, so it can be merged into the preceding
convolution's weight and bias; the network then skips one pass over every activation map. The
outputs stay the same up to float rounding. Training afterwards is not possible.

timm's EfficientNets pair each convolution with a ``BatchNormAct2d`` (batch norm, then its
activation) under fixed attribute names, as U2-Net's REBNCONV unit does with a plain norm; each such
norm becomes its activation alone (or nothing). In an ``nn.Sequential`` a convolution directly
followed by a ``BatchNorm2d`` is folded too.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

# (convolution, the norm right after it) per module class, as their forward calls them: timm's
# EfficientNet blocks and U2-Net's REBNCONV unit
PAIRS = {
    "EfficientNet": (("conv_stem", "bn1"), ("conv_head", "bn2")),
    "EfficientNetFeatures": (("conv_stem", "bn1"),),
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
    "EdgeResidual": (("conv_exp", "bn1"), ("conv_pwl", "bn2")),
    "ConvBNReLU": (("conv", "bn"),),
}


def _after_norm(bn: nn.BatchNorm2d) -> nn.Module:
    """What remains of a norm once its affine map is folded away: timm's activation (and drop), or nothing."""
    rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None))
            if m is not None and not isinstance(m, nn.Identity)]
    return rest[0] if len(rest) == 1 else nn.Sequential(*rest) if rest else nn.Identity()


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold, in place, every batch norm that directly follows a convolution; returns how many.

    Needs eval mode (frozen statistics)."""
    if model.training:
        raise RuntimeError("fold_batchnorm needs eval mode: batch norm statistics must be frozen")
    folded = 0
    for module in list(model.modules()):
        for conv_name, bn_name in PAIRS.get(type(module).__name__, ()):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if _foldable(conv, bn):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, _after_norm(bn))
                folded += 1
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in zip(names, names[1:]):
                conv, bn = module._modules[first], module._modules[second]
                if _foldable(conv, bn) and type(bn) is nn.BatchNorm2d:
                    module._modules[first] = fuse_conv_bn_eval(conv, bn)
                    module._modules[second] = nn.Identity()
                    folded += 1
    return folded
