"""Fixed batch shapes for the networks on a GPU.

With cuDNN's autotuning on, every new input shape is timed against every algorithm first. A run of
batches whose usable images vary in number (an unreadable photo, a product with no garment) meets a
new shape at nearly every batch: on one H200 the classifier then spent 12 ms an image instead of 1.2.
Padding each forward to the next power of two (at most the network's batch size) keeps to a handful of
shapes, each tuned once; the padded rows are zeros and their outputs are dropped (inference is per image,
so the others do not change).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def bucket(n: int, largest: int) -> int:
    """The padded size of a forward of ``n`` rows: the next power of two, at most ``largest`` (so a run meets
    a handful of shapes, each tuned once, and a single image costs one row, not ``largest``)."""
    return min(largest, 1 << max(0, n - 1).bit_length())


def padded_forward(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                   largest: int | None) -> torch.Tensor:
    """``forward(x)``, with ``x`` padded with zero rows to its bucket (see ``bucket``) when ``largest`` is given."""
    n = x.shape[0]
    size = bucket(n, largest) if largest else n
    if n >= size:
        return forward(x)
    pad = x.new_zeros((size - n, *x.shape[1:])).contiguous(memory_format=_format(x))
    return forward(torch.cat([x, pad]).contiguous(memory_format=_format(x)))[:n]


def _format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        else torch.contiguous_format


def use_tuned_kernels(device: torch.device | str) -> bool:
    """On a GPU, let cuDNN time its algorithms once per shape (the shapes are fixed: see above)."""
    if torch.device(device).type != "cuda":
        return False
    torch.backends.cudnn.benchmark = True
    return True
