"""Fixed batch shapes on a GPU: padding every forward to one size changes no prediction."""

from __future__ import annotations

import numpy as np
import torch

from inference.classify.model import TimmColorClassifier
from inference.imageio import load_image
from inference.segment import get_segmenter
from inference.shapes import bucket, padded_forward
from tests.conftest import DEMO


def test_padded_forward_returns_the_rows_it_was_given():
    model = torch.nn.Conv2d(3, 4, 3, padding=1).eval()
    x = torch.randn(5, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        padded = padded_forward(model, x, 16)
        plain = model(x)
    assert padded.shape == plain.shape == (5, 4, 8, 8)
    torch.testing.assert_close(padded, plain)
    assert padded_forward(model, x, None).shape[0] == 5 and padded_forward(model, x, 3).shape[0] == 5


def test_forwards_are_padded_to_a_few_sizes():
    assert [bucket(n, 32) for n in (1, 2, 3, 5, 8, 9, 31, 32, 40)] == [1, 2, 4, 8, 8, 16, 32, 32, 32]
    calls = []
    padded_forward(lambda x: calls.append(x.shape[0]) or x, torch.zeros(5, 3), 32)
    assert calls == [8]


def _photos(n: int) -> list[np.ndarray]:
    return [load_image(p).rgb for p in sorted((DEMO / "images").glob("*.jpg"))[:n]]


def test_the_segmenter_gives_the_same_masks_with_padded_chunks():
    photos = _photos(5)
    plain = get_segmenter("effunet", fixed_batch=False, chunk=8).segment_batch(photos)
    padded = get_segmenter("effunet", fixed_batch=True, chunk=8).segment_batch(photos)  # 5 images padded to 8
    for a, b in zip(plain, padded):
        assert (a.labels != b.labels).mean() < 0.001


def test_the_classifier_gives_the_same_probabilities_with_padded_batches():
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (224, 224, 3), dtype=np.uint8) for _ in range(5)]
    views = {"garment": crops, "image": crops}
    plain = TimmColorClassifier(batch_size=8, fixed_batch=False).member_probabilities(views)
    padded = TimmColorClassifier(batch_size=8, fixed_batch=True).member_probabilities(views)  # 5 padded to 8
    assert len(plain) == len(padded) >= 2
    for a, b in zip(plain, padded):
        assert a.shape == (5, len(TimmColorClassifier(batch_size=4).classes))
        np.testing.assert_allclose(a, b, atol=1e-4)
