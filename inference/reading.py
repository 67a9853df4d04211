"""Reading the garment of a segmented image: which region, its dominant colours, the classifier's crop.

This is the pipeline's per-image CPU step after the segmenter. It runs in the pipeline's thread pool;
on a GPU host it runs in a pool of processes (``ReadingPool``), so that many CPU cores read garments
while the GPU segments and classifies, without sharing one interpreter lock with the thread that
feeds the GPU. The module imports no torch: a reading process stays small.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .colors import ColorNamer, ColorVocabulary, DominantColor, dominant_colors
from .garment import garment_view, whole_image_view
from .segment.base import Segmentation
from .segment.regions import RegionTable


@dataclass(frozen=True)
class ReadingSetup:
    """Everything a reading depends on besides the image (sent once to each reading process)."""

    vocabulary: ColorVocabulary
    region_table: RegionTable
    crop_size: int
    dominant_k: int
    min_garment_fraction: float
    keep_masks: bool
    whole_view: bool = False  # also the whole image, square-padded: the classifier's context view


@dataclass
class GarmentReading:
    region: str | None
    garment_fraction: float
    flags: tuple[str, ...]
    dominant_colors: list[DominantColor]
    error: str | None = None
    crop: np.ndarray | None = None  # the classifier's view, when the garment is usable
    whole: np.ndarray | None = None  # the whole image's view (``whole_view``), when the garment is usable
    mask: np.ndarray | None = None  # garment classes at the working size (keep_masks)
    garment_mask: np.ndarray | None = None  # the pixels whose colour was read (keep_masks)


def read_garment(setup: ReadingSetup, namer: ColorNamer, rgb: np.ndarray, seg: Segmentation,
                 category: str | None) -> GarmentReading:
    """Select the advertised garment, read its dominant colours and cut the classifier's crop."""
    view = garment_view(rgb, seg, category, setup.region_table, setup.crop_size)
    sel = view.selection
    reading = GarmentReading(sel.region, round(sel.fraction, 4), tuple(dict.fromkeys(seg.flags + sel.flags)), [])
    if setup.keep_masks:
        reading.mask, reading.garment_mask = seg.labels, sel.mask
    if view.crop is None:
        reading.error = "no garment found in the image"
        return reading
    if sel.fraction < setup.min_garment_fraction:
        reading.flags += ("tiny_garment",)
        reading.error = f"garment region too small to read its colour ({sel.fraction:.1%} of the image)"
        return reading
    reading.dominant_colors = dominant_colors(rgb[core(sel.mask)], namer, k=setup.dominant_k)
    reading.crop = view.crop
    if setup.whole_view:
        reading.whole = whole_image_view(rgb, setup.crop_size)
    return reading


def core(mask: np.ndarray) -> np.ndarray:
    """The mask without its one-pixel rim (edge pixels mix garment and background)."""
    eroded = ndimage.binary_erosion(mask, iterations=1)
    return eroded if eroded.sum() >= 0.5 * mask.sum() else mask


#: reading processes on a GPU host; 0 on a CPU (the networks already use every core there)
def default_processes(device: str) -> int:
    configured = os.environ.get("COLORREVIEW_READING_PROCESSES")
    if configured is not None:
        return max(0, int(configured))
    return max(0, min(16, (os.cpu_count() or 1) - 2)) if device == "cuda" else 0


_child: tuple[ReadingSetup, ColorNamer] | None = None


def _start_child(setup: ReadingSetup) -> None:
    global _child
    _child = (setup, ColorNamer(setup.vocabulary))


def _read_in_child(jobs: list[tuple[np.ndarray, Segmentation, str | None]]) -> list[GarmentReading]:
    setup, namer = _child
    return [read_garment(setup, namer, *job) for job in jobs]


class ReadingPool:
    """Processes that read garments. They are started by a fork server (clean processes: never a fork of
    a process that holds a CUDA context) and keep the setup they were started with."""

    def __init__(self, setup: ReadingSetup, processes: int) -> None:
        self.setup = setup
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._pid = None

    def submit(self, jobs: list[tuple[np.ndarray, Segmentation, str | None]]) -> list[tuple[range, Future]]:
        """Read ``(rgb, segmentation, category)`` jobs, shared out in one part per process (a task per
        image would spend more on the hand-over than on the reading): each part's positions in ``jobs``
        and the future of its readings, in order."""
        if self._executor is None or self._pid != os.getpid():
            self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("forkserver"),
                                                 initializer=_start_child, initargs=(self.setup,))
            self._pid = os.getpid()
        step = -(-len(jobs) // self.processes)
        parts = [range(i, min(i + step, len(jobs))) for i in range(0, len(jobs), step)]
        return [(part, self._executor.submit(_read_in_child, jobs[part.start:part.stop])) for part in parts]

    def close(self) -> None:
        if self._executor is not None and self._pid == os.getpid():
            self._executor.shutdown(cancel_futures=True)
        self._executor = None
