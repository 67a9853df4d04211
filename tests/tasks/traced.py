"""A fast test pipeline for real workers: the border segmenter, slowed down so that a test can
kill a worker mid-batch, and tracing every image it reads (to tell a product read twice)."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from inference.segment import SEGMENTERS, BorderSegmenter, Segmentation

NAME = "border-traced"


class TracedSegmenter(BorderSegmenter):
    """Sleeps ``COLORREVIEW_TEST_SEGMENT_DELAY`` seconds per image and appends a digest of each image
    to ``COLORREVIEW_TEST_SEGMENT_LOG``."""

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]:
        time.sleep(float(os.environ.get("COLORREVIEW_TEST_SEGMENT_DELAY", "0")) * len(images))
        log = os.environ.get("COLORREVIEW_TEST_SEGMENT_LOG")
        if log:
            with open(log, "a") as out:
                out.write("".join(hashlib.sha1(rgb.tobytes()).hexdigest() + "\n" for rgb in images))
        return super().segment_batch(images)


if NAME not in SEGMENTERS.names():
    SEGMENTERS.register(NAME, "test only: the border segmenter, slowed down and traced")(
        lambda **kwargs: TracedSegmenter(**kwargs))
