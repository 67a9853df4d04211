"""Batched segmentation augmentation on the training device.

Geometry (scale, aspect, rotation, shift, flip), plain-background compositing so that
studio product shots are in-distribution, garment-only composites (a garment without
its wearer), per-garment hue rotation (garments come in every colour, skin does not),
global colour jitter, blur and noise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * (hi - lo) + lo).to(device)


def _affine(n: int, gen: torch.Generator, device) -> torch.Tensor:
    zoom = torch.exp(_uniform(n, math.log(0.45), math.log(1.35), gen, device))
    aspect = torch.exp(_uniform(n, -0.12, 0.12, gen, device))
    angle = _uniform(n, -0.17, 0.17, gen, device)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(device)
    zx, zy = zoom * aspect * flip, zoom / aspect
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 1] = zx * cos, -zy * sin
    theta[:, 1, 0], theta[:, 1, 1] = zx * sin, zy * cos
    theta[:, 0, 2] = _uniform(n, -0.3, 0.3, gen, device)
    theta[:, 1, 2] = _uniform(n, -0.25, 0.25, gen, device)
    return theta


def _plain_backgrounds(n: int, hw: tuple[int, int], gen: torch.Generator, device) -> torch.Tensor:
    white = torch.rand(n, generator=gen) < 0.6
    base = torch.rand(n, 3, generator=gen)
    grey = torch.rand(n, 1, generator=gen).expand(n, 3)
    base = torch.where(white[:, None], 0.88 + 0.12 * grey + 0.02 * (base - 0.5),
                       0.5 * base + 0.5 * grey)
    base = base.to(device).view(n, 3, 1, 1)
    ramp = torch.linspace(-1, 1, hw[0], device=device).view(1, 1, hw[0], 1)
    slope = _uniform(n, -0.06, 0.06, gen, device).view(n, 1, 1, 1)
    return (base + slope * ramp).clamp(0, 1).expand(n, 3, *hw)


def _rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    m = x.new_tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    return torch.einsum("ij,njhw->nihw", m, x)


def _yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    m = x.new_tensor([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
    return torch.einsum("ij,njhw->nihw", m, x)


def _hue_sat(x: torch.Tensor, angle: torch.Tensor, sat: torch.Tensor) -> torch.Tensor:
    yiq = _rgb_to_yiq(x)
    cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    s = sat.view(-1, 1, 1)
    rotated = torch.stack([yiq[:, 0], s * (i * cos - q * sin), s * (i * sin + q * cos)], 1)
    return _yiq_to_rgb(rotated).clamp(0, 1)


def _garment_only(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """For each sample, one garment class present in it (0 where none)."""
    present = torch.stack([(labels == c).flatten(1).any(1) for c in (1, 2, 3)], 1).float().cpu()
    scores = torch.rand(present.shape, generator=gen) * present
    choice = scores.argmax(1) + 1
    return torch.where(present.any(1), choice, torch.zeros_like(choice)).to(labels.device)


def augment_segmentation_batch(images: torch.Tensor, labels: torch.Tensor, person: torch.Tensor,
                               out_hw: tuple[int, int], gen: torch.Generator
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images N x 3 x H x W and masks -> float images in 0..1 and long labels at ``out_hw``."""
    n, device = images.shape[0], images.device
    grid = F.affine_grid(_affine(n, gen, device), (n, 3, *out_hw), align_corners=False)
    img = F.grid_sample(images.float() / 255, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    extra = torch.stack([labels.float(), person.float(), torch.ones_like(labels, dtype=torch.float)], 1)
    extra = F.grid_sample(extra, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    lab, pers, valid = extra[:, 0].long(), extra[:, 1] > 0.5, extra[:, 2] > 0.5

    # garment colours: rotate hue / change saturation of garment pixels only
    garment = (lab > 0).unsqueeze(1)
    angle = _uniform(n, -math.pi, math.pi, gen, device) * (torch.rand(n, generator=gen) < 0.7).to(device)
    recoloured = _hue_sat(img, angle, _uniform(n, 0.5, 1.5, gen, device))
    img = torch.where(garment, recoloured, img)

    # backgrounds: keep the street scene, paste on plain studio colour, or garment only
    mode = torch.rand(n, generator=gen).to(device)
    keep_garment = _garment_only(lab, gen)
    only = (mode >= 0.85) & (keep_garment > 0)
    plain = (mode >= 0.35) & ~only
    bg = _plain_backgrounds(n, out_hw, gen, device)
    replace = (~valid) | (plain.view(-1, 1, 1) & ~pers) | (only.view(-1, 1, 1) & (lab != keep_garment.view(-1, 1, 1)))
    img = torch.where(replace.unsqueeze(1), bg, img)
    lab = torch.where(only.view(-1, 1, 1) & (lab != keep_garment.view(-1, 1, 1)), 0, lab)
    lab = torch.where(valid, lab, 0)

    # global photometric jitter
    img = _hue_sat(img, _uniform(n, -0.08, 0.08, gen, device), _uniform(n, 0.8, 1.2, gen, device))
    brightness = _uniform(n, 0.8, 1.2, gen, device).view(-1, 1, 1, 1)
    contrast = _uniform(n, 0.8, 1.2, gen, device).view(-1, 1, 1, 1)
    mean = img.mean(dim=(1, 2, 3), keepdim=True)
    img = ((img - mean) * contrast + mean) * brightness
    grey = (torch.rand(n, generator=gen) < 0.05).to(device).view(-1, 1, 1, 1)
    img = torch.where(grey, img.mean(1, keepdim=True).expand_as(img), img)
    blur = (torch.rand(n, generator=gen) < 0.15).to(device).view(-1, 1, 1, 1)
    img = torch.where(blur, F.avg_pool2d(img, 3, 1, 1, count_include_pad=False), img)
    noisy = (torch.rand(n, generator=gen) < 0.3).to(device).view(-1, 1, 1, 1)
    sigma = _uniform(n, 0, 0.03, gen, device).view(-1, 1, 1, 1) * noisy
    noise = torch.randn(img.shape, generator=gen).to(device) if device.type == "cpu" else \
        torch.randn(img.shape, device=device)
    img = (img + sigma * noise).clamp(0, 1)
    return img, lab
