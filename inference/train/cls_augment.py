"""The seed paper's augmentations, batched on the training device.

Flip, Transpose, RandomRotate90, ShiftScaleRotate, OpticalDistortion and GridDistortion
are composed into one sampling grid; MotionBlur, MedianBlur and Blur, brightness,
contrast and Gaussian noise follow. Empty areas are filled with white, the crops'
background. Hue and saturation are never changed: they are the label.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rand(n, gen, device, lo=0.0, hi=1.0):
    return (torch.rand(n, generator=gen) * (hi - lo) + lo).to(device)


def _chance(n, p, gen, device):
    return (torch.rand(n, generator=gen) < p).to(device)


def _geometry(n: int, size: int, gen, device) -> torch.Tensor:
    base = F.affine_grid(torch.eye(2, 3, device=device).expand(n, 2, 3), (n, 1, size, size),
                         align_corners=False)
    x, y = base[..., 0], base[..., 1]
    # flips, transpose, rot90 (the dihedral group of the square)
    flip_x = torch.where(_chance(n, 0.5, gen, device), -1.0, 1.0).view(n, 1, 1)
    flip_y = torch.where(_chance(n, 0.25, gen, device), -1.0, 1.0).view(n, 1, 1)
    x, y = x * flip_x, y * flip_y
    swap = _chance(n, 0.25, gen, device).view(n, 1, 1)
    x, y = torch.where(swap, y, x), torch.where(swap, x, y)
    # shift-scale-rotate
    ssr = _chance(n, 0.6, gen, device).view(n, 1, 1)
    angle = _rand(n, gen, device, -math.pi / 6, math.pi / 6).view(n, 1, 1)
    scale = _rand(n, gen, device, 0.85, 1.15).view(n, 1, 1)
    tx = _rand(n, gen, device, -0.08, 0.08).view(n, 1, 1)
    ty = _rand(n, gen, device, -0.08, 0.08).view(n, 1, 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    xs = (cos * x - sin * y) / scale + tx
    ys = (sin * x + cos * y) / scale + ty
    x, y = torch.where(ssr, xs, x), torch.where(ssr, ys, y)
    # optical (barrel / pincushion) distortion
    optical = _chance(n, 0.2, gen, device).view(n, 1, 1)
    k = _rand(n, gen, device, -0.15, 0.15).view(n, 1, 1)
    r2 = x * x + y * y
    x, y = torch.where(optical, x * (1 + k * r2), x), torch.where(optical, y * (1 + k * r2), y)
    # grid distortion: smooth random displacement field from a 5x5 control grid
    grid_d = _chance(n, 0.2, gen, device).view(n, 1, 1, 1)
    control = (torch.rand(n, 2, 5, 5, generator=gen).to(device) - 0.5) * 0.12
    field = F.interpolate(control, size=(size, size), mode="bicubic", align_corners=True)
    field = field.permute(0, 2, 3, 1) * grid_d
    return torch.stack([x, y], -1) + field


def _blur(img: torch.Tensor, gen) -> torch.Tensor:
    n, device = img.shape[0], img.device
    choice = torch.randint(0, 4, (n,), generator=gen).to(device).view(n, 1, 1, 1)
    box = F.avg_pool2d(img, 5, 1, 2, count_include_pad=False)
    kernel = torch.zeros(3, 1, 7, 7, device=device)
    kernel[:, 0, 3, :] = 1 / 7  # horizontal motion
    motion = F.conv2d(F.pad(img, (3, 3, 3, 3), mode="replicate"), kernel, groups=3)
    patches = F.unfold(F.pad(img, (1, 1, 1, 1), mode="replicate"), 3)
    median = patches.view(n, 3, 9, -1).median(2).values.view_as(img)
    out = torch.where(choice == 1, box, img)
    out = torch.where(choice == 2, motion, out)
    return torch.where(choice == 3, median, out)


def augment_classifier_batch(crops: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """uint8 crops N x 3 x S x S -> augmented float images in 0..1."""
    n, size, device = crops.shape[0], crops.shape[-1], crops.device
    img = crops.float() / 255
    grid = _geometry(n, size, gen, device)
    img = 1 - F.grid_sample(1 - img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    blurred = _chance(n, 0.25, gen, device).view(n, 1, 1, 1)
    img = torch.where(blurred, _blur(img, gen), img)
    brightness = _rand(n, gen, device, -0.06, 0.06).view(n, 1, 1, 1)
    contrast = _rand(n, gen, device, 0.9, 1.1).view(n, 1, 1, 1)
    img = (img - 0.5) * contrast + 0.5 + brightness
    sigma = _rand(n, gen, device, 0.005, 0.025).view(n, 1, 1, 1) * _chance(n, 0.25, gen, device).view(n, 1, 1, 1)
    noise = torch.randn(img.shape, generator=gen).to(device) if device.type == "cpu" else \
        torch.randn(img.shape, device=device)
    return (img + sigma * noise).clamp(0, 1)
